"""Gauges read from PostgreSQL when Prometheus scrapes: the outbox backlog and parked rows,
orders stuck in an in-between status, orders waiting for money and what they need, orders per
status.

One service exports them (the retrier; README "Operations"), so a dashboard does not add up
copies. Each read is one unit of work of index-bound queries (the outbox's partial index on
unsent rows, ``orders_status_idx``, ``orders_error_code_idx``, the folded tab counts), never a
scan of the orders table, and is reused for ``MIN_INTERVAL_SECONDS``: however often it is
scraped, the database sees at most one read per interval. A failed read leaves the previous
values and is logged; the scrape still answers.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from shared.db.repository import UnitOfWork
from shared.domain.order import OrderStatus
from shared.observability import metrics

logger = logging.getLogger(__name__)

MIN_INTERVAL_SECONDS = 10.0
# In-between statuses: an order should leave each within minutes.
WATCHED = (OrderStatus.READY_TO_PLACE, OrderStatus.PLACING)


class DatabaseGauges:
    def __init__(self, uow: Callable[[], UnitOfWork], stuck_after_seconds: float, *,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._uow, self._stuck_after, self._clock = uow, stuck_after_seconds, clock
        self._read_at = float("-inf")

    async def refresh(self) -> None:
        if time.monotonic() - self._read_at < MIN_INTERVAL_SECONDS:
            return
        self._read_at = time.monotonic()
        try:
            await self._read()
        except Exception as exc:
            logger.warning("database gauges not read (%r); the previous values stay", exc)

    async def _read(self) -> None:
        before = self._clock() - timedelta(seconds=self._stuck_after)
        async with self._uow() as uow:
            unsent, parked = await uow.outbox.count_unsent()
            stuck = await uow.overview.stuck(WATCHED, before)
            waiting = await uow.overview.waiting_for_money()
            counts = await uow.overview.status_counts()
            await uow.commit()  # status_counts may fold its rows
        metrics.OUTBOX_UNSENT.set(unsent)
        metrics.OUTBOX_PARKED.set(parked)
        for status in WATCHED:
            metrics.ORDERS_STUCK.labels(status.value).set(stuck.get(status, 0))
        metrics.WAITING_FOR_MONEY.set(waiting.orders)
        metrics.WAITING_AMOUNT.set(float(waiting.amount))
        for status, n in counts.by_status.items():
            metrics.ORDERS.labels(status.value).set(n)
        metrics.GAUGES_READ_AT.set(time.time())
