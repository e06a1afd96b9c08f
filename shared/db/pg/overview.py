"""``PgOverview``: the admin's summaries (0016_order_counts.sql for the tab counts)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from decimal import Decimal

import asyncpg

from shared.db.admin import FailureGroup, MoneyWait, StatusCounts
from shared.domain.order import OrderStatus

# Fold the appended +1/-1 rows into one row per bucket once this many have piled up.
FOLD_AFTER_ROWS = 500


class PgOverview:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def status_counts(self) -> StatusCounts:
        rows = await self._conn.fetch(
            "SELECT status, needs_action, sum(n)::bigint AS n, count(*) AS rows"
            " FROM order_status_counts GROUP BY 1, 2")
        if sum(r["rows"] for r in rows) > FOLD_AFTER_ROWS + len(rows):
            await self._fold()
        by_status = dict.fromkeys(OrderStatus, 0)
        for r in rows:
            by_status[OrderStatus(r["status"])] += r["n"]
        needs_action = sum(r["n"] for r in rows if r["needs_action"])
        return StatusCounts(by_status, needs_action)

    async def _fold(self) -> None:
        """Replace the rows read so far by their sums; rows appended meanwhile stay. One folder
        at a time (the others just read the sums, which are right either way)."""
        async with self._conn.transaction():
            if not await self._conn.fetchval(
                    "SELECT pg_try_advisory_xact_lock(hashtext(current_schema() || ':counts'))"):
                return
            await self._conn.execute(
                "WITH gone AS (DELETE FROM order_status_counts RETURNING *)"
                " INSERT INTO order_status_counts"
                " SELECT status, needs_action, sum(n) FROM gone GROUP BY 1, 2")

    async def failure_groups(self) -> list[FailureGroup]:
        rows = await self._conn.fetch(
            "SELECT coalesce(last_error_code, '') AS code, coalesce(last_error_kind, '') AS kind,"
            " count(*) AS n FROM orders WHERE status = 'api_failed' GROUP BY 1, 2"
            " ORDER BY n DESC, code")
        return [FailureGroup(r["code"], r["kind"], r["n"]) for r in rows]

    async def waiting_for_money(self) -> MoneyWait:
        row = await self._conn.fetchrow(
            "SELECT count(*) AS n, coalesce(sum(coalesce(quoted_total, total, 0)), 0) AS amount"
            " FROM orders WHERE status = 'api_failed' AND last_error_code = 'BALANCE_NOT_ENOUGH'")
        assert row is not None
        return MoneyWait(row["n"], Decimal(row["amount"]))

    async def stuck(self, statuses: Collection[OrderStatus], before: datetime
                    ) -> dict[OrderStatus, int]:
        rows = await self._conn.fetch(  # orders_status_idx (status, updated_at)
            "SELECT status, count(*) AS n FROM orders WHERE status = ANY($1::text[])"
            " AND updated_at < $2 GROUP BY status", [s.value for s in statuses], before)
        return {OrderStatus(r["status"]): r["n"] for r in rows}
