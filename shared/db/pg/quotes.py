"""``PgQuoteCache``: the freight quotes every placer process shares (table ``quote_cache``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg


class PgQuoteCache:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def get(self, key: str, now: datetime) -> Any | None:
        # jsonb comes back decoded: create_pool registers the JSON codec
        return await self._conn.fetchval(
            "SELECT quote FROM quote_cache WHERE key = $1 AND expires_at > $2", key, now)

    async def put(self, key: str, quote: Any, *, quoted_at: datetime,
                  expires_at: datetime) -> None:
        await self._conn.execute(
            "INSERT INTO quote_cache (key, quote, quoted_at, expires_at)"
            " VALUES ($1, $2::jsonb, $3, $4) ON CONFLICT (key) DO UPDATE SET"
            " quote = EXCLUDED.quote, quoted_at = EXCLUDED.quoted_at,"
            " expires_at = EXCLUDED.expires_at", key, quote, quoted_at, expires_at)

    async def forget(self, key: str) -> None:
        await self._conn.execute("DELETE FROM quote_cache WHERE key = $1", key)

    async def prune(self, before: datetime, limit: int) -> int:
        deleted = await self._conn.fetch(
            "DELETE FROM quote_cache WHERE key IN (SELECT key FROM quote_cache"
            " WHERE expires_at < $1 ORDER BY expires_at LIMIT $2) RETURNING 1", before, limit)
        return len(deleted)
