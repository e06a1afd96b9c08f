"""Transactional outbox relay (streaming-pitfalls.md section 6).

Handlers write outgoing messages into ``outbox`` in the same transaction as the state change;
this relay publishes pending rows and marks them sent. Every process runs a relay, but an
advisory lock lets one publish at a time, in id order: two relays working side by side could
publish ``order.delivered`` before the ``order.shipped`` another one still holds. (Writes for
one order are serialised by its row lock, so id order is that order's event order.) A crash
between publish and mark re-publishes: consumers dedupe.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any

import asyncpg

from shared.messaging.publisher import Publisher

logger = logging.getLogger(__name__)

BUSY_PAUSE = 0.02
BUSY_RETRIES = 50


class OutboxRelay:
    def __init__(self, pool: asyncpg.Pool, publisher: Publisher, *, batch: int = 500,
                 interval: float = 1.0) -> None:
        self._pool, self._publisher = pool, publisher
        self._batch, self._interval = batch, interval
        self._wake = asyncio.Event()

    def nudge(self) -> None:
        """Ask the running relay to flush now (handlers call it after a commit)."""
        self._wake.set()

    async def flush(self) -> int:
        """Publish pending rows; returns how many were sent."""
        sent, busy_waits = 0, 0
        while True:
            n = await self._flush_batch()
            if n is None:  # another relay is publishing; it may not see our newest rows
                busy_waits += 1
                if busy_waits > BUSY_RETRIES:
                    return sent
                await asyncio.sleep(BUSY_PAUSE)
                continue
            sent += n
            if n < self._batch:
                return sent

    async def _flush_batch(self) -> int | None:
        async with self._pool.acquire() as conn, conn.transaction():
            if not await conn.fetchval(
                    "SELECT pg_try_advisory_xact_lock(hashtext(current_schema() || ':outbox'))"):
                return None
            rows = await conn.fetch(
                "SELECT id, topic, key, value, headers FROM outbox WHERE published_at IS NULL"
                " ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED", self._batch)
            if not rows:
                return 0
            await self._publisher.publish_many([_record(r) for r in rows])
            await conn.execute("UPDATE outbox SET published_at = now() WHERE id = ANY($1)",
                               [r["id"] for r in rows])
            return len(rows)

    async def run(self) -> None:
        """Flush on every nudge, and at least every ``interval`` seconds, until cancelled."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval)
            self._wake.clear()
            try:
                await self.flush()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # broker or DB down: rows stay pending, try again later
                logger.warning("outbox relay: publish failed, will retry: %r", exc)
                await asyncio.sleep(self._interval)


def _record(row: Any) -> tuple[str, str | None, bytes, Sequence[tuple[str, bytes]]]:
    headers = row["headers"]  # jsonb, decoded by the pool's codec
    return row["topic"], row["key"], bytes(row["value"]), [(k, v.encode()) for k, v in headers]
