"""From a Perfex invoice event to an order decision: pure rules, no I/O.

The contract's rules (perfex-event-contract.md): address precedence, ``<br />`` street lines,
recipient/phone/email fallbacks, SUNSKY lines = items with ``custom_fields.sunsky_sku``, whole
quantities, drafts are not orders. ``decide_invoice_event`` returns what to do; the handler
persists it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from schemas.perfex import InvoiceCreated, InvoicePaid, PerfexAddress, PerfexItem
from shared.domain.errors import order_error
from shared.domain.order import (
    Order,
    OrderError,
    OrderItem,
    OrderStatus,
    ShippingInfo,
    new_order_history,
)

ACTOR = "invoice_listener"
_BR = re.compile(r"<br\s*/?>", re.IGNORECASE)
# Most units of one item on one order line (setting MAX_LINE_QUANTITY): a bigger quantity is
# far more likely a typo than an order, and createOrder charges the balance at once.
DEFAULT_MAX_LINE_QUANTITY = 10_000
# What createOrder's deliveryAddress takes (sunsky-open-api.md 6.3; third-party figures, not
# confirmed by SUNSKY): longer values are refused before the call, with the field named.
SUNSKY_FIELD_LIMITS = (("recipient", 32), ("address_line1", 100), ("address_line2", 100),
                       ("city", 40), ("state", 40), ("postcode", 20))


@dataclass(frozen=True)
class Ignore:
    """The invoice is not a SUNSKY order; record why."""

    reason: str


@dataclass(frozen=True)
class NoChange:
    """A duplicate, re-publication or late event: nothing to do."""

    reason: str


@dataclass(frozen=True)
class Save:
    """Persist ``order`` (new when ``order.id`` is None); publish ``order.ready`` if ``ready``."""

    order: Order
    publish_ready: bool


Decision = Ignore | NoChange | Save


def decide_invoice_event(
    existing: Order | None, event: InvoiceCreated | InvoicePaid, *, auto_place: bool, now: datetime,
    max_quantity: int = DEFAULT_MAX_LINE_QUANTITY,
) -> Decision:
    invoice = event.data.invoice
    if invoice.is_draft:
        return Ignore("draft invoice (status 6): not an order yet")
    if not any(item.sunsky_sku for item in invoice.items):
        return Ignore("no line carries custom_fields.sunsky_sku: not a SUNSKY order")
    if event.event_type == "invoice.created":
        if existing is not None:
            return NoChange(f"order {existing.id} already exists ({existing.status.label})")
        snapshot = snapshot_order(event)
        return Save(new_order_history(snapshot, reason="invoice created", actor=ACTOR, now=now),
                    publish_ready=False)
    return _on_paid(existing, event, auto_place=auto_place, now=now, max_quantity=max_quantity)


def _on_paid(existing: Order | None, event: InvoicePaid, *, auto_place: bool,
             now: datetime, max_quantity: int) -> Decision:
    if existing is not None and existing.status != OrderStatus.PENDING_PAYMENT:
        return NoChange(f"order {existing.id} already paid ({existing.status.label})")
    fresh = replace(snapshot_order(event), paid_at=now)
    problem = validate_for_placement(fresh, now, max_quantity=max_quantity)
    if existing is None:
        target = OrderStatus.API_FAILED if problem else OrderStatus.READY_TO_PLACE
        reason = f"invoice paid; {problem.code}" if problem else "invoice paid"
        order = new_order_history(replace(fresh, status=target), reason=reason, actor=ACTOR,
                                  now=now)
    else:
        # the paid event's snapshot replaces the created one's; still Pending Payment here
        order = replace(fresh, id=existing.id, site_number=existing.site_number,
                        created_at=existing.created_at)
        if problem is None:
            order = order.transition(OrderStatus.READY_TO_PLACE, reason="invoice paid",
                                     actor=ACTOR, now=now)
    if problem is not None:
        if order.status != OrderStatus.API_FAILED:
            order = order.fail(problem, actor=ACTOR)
        else:
            order = replace(order, last_error=problem, first_failed_at=now)
        return Save(order, publish_ready=False)
    return Save(order, publish_ready=auto_place)


def snapshot_order(event: InvoiceCreated | InvoicePaid) -> Order:
    """The order as the event describes it (status Pending Payment, no id yet)."""
    data = event.data
    invoice = data.invoice
    items = tuple(_item(n, line) for n, line in enumerate(_sunsky_lines(invoice.items), 1))
    return Order(
        id=None, invoice_id=invoice.id, invoice_number=invoice.display_number,
        status=OrderStatus.PENDING_PAYMENT, items=items, shipping=resolve_shipping(event),
        source_base_url=event.source.base_url, client_id=data.client.userid,
        customer_company=_clean(data.client.company), contact_name=_contact_name(event),
        contact_email=data.primary_contact.email if data.primary_contact else None,
        currency=invoice.currency.code, subtotal=invoice.subtotal, total=invoice.total,
    )


def _sunsky_lines(items: list[PerfexItem]) -> list[PerfexItem]:
    ordered = sorted(items, key=lambda i: _line_order(i.item_order))
    return [item for item in ordered if item.sunsky_sku]


def _line_order(value: str | None) -> int:
    return int(value) if value and value.isdigit() else 0


def _item(line_no: int, line: PerfexItem) -> OrderItem:
    # The quantity is kept as Perfex sent it; validate_for_placement refuses a non-positive,
    # fractional or too large one, each with its own code, before anything is placed.
    return OrderItem(line_no=line_no, product_name=line.description or (line.sunsky_sku or ""),
                     sku=line.sunsky_sku or "", quantity=line.qty, unit_price=line.rate,
                     line_total=(line.qty * line.rate).quantize(Decimal("0.01")))


def _usable(address: PerfexAddress | None, *, need_country: bool = False) -> bool:
    if address is None or not (address.street or "").strip():
        return False
    return not need_country or (address.country_id or "0") not in {"0", ""}


def choose_address(event: InvoiceCreated | InvoicePaid) -> PerfexAddress | None:
    """The contract's precedence: invoice shipping, client shipping, invoice/client billing."""
    invoice, client = event.data.invoice, event.data.client
    if invoice.include_shipping and _usable(invoice.shipping):
        return invoice.shipping
    if _usable(client.shipping, need_country=True):
        return client.shipping
    if _usable(invoice.billing):
        return invoice.billing
    if _usable(client.billing):
        return client.billing
    return None


def split_street(street: str | None) -> tuple[str | None, str | None]:
    lines = [part.strip() for part in _BR.split(street or "") for part in part.splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        return None, None
    return lines[0], (", ".join(lines[1:]) or None)


def resolve_shipping(event: InvoiceCreated | InvoicePaid) -> ShippingInfo:
    address = choose_address(event) or PerfexAddress()
    line1, line2 = split_street(address.street)
    contact, client = event.data.primary_contact, event.data.client
    phone = _clean(contact.phonenumber if contact else None) or _clean(client.phonenumber)
    return ShippingInfo(
        recipient=_contact_name(event) or _clean(client.company), phone=phone,
        email=_clean(contact.email if contact else None), company=_clean(client.company),
        address_line1=line1, address_line2=line2, city=_clean(address.city),
        state=_clean(address.state), postcode=_clean(address.zip),
        country_iso2=(_clean(address.country_iso2) or "").upper() or None,
        country_name=_clean(address.country_name),
    )


def _contact_name(event: InvoiceCreated | InvoicePaid) -> str | None:
    contact = event.data.primary_contact
    if contact is None:
        return None
    return " ".join(p for p in (_clean(contact.firstname), _clean(contact.lastname)) if p) or None


def _clean(value: str | None) -> str | None:
    text = (value or "").strip()
    return text or None


def validate_for_placement(order: Order, now: datetime, *,
                           max_quantity: int = DEFAULT_MAX_LINE_QUANTITY) -> OrderError | None:
    """The first reason the order cannot be sent to SUNSKY, checked without calling SUNSKY."""
    problem = _quantity_problem(order, now, max_quantity)
    if problem is not None:
        return problem
    ship = order.shipping
    if not ship.address_line1 and not ship.city and not ship.country_iso2:
        return order_error("ADDRESS_MISSING", now)
    missing = [name for name, value in (("street", ship.address_line1), ("city", ship.city),
               ("postcode", ship.postcode), ("country", ship.country_iso2)) if not value]
    if missing:
        return order_error("ADDRESS_INCOMPLETE", now, detail="missing " + ", ".join(missing))
    if not ship.recipient:
        return order_error("RECIPIENT_MISSING", now)
    if not ship.phone:
        return order_error("PHONE_MISSING", now)
    too_long = [f"{name} has {len(value)} characters (SUNSKY takes {limit})"
                for name, limit in SUNSKY_FIELD_LIMITS
                if len(value := getattr(ship, name) or "") > limit]
    if too_long:
        return order_error("FIELD_TOO_LONG", now, detail="; ".join(too_long))
    return None


def _quantity_problem(order: Order, now: datetime, max_quantity: int) -> OrderError | None:
    checks: tuple[tuple[str, Callable[[Decimal], bool], str], ...] = (
        ("QUANTITY_NOT_POSITIVE", lambda q: q <= 0, ""),
        ("FRACTIONAL_QUANTITY", lambda q: q != q.to_integral_value(), ""),
        ("QUANTITY_TOO_LARGE", lambda q: q > max_quantity, f" (at most {max_quantity})"),
    )
    for code, wrong, bound in checks:
        bad = [f"{i.sku} x{i.quantity}" for i in order.items if wrong(i.quantity)]
        if bad:
            return order_error(code, now, detail=f"lines: {', '.join(bad)}{bound}")
    return None


__all__ = ["Decision", "Ignore", "NoChange", "Save", "decide_invoice_event"]
