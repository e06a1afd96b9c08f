"""The order aggregate and its lifecycle.

``TRANSITIONS`` is the one table of allowed status changes; the code (``Order.transition``) and
the docs (``dropship orders statuses``, README) are both generated from it. A business "no" is a
status with a coded reason (``OrderError``), never an exception; ``IllegalTransition`` is a bug.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum


class OrderStatus(StrEnum):
    PENDING_PAYMENT = "pending_payment"
    READY_TO_PLACE = "ready_to_place"
    PLACING = "placing"
    PLACED = "placed"
    PROCESSING = "processing"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    API_FAILED = "api_failed"

    @property
    def label(self) -> str:
        return STATUS_LABELS[self]


STATUS_LABELS: dict[OrderStatus, str] = {
    OrderStatus.PENDING_PAYMENT: "Pending Payment",
    OrderStatus.READY_TO_PLACE: "Ready to Place",
    OrderStatus.PLACING: "Placing",
    OrderStatus.PLACED: "Placed",
    OrderStatus.PROCESSING: "Processing",
    OrderStatus.SHIPPED: "Shipped",
    OrderStatus.DELIVERED: "Delivered",
    OrderStatus.CANCELLED: "Cancelled",
    OrderStatus.API_FAILED: "API Failed",
}

S = OrderStatus
# from -> allowed targets. ``None`` is "no order yet" (creation).
TRANSITIONS: dict[OrderStatus | None, frozenset[OrderStatus]] = {
    None: frozenset({S.PENDING_PAYMENT, S.READY_TO_PLACE, S.API_FAILED}),
    S.PENDING_PAYMENT: frozenset({S.READY_TO_PLACE, S.API_FAILED, S.CANCELLED}),
    S.READY_TO_PLACE: frozenset({S.PLACING, S.PLACED, S.API_FAILED, S.CANCELLED}),
    # PLACING -> READY_TO_PLACE: a sweep confirmed SUNSKY has no such order.
    S.PLACING: frozenset({S.PLACED, S.API_FAILED, S.READY_TO_PLACE}),
    S.PLACED: frozenset({S.PROCESSING, S.SHIPPED, S.DELIVERED, S.CANCELLED}),
    S.PROCESSING: frozenset({S.SHIPPED, S.DELIVERED, S.CANCELLED}),
    S.SHIPPED: frozenset({S.DELIVERED, S.CANCELLED}),
    S.DELIVERED: frozenset(),
    S.CANCELLED: frozenset(),
    # API_FAILED -> PLACED: a look-up found the order an unknown outcome had created.
    S.API_FAILED: frozenset({S.READY_TO_PLACE, S.PLACING, S.PLACED, S.CANCELLED}),
}

# Statuses in which SUNSKY holds the order: nothing may place it again.
SUBMITTED = frozenset({S.PLACED, S.PROCESSING, S.SHIPPED, S.DELIVERED})
FINAL = frozenset({S.DELIVERED, S.CANCELLED})
# Statuses in which a person may correct the shipping details: not while an attempt may be on
# its way (Placing), never once SUNSKY holds the order.
ADDRESS_EDITABLE = frozenset({S.PENDING_PAYMENT, S.READY_TO_PLACE, S.API_FAILED})
# The shipping details a person may edit (``ShippingInfo`` field names).
ADDRESS_FIELDS = ("recipient", "phone", "email", "company", "address_line1", "address_line2",
                  "city", "state", "postcode", "country_iso2")


class IllegalTransition(Exception):
    """A status change the table does not allow: a programming error, not a business 'no'."""


@dataclass(frozen=True)
class OrderItem:
    line_no: int
    product_name: str
    sku: str
    quantity: Decimal  # as Perfex sent it; placement requires a whole, positive number
    unit_price: Decimal
    line_total: Decimal


@dataclass(frozen=True)
class ShippingInfo:
    recipient: str | None
    phone: str | None
    email: str | None
    company: str | None
    address_line1: str | None
    address_line2: str | None
    city: str | None
    state: str | None
    postcode: str | None
    country_iso2: str | None
    country_name: str | None
    sunsky_country_id: int | None = None
    shipping_way_id: int | None = None
    shipping_method: str | None = None
    tracking_number: str | None = None
    tracking_url: str | None = None

    def full_address(self) -> str:
        parts = [self.address_line1, self.address_line2, self.city, self.state, self.postcode,
                 self.country_iso2]
        return ", ".join(p for p in parts if p)


@dataclass(frozen=True)
class ShipTo:
    """A delivery address as createOrder sends it (SUNSKY's ``deliveryAddress`` fields, its
    country id): what ours and SUNSKY's are compared by."""

    receiver: str | None
    telephone: str | None
    address: str | None
    address2: str | None
    city: str | None
    state: str | None
    postcode: str | None
    country_id: int | None


@dataclass(frozen=True)
class SunskyAddress:
    """Where SUNSKY ships its order ``number``, found under our siteNumber, when that is not
    where we ship: kept on the order until a person decides (re-place or accept)."""

    number: str
    ship_to: ShipTo | None  # None: SUNSKY's answer said nothing of where it ships
    country_iso2: str | None = None

    def full_address(self) -> str:
        if self.ship_to is None:
            return "(SUNSKY did not say)"
        t = self.ship_to
        parts = [t.address, t.address2, t.city, t.state, t.postcode, self.country_iso2]
        return f"{t.receiver} ({t.telephone}) " + ", ".join(p for p in parts if p)


@dataclass(frozen=True)
class OrderError:
    """Why an order is API Failed: a stable code, its class, SUNSKY's words, what to do."""

    code: str
    kind: str
    message: str
    fix_hint: str
    at: datetime


@dataclass(frozen=True)
class StatusChange:
    from_status: OrderStatus | None
    to_status: OrderStatus
    reason: str
    actor: str
    at: datetime


@dataclass(frozen=True)
class SunskyPlacement:
    number: str
    status: int | None
    amount: Decimal | None
    shipping_cost: Decimal | None
    total: Decimal | None


@dataclass(frozen=True)
class Order:
    id: int | None
    invoice_id: str
    invoice_number: str | None
    status: OrderStatus
    items: tuple[OrderItem, ...]
    shipping: ShippingInfo
    source_base_url: str | None = None
    client_id: str | None = None
    customer_company: str | None = None
    contact_name: str | None = None
    contact_email: str | None = None
    currency: str = "USD"
    subtotal: Decimal | None = None
    total: Decimal | None = None
    site_number: str | None = None
    sunsky: SunskyPlacement | None = None
    last_error: OrderError | None = None
    first_failed_at: datetime | None = None
    attempts: int = 0
    next_attempt_at: datetime | None = None
    placing_started_at: datetime | None = None
    paid_at: datetime | None = None
    placed_at: datetime | None = None
    created_at: datetime | None = None
    quoted_total: Decimal | None = None
    auto_retries: int = 0  # automatic retries by the retrier since the last person's retry
    retries_exhausted: bool = False
    last_swept_at: datetime | None = None
    sunsky_address: SunskyAddress | None = None
    history: tuple[StatusChange, ...] = field(default=(), compare=False)

    def transition(self, to: OrderStatus, *, reason: str, actor: str, now: datetime) -> Order:
        """A new order in status ``to``, with the change appended to ``history``."""
        if to not in TRANSITIONS[self.status]:
            raise IllegalTransition(f"order {self.id}: {self.status} -> {to} ({reason})")
        change = StatusChange(self.status, to, reason, actor, now)
        return replace(self, status=to, history=(*self.history, change))

    def fail(self, error: OrderError, *, actor: str) -> Order:
        """API Failed with a coded reason; keeps when the first failure happened."""
        failed = self.transition(S.API_FAILED, reason=f"{error.code}: {error.message}",
                                 actor=actor, now=error.at)
        return replace(failed, last_error=error, first_failed_at=self.first_failed_at or error.at)

    @property
    def lines_for_sunsky(self) -> list[tuple[str, int]]:
        return [(item.sku, int(item.quantity)) for item in self.items]


def new_order_history(order: Order, *, reason: str, actor: str, now: datetime) -> Order:
    """Record the creation of an order (from ``None``) in its history."""
    if order.status not in TRANSITIONS[None]:
        raise IllegalTransition(f"cannot create an order in {order.status}")
    return replace(order, history=(StatusChange(None, order.status, reason, actor, now),))


def site_number_for(order_id: int, invoice_id: str, *, attempt: int | None = None) -> str:
    """The stable reference sent to SUNSKY as ``siteNumber`` (<= 32 characters). ``attempt``:
    the one an order is re-placed from after SUNSKY cancelled it (``-A3``), since SUNSKY may
    refuse the old siteNumber again; ``DS<id>`` keeps every one unique to the order."""
    suffix = "" if attempt is None else f"-A{attempt}"
    return f"DS{order_id}-INV{invoice_id}"[:32 - len(suffix)] + suffix


def transitions_table_markdown() -> str:
    """The transition table as Markdown, for the docs (generated, never hand-written)."""
    rows = ["| from | allowed next statuses |", "|---|---|"]
    for source, targets in TRANSITIONS.items():
        name = "(new order)" if source is None else source.label
        allowed = ", ".join(t.label for t in OrderStatus if t in targets) or "(final)"
        rows.append(f"| {name} | {allowed} |")
    return "\n".join(rows)
