"""Housekeeping: what grows without bound is pruned, in bounded batches (issue 9, section 4).

Sent ``outbox`` rows and ``processed_messages`` ids older than ``HOUSEKEEPING_RETENTION_DAYS``
are deleted, ``HOUSEKEEPING_BATCH`` rows per short transaction, so pruning a large backlog never
holds locks for long nor bloats one transaction. Every service runs it every
``HOUSEKEEPING_INTERVAL_SECONDS``; an advisory lock per batch keeps two processes from doing the
same work. Unsent and parked outbox rows are never pruned. Freight quotes that expired
(``QUOTE_CACHE_SECONDS``, issue 12) go in the same runs.

The retention is also how long a consumer recognises a redelivered message id: a message
redelivered later than that is handled again, which every consumer absorbs anyway by the order's
status (a paid invoice whose order exists changes nothing, a placed order is never placed again).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.db.repository import UnitOfWork
from shared.settings import Settings

logger = logging.getLogger(__name__)

LOCK = "housekeeping"
MAX_BATCHES_PER_RUN = 1000


@dataclass
class PruneReport:
    outbox: int = 0
    processed: int = 0
    quotes: int = 0
    batches: int = 0


class Housekeeper:
    def __init__(self, settings: Settings, uow: Callable[[], UnitOfWork],
                 clock: Callable[[], datetime]) -> None:
        self._uow, self._clock = uow, clock
        self._retention = timedelta(days=settings.housekeeping_retention_days)
        self._batch = settings.housekeeping_batch

    async def run_once(self) -> PruneReport:
        """Prune until nothing older than the retention is left (or another process prunes)."""
        now = self._clock()
        before = now - self._retention
        report = PruneReport()
        for table in ("outbox", "processed", "quotes"):
            while report.batches < MAX_BATCHES_PER_RUN:
                deleted = await self._batch_of(table, now if table == "quotes" else before)
                if deleted is None:
                    return report  # another process holds the lock: it does this run
                report.batches += 1
                setattr(report, table, getattr(report, table) + deleted)
                if deleted < self._batch:
                    break
        if report.outbox or report.processed:
            logger.info("housekeeping: deleted %d sent outbox rows and %d processed message ids "
                        "older than %s in %d batches", report.outbox, report.processed,
                        f"{before:%Y-%m-%d %H:%M}", report.batches)
        return report

    async def _batch_of(self, table: str, before: datetime) -> int | None:
        async with self._uow() as uow:
            if not await uow.locks.try_lock(LOCK):
                return None
            if table == "outbox":
                deleted = await uow.outbox.prune_sent(before, self._batch)
            elif table == "quotes":
                deleted = await uow.quotes.prune(before, self._batch)
            else:
                deleted = await uow.inbox.prune(before, self._batch)
            await uow.commit()
        return deleted
