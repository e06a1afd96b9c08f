"""``PgOutbox``: outgoing messages on ``outbox`` (0001_orders.sql, 0010_outbox_parking.sql).

Rows are written with the state change they announce; the relay (``shared.messaging.outbox``)
takes due rows in id order, marks what it published, and records failures: a row retries later
(``retry_at``) or is parked (``parked_at``), and either way holds back the unsent rows of its
key behind it, so one order's events never change order.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

import asyncpg

from shared.db.repository import Headers, OutboxRow, ParkedRow

# An unsent row that keeps the rows of its key behind it waiting (``b``: the blocker).
_BLOCKER = ("b.published_at IS NULL AND (b.parked_at IS NOT NULL OR b.retry_at > $1)")
_ERROR_CHARS = 2000


class PgOutbox:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def add(self, topic: str, key: str | None, value: bytes, headers: Headers = ()) -> None:
        pairs = [[k, v.decode("utf-8", "replace")] for k, v in headers]
        await self._conn.execute(
            "INSERT INTO outbox (topic, key, value, headers) VALUES ($1, $2, $3, $4::jsonb)",
            topic, key, value, pairs)

    async def pending(self, now: datetime, limit: int) -> list[OutboxRow]:
        rows = await self._conn.fetch(
            "SELECT * FROM outbox o WHERE o.published_at IS NULL AND o.parked_at IS NULL"
            " AND (o.retry_at IS NULL OR o.retry_at <= $1)"
            " AND NOT EXISTS (SELECT 1 FROM outbox b WHERE b.key = o.key AND b.id < o.id"
            f" AND {_BLOCKER})"
            f" ORDER BY o.id LIMIT {int(limit)} FOR UPDATE SKIP LOCKED", now)
        return [_row(r) for r in rows]

    async def mark_sent(self, row_ids: Collection[int], at: datetime) -> None:
        if row_ids:
            await self._conn.execute(
                "UPDATE outbox SET published_at = $2, retry_at = NULL WHERE id = ANY($1)",
                list(row_ids), at)

    async def record_failure(self, row_id: int, error: str, *, retry_at: datetime | None,
                             parked_at: datetime | None) -> None:
        await self._conn.execute(
            "UPDATE outbox SET attempts = attempts + 1, last_error = $2, retry_at = $3,"
            " parked_at = $4 WHERE id = $1", row_id, error[:_ERROR_CHARS], retry_at, parked_at)

    async def parked(self, limit: int) -> list[ParkedRow]:
        rows = await self._conn.fetch(
            "SELECT o.*, (SELECT count(*) FROM outbox w WHERE w.key = o.key AND w.id > o.id"
            " AND w.published_at IS NULL) AS waiting_behind"
            " FROM outbox o WHERE o.parked_at IS NOT NULL AND o.published_at IS NULL"
            f" ORDER BY o.id LIMIT {int(limit)}")
        return [ParkedRow(_row(r), int(r["waiting_behind"])) for r in rows]

    async def unpark(self, row_ids: Collection[int] | None) -> list[int]:
        where = "parked_at IS NOT NULL AND published_at IS NULL"
        args: list[Any] = []
        if row_ids is not None:
            where += " AND id = ANY($1)"
            args.append(list(row_ids))
        rows = await self._conn.fetch(
            f"UPDATE outbox SET parked_at = NULL, retry_at = NULL, attempts = 0 WHERE {where}"
            " RETURNING id", *args)
        return sorted(r["id"] for r in rows)

    async def count_unsent(self) -> tuple[int, int]:
        row = await self._conn.fetchrow(
            "SELECT count(*) AS unsent, count(parked_at) AS parked FROM outbox"
            " WHERE published_at IS NULL")
        assert row is not None
        return int(row["unsent"]), int(row["parked"])

    async def prune_sent(self, before: datetime, limit: int) -> int:
        status = await self._conn.execute(
            "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE published_at < $1"
            f" ORDER BY published_at LIMIT {int(limit)})", before)
        return _count(status)


def _row(r: asyncpg.Record) -> OutboxRow:
    headers = tuple((k, v.encode()) for k, v in r["headers"])  # jsonb, decoded by the pool
    return OutboxRow(id=r["id"], topic=r["topic"], key=r["key"], value=bytes(r["value"]),
                     headers=headers, created_at=r["created_at"], attempts=r["attempts"],
                     last_error=r["last_error"], parked_at=r["parked_at"])


def _count(status: str) -> int:
    """The row count of an asyncpg command status such as ``DELETE 42``."""
    return int(status.rsplit(" ", 1)[-1])
