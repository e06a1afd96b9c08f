"""``PgTrackingReads``: when each order was last read from SUNSKY, and the sweep's queries
(0003_tracking.sql, 0005_tracking_fixes.sql)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

import asyncpg

from shared.db.pg.orders import with_items
from shared.domain.order import Order, OrderStatus


class PgTrackingReads:
    _TRACKED = "status = ANY($1) AND sunsky_order_number IS NOT NULL"
    _LEAST_READ = "GREATEST(sunsky_synced_at, sunsky_tried_at) NULLS FIRST, placed_at, id"

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def list_tracked(self, statuses: Collection[OrderStatus], placed_from: datetime,
                           limit: int, *, after: tuple[datetime, int] | None = None
                           ) -> Sequence[Order]:
        # (placed_at, id) < (the last page's): keyset paging, newest first
        page = " AND (placed_at, id) < ($4, $5)" if after else ""
        rows = await self._conn.fetch(
            f"SELECT * FROM orders WHERE {self._TRACKED} AND placed_at >= $2{page}"
            " ORDER BY placed_at DESC, id DESC LIMIT $3",
            [s.value for s in statuses], placed_from, limit, *(after or ()))
        return await with_items(self._conn, rows)

    async def list_stragglers(self, statuses: Collection[OrderStatus], placed_before: datetime,
                              limit: int) -> Sequence[Order]:
        rows = await self._conn.fetch(
            f"SELECT * FROM orders WHERE {self._TRACKED} AND (placed_at < $2 OR placed_at IS NULL)"
            f" ORDER BY {self._LEAST_READ} LIMIT $3",
            [s.value for s in statuses], placed_before, limit)
        return await with_items(self._conn, rows)

    async def least_recently_read(self, order_ids: Collection[int],
                                  limit: int) -> Sequence[Order]:
        rows = await self._conn.fetch(
            f"SELECT * FROM orders WHERE id = ANY($1) ORDER BY {self._LEAST_READ} LIMIT $2",
            list(order_ids), limit)
        return await with_items(self._conn, rows)

    async def synced_at(self, order_id: int) -> datetime | None:
        value: datetime | None = await self._conn.fetchval(
            "SELECT sunsky_synced_at FROM orders WHERE id = $1", order_id)
        return value

    async def mark_synced(self, order_id: int, at: datetime) -> None:
        # GREATEST skips NULL: the first read sets it, later ones only move it forwards
        await self._conn.execute(
            "UPDATE orders SET sunsky_synced_at = GREATEST(sunsky_synced_at, $2) WHERE id = $1",
            order_id, at)

    async def mark_tried(self, order_id: int, at: datetime) -> None:
        await self._conn.execute(
            "UPDATE orders SET sunsky_tried_at = GREATEST(sunsky_tried_at, $2) WHERE id = $1",
            order_id, at)
