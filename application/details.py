"""What the order details page shows beside the order itself: three state badges (invoice,
SUNSKY order, shipping) and which actions the order allows now. Pure: the API, the console
and the CLI read the same answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from shared.domain.order import ADDRESS_EDITABLE, Order, OrderStatus
from shared.sunsky.models import STATUS_NAMES

Tone = Literal["ok", "info", "warn", "bad", "none"]


@dataclass(frozen=True)
class Badge:
    label: str
    tone: Tone


@dataclass(frozen=True)
class Badges:
    invoice: Badge
    sunsky: Badge
    shipping: Badge


@dataclass(frozen=True)
class AllowedActions:
    place: bool  # "Place to Sunsky": Ready to Place only
    retry: bool  # API Failed only
    refresh: bool  # SUNSKY holds an order for it
    edit_address: bool  # before it is placed


def badges(order: Order) -> Badges:
    return Badges(_invoice(order), _sunsky(order), _shipping(order))


def _invoice(order: Order) -> Badge:
    if order.status == OrderStatus.PENDING_PAYMENT:
        return Badge("Invoice unpaid", "warn")
    if order.paid_at is not None or order.status != OrderStatus.CANCELLED:
        return Badge("Invoice paid", "ok")
    return Badge("Invoice cancelled", "none")


def _sunsky(order: Order) -> Badge:
    if order.sunsky is None:
        failed = order.status == OrderStatus.API_FAILED
        return Badge("SUNSKY: not placed", "bad" if failed else "none")
    code = order.sunsky.status
    name = STATUS_NAMES.get(code, f"status {code}") if code is not None else "placed"
    tone: Tone = "bad" if code == 4 else "ok" if code in (2, 3, 5) else "info"
    return Badge(f"SUNSKY {order.sunsky.number}: {name}", tone)


def _shipping(order: Order) -> Badge:
    ship = order.shipping
    if order.status == OrderStatus.DELIVERED:
        return Badge("Delivered", "ok")
    if ship.tracking_number:
        return Badge(f"Shipped: {ship.tracking_number}", "info")
    if order.status == OrderStatus.CANCELLED:
        return Badge("Not shipped (cancelled)", "none")
    return Badge("Not shipped yet", "none")


def allowed_actions(order: Order) -> AllowedActions:
    return AllowedActions(
        place=order.status == OrderStatus.READY_TO_PLACE,
        retry=order.status == OrderStatus.API_FAILED,
        refresh=order.sunsky is not None,
        edit_address=order.status in ADDRESS_EDITABLE)
