"""The placer's self-healing sweep: orders whose message was lost or whose attempt died.

- Placing for longer than ``stuck_placing_seconds`` (a crash between intent and result, or a
  lost ``order.ready``): re-published; the placer then looks the order up by siteNumber and marks
  it Placed when SUNSKY has it, or places it when SUNSKY confirms it has none.
- Ready to Place for longer than ``stale_ready_seconds`` while auto-place is on (a lost
  ``order.ready``, e.g. the broker lost its topics): re-published.

Every placer process runs it; an advisory lock lets one at a time do the work.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from shared.db.repository import AUTO_PLACE, UnitOfWork
from shared.domain.order import OrderStatus
from shared.lifecycle.requeue import requeue
from shared.messaging.emit import utcnow
from shared.settings import Settings

logger = logging.getLogger(__name__)

ACTOR = "placer-sweep"


class PlacerSweep:
    def __init__(self, settings: Settings, uow: Callable[[], UnitOfWork], *,
                 committed: Callable[[], None] = lambda: None,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self._settings, self._uow, self._committed, self._clock = settings, uow, committed, clock

    async def run_once(self) -> int:
        now = self._clock()
        async with self._uow() as uow:
            if not await uow.locks.try_lock("placer-sweep"):
                return 0
            stuck_before = now - timedelta(seconds=self._settings.stuck_placing_seconds)
            found = await uow.orders.stale(OrderStatus.PLACING, stuck_before, limit=200)
            if await uow.settings.get(AUTO_PLACE):
                ready_before = now - timedelta(seconds=self._settings.stale_ready_seconds)
                found += await uow.orders.stale(OrderStatus.READY_TO_PLACE, ready_before, 200)
            for order in found:
                await requeue(uow, self._settings, order, actor=ACTOR, reason="sweep",
                              note="sweep", now=now)
            await uow.commit()
        if found:
            self._committed()
            logger.warning("sweep re-published %d stuck orders: %s", len(found),
                           [(o.id, o.status.value) for o in found])
        return len(found)
