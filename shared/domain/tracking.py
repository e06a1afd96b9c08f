"""Following a placed order at SUNSKY: a pure decision, no I/O (STYLE.md point 4).

``decide_tracking(order, view, ...)`` takes our order and what SUNSKY says about it now and
returns the order to store, the notices to publish and a line per change. SUNSKY is the source
of truth for the status, but only moves the transition table allows are made: a move it does
not allow (SUNSKY says "paid" for an order we know shipped: a stale read) changes nothing, not
even the raw status code, and an unknown status code is kept raw on the order, never guessed.

Reads race: a sweep's list page read before a callback's fresher read may reach the order after
it. Every view carries the time it was read (``read_at``) and the order remembers the read time
of the last view applied to it (``sunsky_synced_at``); a view read before that is stale and
changes nothing at all.

SUNSKY status codes (sunsky-open-api.md section 8) and what they mean for us:

====  =========  =============================================
code  SUNSKY     our status
====  =========  =============================================
1     unpaid     Placed (stays)
2     paid       Processing
3     shipped    Shipped (tracking number, method, URL stored)
4     cancelled  Cancelled (with SUNSKY's reason when it gives one)
5     delivered  Delivered
====  =========  =============================================
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum

from shared.domain.order import FINAL, TRANSITIONS, Order, OrderStatus, ShippingInfo

S = OrderStatus

STATUS_FROM_SUNSKY: dict[int, OrderStatus] = {
    1: S.PLACED, 2: S.PROCESSING, 3: S.SHIPPED, 4: S.CANCELLED, 5: S.DELIVERED,
}
SUNSKY_PAID = 2
# Orders SUNSKY still holds open: the ones the tracker follows.
TRACKED = frozenset({S.PLACED, S.PROCESSING, S.SHIPPED})
DEFAULT_CANCEL_REASON = "cancelled by SUNSKY (no reason given)"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class SunskyView:
    """What SUNSKY says about one order, read from SUNSKY itself (never from a callback)."""

    number: str
    status: int
    tracking_number: str | None = None
    tracking_url: str | None = None
    shipping_method: str | None = None
    cancel_reason: str | None = None
    read_at: datetime | None = None  # when the request that returned this view was sent


class Notice(StrEnum):
    """What a decision asks the tracker to publish."""

    SHIPPED = "shipped"
    TRACKING_CHANGED = "tracking_changed"  # order.shipped again, with is_update=True
    DELIVERED = "delivered"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class TrackingDecision:
    order: Order
    notices: tuple[Notice, ...] = ()
    changes: tuple[str, ...] = ()
    unknown_status: bool = False
    refused_move: OrderStatus | None = None  # SUNSKY's status, when the table forbids the move
    stale: bool = False  # read before the view last applied to the order: ignored

    @property
    def changed(self) -> bool:
        return bool(self.changes)


def differs(order: Order, view: SunskyView) -> bool:
    """Cheap pre-check: could ``decide_tracking`` change anything? (No lock needed for it.)"""
    return decide_tracking(order, view, source="pre-check", actor="-", now=_EPOCH).changed


def is_stale(view: SunskyView, last_read: datetime | None) -> bool:
    """True when ``view`` was read before the view last applied to the order (``last_read``)."""
    return view.read_at is not None and last_read is not None and view.read_at < last_read


def ships_without_tracking(order: Order) -> bool:
    """True when following the stored SUNSKY status would tell Perfex "shipped" with no
    tracking number (createOrder, or a look-up after it, can answer "shipped" without one)."""
    status = order.sunsky.status if order.sunsky else None
    target = STATUS_FROM_SUNSKY.get(status) if status is not None else None
    return (target == S.SHIPPED and order.status != S.SHIPPED
            and not order.shipping.tracking_number)


def decide_tracking(order: Order, view: SunskyView, *, source: str, actor: str,
                    now: datetime, last_read: datetime | None = None) -> TrackingDecision:
    """The order once it follows ``view``; ``source`` (callback, sweep, ...) goes in history.
    ``last_read``: when the view last applied to the order was read (``sunsky_synced_at``)."""
    if is_stale(view, last_read):
        return TrackingDecision(order, stale=True)
    refused = _refused(order, view)
    if refused is not None:  # a stale read in disguise: keep everything, the raw code too
        return TrackingDecision(order, refused_move=refused)
    changes: list[str] = []
    updated = _with_raw_status(order, view, changes)
    if order.status in FINAL:
        return TrackingDecision(updated, changes=tuple(changes))
    updated, tracking_changed = _with_tracking(updated, view, changes)
    target = STATUS_FROM_SUNSKY.get(view.status)
    if target is None:
        return TrackingDecision(updated, _tracking_notice(order, tracking_changed),
                                tuple(changes), unknown_status=True)
    if target == order.status:
        return TrackingDecision(updated, _tracking_notice(order, tracking_changed),
                                tuple(changes))
    reason = _move_reason(view, source)
    moved = updated.transition(target, reason=reason, actor=actor, now=now)
    changes.append(f"status {order.status.label} -> {target.label}")
    return TrackingDecision(moved, _move_notices(target), tuple(changes))


def cancel_reason(view: SunskyView) -> str:
    return view.cancel_reason or DEFAULT_CANCEL_REASON


def _with_raw_status(order: Order, view: SunskyView, changes: list[str]) -> Order:
    """Keep SUNSKY's code as it is, known or not (the admin sees it in ``orders show``)."""
    placement = order.sunsky
    if placement is None or placement.status == view.status:
        return order
    changes.append(f"SUNSKY status {placement.status} -> {view.status}")
    return replace(order, sunsky=replace(placement, status=view.status))


def _with_tracking(order: Order, view: SunskyView, changes: list[str]) -> tuple[Order, bool]:
    """Store a new tracking number with its URL and method; True when the number changed."""
    shipping = order.shipping
    if view.tracking_number is None or view.tracking_number == shipping.tracking_number:
        return order, False
    changes.append(f"tracking {shipping.tracking_number or '-'} -> {view.tracking_number}")
    new = replace(shipping, tracking_number=view.tracking_number,
                  tracking_url=_tracking_url(shipping, view.tracking_number, view.tracking_url),
                  shipping_method=view.shipping_method or shipping.shipping_method)
    return replace(order, shipping=new), True


def _tracking_url(shipping: ShippingInfo, number: str, read_url: str | None) -> str | None:
    """The URL read with the new number; else the stored one's query prefix + the new number
    (the stored URL is prefix + old number); else none: never the old number's page."""
    if read_url:
        return read_url
    old_number, old_url = shipping.tracking_number, shipping.tracking_url
    if old_number and old_url and old_url.endswith(old_number):
        return old_url[: -len(old_number)] + number
    return None


def _tracking_notice(order: Order, tracking_changed: bool) -> tuple[Notice, ...]:
    """A new number on an order Perfex already knows as shipped is an update."""
    return (Notice.TRACKING_CHANGED,) if tracking_changed and order.status == S.SHIPPED else ()


def _move_notices(target: OrderStatus) -> tuple[Notice, ...]:
    by_target = {S.SHIPPED: Notice.SHIPPED, S.DELIVERED: Notice.DELIVERED,
                 S.CANCELLED: Notice.CANCELLED}
    return (by_target[target],) if target in by_target else ()


def _move_reason(view: SunskyView, source: str) -> str:
    text = f"SUNSKY order {view.number} status {view.status} via {source}"
    if view.status == 4:
        text += f": {cancel_reason(view)}"
    return text


def _refused(order: Order, view: SunskyView) -> OrderStatus | None:
    target = STATUS_FROM_SUNSKY.get(view.status)
    if target is None or target == order.status or target in TRANSITIONS[order.status]:
        return None
    return target
