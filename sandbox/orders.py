"""A sandbox order: frozen records, the lifecycle table and the order-details wire shape.

Status codes 1-5 are [3P] (sunsky-open-api.md section 8). Invented by the sandbox: which
transitions are allowed (``TRANSITIONS``), ``gmtDelivered``, ``cancelReason`` and the line
``remark`` echo; SUNSKY's real order details may lack them, so clients must treat them as optional.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import IntEnum

from sandbox.catalogue import ShippingWay
from sandbox.wire import money, timestamp


class OrderStatus(IntEnum):
    UNPAID = 1
    PAID = 2
    SHIPPED = 3
    CANCELLED = 4
    DELIVERED = 5


# Names the /_sandbox controls use for target statuses.
STATUS_BY_NAME: dict[str, OrderStatus] = {
    "paid": OrderStatus.PAID,
    "shipped": OrderStatus.SHIPPED,
    "delivered": OrderStatus.DELIVERED,
    "cancelled": OrderStatus.CANCELLED,
}

# The lifecycle (a sandbox invention): status -> statuses it may move to.
TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.UNPAID: frozenset({OrderStatus.PAID, OrderStatus.CANCELLED}),
    OrderStatus.PAID: frozenset({OrderStatus.SHIPPED, OrderStatus.CANCELLED}),
    OrderStatus.SHIPPED: frozenset({OrderStatus.DELIVERED}),
    OrderStatus.CANCELLED: frozenset(),
    OrderStatus.DELIVERED: frozenset(),
}

# Callback events (section 9) fired on entering a status; delivery fires none (none documented).
EVENT_BY_STATUS: dict[OrderStatus, str] = {
    OrderStatus.SHIPPED: "order/shipped",
    OrderStatus.CANCELLED: "order/cancelled",
}
EVENT_TRACKING = "order/tracking"


@dataclass(frozen=True)
class OrderLine:
    item_no: str
    title: str
    qty: int
    price: Decimal
    remark: str | None = None

    @property
    def amount(self) -> Decimal:
        return self.price * self.qty

    def wire(self) -> dict[str, object]:
        return {"itemNo": self.item_no, "title": self.title, "qty": self.qty,
                "price": money(self.price), "amount": money(self.amount), "remark": self.remark}


@dataclass(frozen=True)
class DeliveryAddress:
    """Every ``deliveryAddress.*`` field createOrder takes (section 6.3), echoed back."""

    country_id: int
    shipping_way_id: int
    receiver: str
    address: str
    city: str
    postcode: str
    telephone: str
    state: str | None = None
    company: str | None = None
    address2: str | None = None
    email: str | None = None
    shipment: str | None = None

    def wire(self) -> dict[str, object]:
        return {
            "countryId": self.country_id, "state": self.state, "city": self.city,
            "company": self.company, "address": self.address, "address2": self.address2,
            "postcode": self.postcode, "receiver": self.receiver, "telephone": self.telephone,
            "email": self.email, "shipment": self.shipment,
            "shippingWayId": self.shipping_way_id,
        }


@dataclass(frozen=True)
class Order:
    number: str
    key: str
    site_number: str | None
    status: OrderStatus
    lines: tuple[OrderLine, ...]
    shipping_way: ShippingWay
    shipping_cost: Decimal
    address: DeliveryAddress
    created: datetime
    paid: datetime | None = None
    shipped: datetime | None = None
    delivered: datetime | None = None
    tracking_number: str | None = None
    cancel_reason: str | None = None

    @property
    def amount(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal(0))

    @property
    def total_amount(self) -> Decimal:
        return self.amount + self.shipping_cost

    def wire(self, *, details: bool = True) -> dict[str, object]:
        """``getOrderDetails`` data; ``details=False`` is the ``getOrderList`` entry."""
        out: dict[str, object] = {
            "number": self.number, "siteNumber": self.site_number, "status": int(self.status),
            "amount": money(self.amount), "shippingCost": money(self.shipping_cost),
            "totalAmount": money(self.total_amount), "coupon": None,
            "gmtCreated": timestamp(self.created), "gmtPaid": timestamp(self.paid),
            "gmtShipped": timestamp(self.shipped),
            "gmtDelivered": timestamp(self.delivered),  # invented field
            "shippingWay": self.shipping_way.wire(), "trackingNumber": self.tracking_number,
            "deliveryAddress": self.address.wire(),
            "cancelReason": self.cancel_reason,  # invented field
        }
        if details:
            out["detailList"] = [line.wire() for line in self.lines]
        return out
