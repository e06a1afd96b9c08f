"""Applying what SUNSKY says about a placed order: the one code path for every source of news.

The tracker service (``order.placed``, callbacks, the sweep) and the admin's "Refresh from
Sunsky" all end in ``TrackingApplier.apply(view)``: lock our order, let the pure
``decide_tracking`` say what changes, save it and queue the outgoing messages in the outbox in
the same transaction. What reaches ``apply`` was read from SUNSKY itself.

``order.shipped``/``order.delivered``/``order.cancelled`` are keyed by the Perfex invoice id
(the Perfex side's unit), unlike ``order.ready``/``order.placed``. Applying the same SUNSKY state
twice changes nothing and publishes nothing: duplicates are no-ops. Reads race (a sweep's list
page can reach ``apply`` after a fresher callback read): under the row lock, a view read before
the one last applied (``tracking.synced_at``) is ignored, and each applied view records its
read time there.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from schemas.orders import OrderCancelled, OrderDelivered, OrderShipped
from shared.db.repository import UnitOfWork
from shared.domain.order import Order
from shared.domain.tracking import (
    Notice,
    SunskyView,
    TrackingDecision,
    cancel_reason,
    decide_tracking,
)
from shared.messaging.emit import emit, new_message_id, utcnow
from shared.settings import (
    TOPIC_ORDER_CANCELLED,
    TOPIC_ORDER_DELIVERED,
    TOPIC_ORDER_SHIPPED,
    Settings,
)
from shared.sunsky.models import SunskyOrder
from shared.sunsky.port import Sunsky

logger = logging.getLogger(__name__)

TOPIC_BY_NOTICE = {
    Notice.SHIPPED: TOPIC_ORDER_SHIPPED, Notice.TRACKING_CHANGED: TOPIC_ORDER_SHIPPED,
    Notice.DELIVERED: TOPIC_ORDER_DELIVERED, Notice.CANCELLED: TOPIC_ORDER_CANCELLED,
}


def view_of(order: SunskyOrder, read_at: datetime) -> SunskyView:
    """SUNSKY's order as the tracking decision sees it, stamped with when it was read."""
    way = order.shipping_way
    return SunskyView(number=order.number, status=order.status,
                      tracking_number=order.tracking_number or None,
                      tracking_url=order.tracking_url, shipping_method=way.name if way else None,
                      cancel_reason=order.cancel_reason or None, read_at=read_at)


@dataclass(frozen=True)
class Refreshed:
    """What "Refresh from Sunsky" reports: a business "no" is an outcome, not an error."""

    outcome: str  # "changed", "unchanged", "not_found", "not_placed"
    order: Order | None = None
    changes: tuple[str, ...] = ()


class TrackingApplier:
    def __init__(self, settings: Settings, uow: Callable[[], UnitOfWork], sunsky: Sunsky, *,
                 committed: Callable[[], None] = lambda: None,
                 clock: Callable[[], datetime] = utcnow, actor: str = "tracker") -> None:
        self._settings, self._uow, self._sunsky = settings, uow, sunsky
        self._committed, self._clock, self._actor = committed, clock, actor

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
        details = await self._sunsky.get_order_details(order.sunsky.number)
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
