"""Sending an order (back) to the placer: the one way every placement and retry does it.

Used by the invoice listener (``ready_message``), the retrier (automatic retries, balance
top-ups), the admin use cases (place, retry, replay) and the placer's sweeps. The status change
goes through the domain's transition table and ``order.ready`` through the outbox, in the
caller's transaction.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from schemas.orders import OrderReady, ReadyReason
from shared.db.repository import UnitOfWork
from shared.domain.order import Order, OrderStatus
from shared.domain.retry import RetryPolicy
from shared.messaging.emit import emit, new_message_id
from shared.settings import TOPIC_ORDER_READY, Settings


def retry_policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy(first_delay=settings.retry_first_delay_seconds,
                       factor=settings.retry_factor, max_delay=settings.retry_max_delay_seconds,
                       max_attempts=settings.retry_max_attempts, jitter=settings.retry_jitter,
                       settle=settings.placing_settle_seconds)


async def requeue(uow: UnitOfWork, settings: Settings, order: Order, *, actor: str,
                  reason: ReadyReason, note: str, now: datetime,
                  headers: dict[str, str] | None = None, auto_retries: int | None = None) -> Order:
    """API Failed -> Ready to Place (if needed), then ``order.ready``. Returns the saved order.

    ``auto_retries``: the retrier passes the count including this retry; a person's retry or a
    top-up passes 0 (a fresh start); sweeps pass nothing (unchanged)."""
    if order.status == OrderStatus.API_FAILED:
        order = order.transition(OrderStatus.READY_TO_PLACE, reason=note, actor=actor, now=now)
    order = replace(order, next_attempt_at=None, retries_exhausted=False)
    if auto_retries is not None:
        order = replace(order, auto_retries=auto_retries)
    if reason == "sweep":
        order = replace(order, last_swept_at=now)
    order = await uow.orders.save(order)
    await emit(uow, settings.topic(TOPIC_ORDER_READY), str(order.id),
               ready_message(order, reason, now), {"actor": actor, **(headers or {})})
    return order


def ready_message(order: Order, reason: ReadyReason, now: datetime) -> OrderReady:
    """The placer's work item for a saved order (the one place ``OrderReady`` is built)."""
    assert order.id is not None
    return OrderReady(message_id=new_message_id(), order_id=order.id,
                      invoice_id=order.invoice_id, occurred_at=now, reason=reason,
                      attempt=order.attempts)
