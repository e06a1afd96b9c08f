"""``PgIngestLedger``: the ingest's accepted webhook ids in PostgreSQL (0020_ingest_webhooks.sql).

A claim holds one connection and one transaction from the insert until ``confirm()`` commits
(or the claim ends and rolls back): three round trips for a whole group of requests. Inserting
an id that another open claim has inserted waits on the primary key until that transaction
ends: that wait serialises concurrent duplicates, across ingest processes too. The rows go in
sorted by id, so two claims sharing ids take them in one order and cannot deadlock.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Collection, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

import asyncpg

from shared.db.ledger import Claim, LedgerEntry

# New, or accepted longer ago than the retention (then taken over): the id comes back.
_CLAIM = """
INSERT INTO ingest_webhooks AS w (webhook_id, event_type, invoice_id, body_sha256, accepted_at)
SELECT e.id, e.type, e.invoice, e.digest, $5
  FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[]) AS e(id, type, invoice, digest)
 ORDER BY e.id
ON CONFLICT (webhook_id) DO UPDATE
   SET event_type = EXCLUDED.event_type, invoice_id = EXCLUDED.invoice_id,
       body_sha256 = EXCLUDED.body_sha256, accepted_at = EXCLUDED.accepted_at
 WHERE w.accepted_at < $6
RETURNING webhook_id
"""
_PURGE = """
DELETE FROM ingest_webhooks WHERE webhook_id IN (
    SELECT webhook_id FROM ingest_webhooks WHERE accepted_at < $1 LIMIT $2)
"""
_CONNECTION_LOST = (asyncpg.InterfaceError, OSError, asyncpg.PostgresConnectionError)


class _PgClaim:
    def __init__(self, conn: asyncpg.Connection, tx: asyncpg.transaction.Transaction,
                 fresh: frozenset[str], reused: frozenset[str]) -> None:
        self._conn, self._tx, self.fresh, self.reused = conn, tx, fresh, reused
        self.confirmed = False

    async def confirm(self, published: Collection[str]) -> None:
        failed = sorted(self.fresh - set(published))
        if failed:
            await self._conn.execute(
                "DELETE FROM ingest_webhooks WHERE webhook_id = ANY($1::text[])", failed)
        await self._tx.commit()
        self.confirmed = True


class PgIngestLedger:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @asynccontextmanager
    async def claim(self, entries: Sequence[LedgerEntry], *, now: datetime,
                    retention: timedelta) -> AsyncIterator[Claim]:
        async with self._pool.acquire() as conn:
            tx = conn.transaction()
            await tx.start()
            claim: _PgClaim | None = None
            try:
                claim = await self._claim(conn, tx, entries, now, retention)
                yield claim
            finally:
                if claim is None or not claim.confirmed:
                    with contextlib.suppress(*_CONNECTION_LOST):  # must not hide the cause
                        await tx.rollback()

    @staticmethod
    async def _claim(conn: asyncpg.Connection, tx: asyncpg.transaction.Transaction,
                     entries: Sequence[LedgerEntry], now: datetime,
                     retention: timedelta) -> _PgClaim:
        rows = await conn.fetch(_CLAIM, [e.webhook_id for e in entries],
                                [e.event_type for e in entries],
                                [e.invoice_id for e in entries],
                                [e.body_sha256 for e in entries], now, now - retention)
        fresh = frozenset(r["webhook_id"] for r in rows)
        taken = {e.webhook_id: e.body_sha256 for e in entries if e.webhook_id not in fresh}
        reused: frozenset[str] = frozenset()
        if taken:
            accepted = await conn.fetch(
                "SELECT webhook_id, body_sha256 FROM ingest_webhooks"
                " WHERE webhook_id = ANY($1::text[])", list(taken))
            reused = frozenset(r["webhook_id"] for r in accepted
                               if r["body_sha256"] != taken[r["webhook_id"]])
        return _PgClaim(conn, tx, fresh, reused)

    async def purge(self, before: datetime, *, limit: int = 10_000) -> int:
        status = await self._pool.execute(_PURGE, before, limit)
        return int(status.split()[-1])
