"""The tracker: follows each placed order at SUNSKY until it is Delivered or Cancelled.

Every source of news ends in ``Tracker.apply(view)``, one code path: lock our order, let the
pure ``decide_tracking`` say what changes, save it and queue the outgoing messages in the outbox
in the same transaction. What reaches ``apply`` was read from SUNSKY itself:

- ``order.placed``: createOrder's answer is already stored (``sunsky_status`` 2 = paid), so the
  move to Processing costs no SUNSKY call (an answer of "shipped" is read again in full first:
  Perfex must not hear "shipped" without a tracking number);
- callbacks (``callbacks.py``) only *name* orders; ``Reconciler.verify`` re-reads them;
- the sweep (``Reconciler.sweep``) pages through ``getOrderList`` for what callbacks missed,
  deliveries above all (SUNSKY sends no callback for them);
- ``dropship orders refresh ID`` (``Tracker.refresh``): one ``getOrderDetails``, now.

``order.shipped``/``order.delivered``/``order.cancelled`` are keyed by the Perfex invoice id
(the Perfex side's unit), unlike ``order.ready``/``order.placed``. Applying the same SUNSKY state
twice changes nothing and publishes nothing: duplicates are no-ops. Reads race (a sweep's list
page can reach ``apply`` after a fresher callback read): under the row lock, a view read before
the one last applied (``sunsky_synced_at``) is ignored, and each applied view records its read
time there.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from schemas.orders import (
    OrderCancelled,
    OrderDelivered,
    OrderPlaced,
    OrderShipped,
)
from services.tracker.reading import view_of
from shared.db.repository import UnitOfWork
from shared.domain.order import Order
from shared.domain.tracking import (
    Notice,
    SunskyView,
    TrackingDecision,
    cancel_reason,
    decide_tracking,
    ships_without_tracking,
)
from shared.messaging.emit import emit, new_message_id, utcnow
from shared.messaging.envelope import Envelope
from shared.messaging.policy import MessageRejected, decode_order_message
from shared.settings import (
    TOPIC_ORDER_CANCELLED,
    TOPIC_ORDER_DELIVERED,
    TOPIC_ORDER_SHIPPED,
    Settings,
)
from shared.sunsky.errors import SunskyError
from shared.sunsky.models import SunskyOrder
from shared.sunsky.port import Sunsky

logger = logging.getLogger(__name__)

ACTOR = "tracker"
TOPIC_BY_NOTICE = {
    Notice.SHIPPED: TOPIC_ORDER_SHIPPED, Notice.TRACKING_CHANGED: TOPIC_ORDER_SHIPPED,
    Notice.DELIVERED: TOPIC_ORDER_DELIVERED, Notice.CANCELLED: TOPIC_ORDER_CANCELLED,
}


def decode(envelope: Envelope) -> OrderPlaced:
    return decode_order_message(envelope, OrderPlaced)


@dataclass(frozen=True)
class Refreshed:
    """What ``dropship orders refresh`` reports: a business "no" is an outcome, not an error."""

    outcome: str  # "changed", "unchanged", "not_found", "not_placed"
    order: Order | None = None
    changes: tuple[str, ...] = ()


class Tracker:
    def __init__(self, settings: Settings, uow: Callable[[], UnitOfWork], sunsky: Sunsky, *,
                 committed: Callable[[], None] = lambda: None,
                 clock: Callable[[], datetime] = utcnow, actor: str = ACTOR) -> None:
        self._settings, self._uow, self._sunsky = settings, uow, sunsky
        self._committed, self._clock, self._actor = committed, clock, actor

    async def handle(self, envelope: Envelope) -> None:
        message = decode(envelope)
        await HANDLERS[message.type](self, message, envelope)

    async def on_order_placed(self, message: OrderPlaced, envelope: Envelope) -> None:
        """Processing at once when createOrder's stored answer says paid: no SUNSKY call."""
        source = f"order.placed {envelope.where()}"
        async with self._uow() as uow:
            order = await uow.orders.get(message.order_id, for_update=True)
            if order is None:
                raise MessageRejected("unknown_order", f"order {message.order_id} does not exist")
            if order.sunsky is None or order.sunsky.status is None:
                logger.info("order %s has no SUNSKY status yet (%s): left to the sweep",
                            order.id, envelope.where())
                return
            decision = None
            if not ships_without_tracking(order):
                # createOrder's answer was stored with placed_at: that is when it was read
                view = SunskyView(order.sunsky.number, order.sunsky.status,
                                  read_at=order.placed_at)
                decision = await self._apply_locked(uow, order, view, source)
        if decision is None:
            await self._read_placed(message.order_id, source)
        else:
            self._after(decision)

    async def _read_placed(self, order_id: int, source: str) -> None:
        """SUNSKY said "shipped" at placing: read it in full, or leave it to the sweep."""
        try:
            await self.refresh(order_id, source=source)
        except SunskyError as exc:
            logger.warning("order %s is shipped at SUNSKY but reading its tracking number "
                           "failed (%r): left to the sweep (%s)", order_id, exc, source)

    async def apply(self, view: SunskyView, *, source: str) -> TrackingDecision | None:
        """Make our order follow what SUNSKY says; None when the order is not ours."""
        async with self._uow() as uow:
            order = await uow.orders.get_by_sunsky_number(view.number, for_update=True)
            if order is None:
                logger.warning("SUNSKY order %s is not one of ours (%s): ignored", view.number,
                               source)
                return None
            decision = await self._apply_locked(uow, order, view, source)
        self._after(decision)
        return decision

    async def refresh(self, order_id: int, *, source: str = "refresh") -> Refreshed:
        """Re-read one order from SUNSKY now (``getOrderDetails``) and apply it."""
        async with self._uow() as uow:
            order = await uow.orders.get(order_id)
        if order is None:
            return Refreshed("not_found")
        if order.sunsky is None:
            return Refreshed("not_placed", order)
        read_at = self._clock()
        details: SunskyOrder = await self._sunsky.get_order_details(order.sunsky.number)
        decision = await self.apply(view_of(details, read_at), source=source)
        if decision is None or not decision.changed:
            return Refreshed("unchanged", order)
        return Refreshed("changed", decision.order, decision.changes)

    # --- inside the order's transaction ---------------------------------------------------
    async def _apply_locked(self, uow: UnitOfWork, order: Order, view: SunskyView,
                            source: str) -> TrackingDecision:
        assert order.id is not None
        now, last_read = self._clock(), await uow.tracking.synced_at(order.id)
        decision = decide_tracking(order, view, source=source, actor=self._actor, now=now,
                                   last_read=last_read)
        _log_oddities(order, view, decision, source, last_read)
        if decision.stale:
            return decision
        if decision.changed:
            await self._save(uow, decision, view, now)
        if view.read_at is not None:
            await uow.tracking.mark_synced(order.id, view.read_at)
        await uow.commit()
        if decision.changed:
            logger.info("order %s (SUNSKY %s) via %s: %s", order.id, view.number, source,
                        "; ".join(decision.changes))
        return decision

    async def _save(self, uow: UnitOfWork, decision: TrackingDecision, view: SunskyView,
                    now: datetime) -> None:
        saved = await uow.orders.save(decision.order)
        for notice in decision.notices:
            message = _message(saved, view, notice, now)
            await emit(uow, self._settings.topic(TOPIC_BY_NOTICE[notice]), saved.invoice_id,
                       message, {"actor": self._actor})

    def _after(self, decision: TrackingDecision) -> None:
        if decision.notices:
            self._committed()


def _log_oddities(order: Order, view: SunskyView, decision: TrackingDecision,
                  source: str, last_read: datetime | None) -> None:
    if decision.stale:
        logger.info("order %s: SUNSKY %s as read at %s is older than the read applied last "
                    "(%s): ignored (%s)", order.id, view.number, view.read_at, last_read, source)
    elif decision.unknown_status:
        logger.warning("order %s: SUNSKY status code %s is unknown; kept raw, order stays %s "
                       "(%s)", order.id, view.status, order.status.label, source)
    elif decision.refused_move is not None:
        logger.warning("order %s is %s but SUNSKY %s says %s: not moved (%s)", order.id,
                       order.status.label, view.number, decision.refused_move.label, source)


def _message(order: Order, view: SunskyView, notice: Notice, now: datetime) -> BaseModel:
    base: dict[str, Any] = {"message_id": new_message_id(), "order_id": order.id or 0,
                            "invoice_id": order.invoice_id, "occurred_at": now,
                            "invoice_number": order.invoice_number}
    if notice is Notice.DELIVERED:
        return OrderDelivered(**base, sunsky_order_number=view.number)
    if notice is Notice.CANCELLED:
        return OrderCancelled(**base, sunsky_order_number=view.number,
                              reason=cancel_reason(view))
    ship = order.shipping
    return OrderShipped(**base, sunsky_order_number=view.number,
                        tracking_number=ship.tracking_number, tracking_url=ship.tracking_url,
                        shipping_method=ship.shipping_method,
                        is_update=notice is Notice.TRACKING_CHANGED)


Handler = Callable[[Tracker, Any, Envelope], Awaitable[None]]

HANDLERS: dict[str, Handler] = {
    "order.placed": Tracker.on_order_placed,
}
