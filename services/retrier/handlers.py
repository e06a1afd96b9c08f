"""The retrier: decides each failed order's next try, and releases retries when they are due.

Waiting happens in PostgreSQL (``orders.next_attempt_at``), not in the agent: a retry due in ten
minutes never blocks one due now, and a restart loses nothing. ``release_due`` runs every
``retry_scan_seconds``; ``release_for_balance`` at most every ``balance_check_seconds`` (one
``getBalance``), releasing orders that wait for money, oldest first, as far as it reaches.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from schemas.orders import OrderApiFailed
from shared.db.repository import UnitOfWork
from shared.domain.retry import plan_balance_retries, schedule_retry
from shared.lifecycle.requeue import requeue, retry_policy
from shared.messaging.emit import utcnow
from shared.messaging.envelope import Envelope
from shared.messaging.policy import MessageRejected, decode_order_message
from shared.settings import Settings
from shared.sunsky.port import Sunsky

logger = logging.getLogger(__name__)

CONSUMER = "retrier"
ACTOR = "retrier"


def decode(envelope: Envelope) -> OrderApiFailed:
    return decode_order_message(envelope, OrderApiFailed)


class Retrier:
    def __init__(self, settings: Settings, uow: Callable[[], UnitOfWork], sunsky: Sunsky, *,
                 committed: Callable[[], None] = lambda: None,
                 clock: Callable[[], datetime] = utcnow,
                 rand: Callable[[], float] = random.random) -> None:
        self._settings, self._uow, self._sunsky = settings, uow, sunsky
        self._committed, self._clock, self._rand = committed, clock, rand
        self.policy = retry_policy(settings)

    async def handle(self, envelope: Envelope) -> None:
        message = decode(envelope)
        await HANDLERS[message.type](self, message, envelope)

    async def on_api_failed(self, message: OrderApiFailed, envelope: Envelope) -> None:
        async with self._uow() as uow:
            if not await uow.inbox.mark_processed(CONSUMER, message.message_id):
                return
            order = await uow.orders.get(message.order_id, for_update=True)
            if order is None:
                raise MessageRejected("unknown_order", f"order {message.order_id} not found")
            decision = schedule_retry(order, self.policy, self._clock(), self._rand())
            await uow.orders.save(decision.order)
            await uow.commit()
        logger.info("order %s [%s] from %s: %s", order.id, message.error_code, envelope.where(),
                    decision.reason)

    async def release_due(self) -> int:
        """Re-publish every order whose retry time has come."""
        now = self._clock()
        async with self._uow() as uow:
            due = await uow.orders.due_retries(now, limit=200)
            for order in due:
                await requeue(uow, self._settings, order, actor=ACTOR, reason="retry",
                              note=f"automatic retry {order.auto_retries + 1}", now=now,
                              auto_retries=order.auto_retries + 1)
            await uow.commit()
        if due:
            self._committed()
            logger.info("released %d due retries: %s", len(due), [o.id for o in due])
        return len(due)

    async def release_for_balance(self) -> int:
        """One getBalance; release waiting orders oldest first as far as it reaches."""
        now = self._clock()
        async with self._uow() as uow:
            if not await uow.locks.try_lock("retrier-balance"):
                return 0
            waiting = await uow.orders.waiting_for_balance(limit=500)
            if not waiting:
                return 0
            balance = await self._sunsky.get_balance()
            chosen = plan_balance_retries(waiting, balance)
            for order in chosen:
                await requeue(uow, self._settings, order, actor=ACTOR,
                              reason="balance_topped_up",
                              note=f"SUNSKY balance {balance} covers it", now=now,
                              auto_retries=0)
            await uow.commit()
        if chosen:
            self._committed()
        logger.info("balance %s: %d of %d waiting orders released", balance, len(chosen),
                    len(waiting))
        return len(chosen)


Handler = Callable[[Retrier, Any, Envelope], Awaitable[None]]

HANDLERS: dict[str, Handler] = {
    "order.api_failed": Retrier.on_api_failed,
}
