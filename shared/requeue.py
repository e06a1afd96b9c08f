"""Sending an order (back) to the placer: the one way every retry path does it.

Used by the retrier (automatic retries, balance top-ups), the admin ``orders retry`` and
``replay`` commands, and the placer's sweeps. The status change goes through the domain's
transition table and ``order.ready`` through the outbox, in the caller's transaction.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from schemas.orders import OrderReady, ReadyReason
from shared.db.repository import UnitOfWork
from shared.domain.order import Order, OrderStatus
from shared.messaging.emit import emit, new_message_id
from shared.settings import TOPIC_ORDER_READY, Settings


async def requeue(uow: UnitOfWork, settings: Settings, order: Order, *, actor: str,
                  reason: ReadyReason, note: str, now: datetime,
                  headers: dict[str, str] | None = None) -> Order:
    """API Failed -> Ready to Place (if needed), then ``order.ready``. Returns the saved order."""
    if order.status == OrderStatus.API_FAILED:
        order = order.transition(OrderStatus.READY_TO_PLACE, reason=note, actor=actor, now=now)
    order = replace(order, next_attempt_at=None, retries_exhausted=False)
    if reason == "sweep":
        order = replace(order, last_swept_at=now)
    order = await uow.orders.save(order)
    message = OrderReady(message_id=new_message_id(), order_id=order.id or 0,
                         invoice_id=order.invoice_id, occurred_at=now, reason=reason,
                         attempt=order.attempts)
    await emit(uow, settings.topic(TOPIC_ORDER_READY), str(order.id), message,
               {"actor": actor, **(headers or {})})
    return order
