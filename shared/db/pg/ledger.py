"""``PgIngestLedger``: the ingest's accepted webhook ids in PostgreSQL (0020_ingest_webhooks.sql).

A claim holds one connection and one transaction from the insert until ``confirm()`` commits
(or the claim ends and rolls back). The insert of an id another open claim has inserted waits
on the primary key until that transaction ends: that wait is what serialises concurrent
duplicates, across ingest processes too.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

import asyncpg

from shared.db.ledger import Claim, LedgerEntry

# New, or accepted longer ago than the retention (then taken over): a row comes back.
_CLAIM = """
INSERT INTO ingest_webhooks (webhook_id, event_type, invoice_id, body_sha256, accepted_at)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (webhook_id) DO UPDATE
   SET event_type = EXCLUDED.event_type, invoice_id = EXCLUDED.invoice_id,
       body_sha256 = EXCLUDED.body_sha256, accepted_at = EXCLUDED.accepted_at
 WHERE ingest_webhooks.accepted_at < $6
RETURNING 1
"""
_PURGE = """
DELETE FROM ingest_webhooks WHERE webhook_id IN (
    SELECT webhook_id FROM ingest_webhooks WHERE accepted_at < $1 LIMIT $2)
"""


class _PgClaim:
    def __init__(self, tx: asyncpg.transaction.Transaction, fresh: bool, same_body: bool) -> None:
        self._tx, self.fresh, self.same_body = tx, fresh, same_body
        self.confirmed = False

    async def confirm(self) -> None:
        assert self.fresh, "only a fresh claim is confirmed"
        await self._tx.commit()
        self.confirmed = True


class PgIngestLedger:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @asynccontextmanager
    async def claim(self, entry: LedgerEntry, *, now: datetime,
                    retention: timedelta) -> AsyncIterator[Claim]:
        async with self._pool.acquire() as conn:
            tx = conn.transaction()
            await tx.start()
            claim: _PgClaim | None = None
            try:
                claim = await self._claim(conn, tx, entry, now, retention)
                yield claim
            finally:
                if claim is None or not claim.confirmed:
                    # a broken connection must not hide why the claim ended
                    with contextlib.suppress(asyncpg.InterfaceError, OSError,
                                             asyncpg.PostgresConnectionError):
                        await tx.rollback()

    @staticmethod
    async def _claim(conn: asyncpg.Connection, tx: asyncpg.transaction.Transaction,
                     entry: LedgerEntry, now: datetime, retention: timedelta) -> _PgClaim:
        row = await conn.fetchrow(_CLAIM, entry.webhook_id, entry.event_type, entry.invoice_id,
                                  entry.body_sha256, now, now - retention)
        if row is not None:
            return _PgClaim(tx, fresh=True, same_body=True)
        accepted = await conn.fetchval(
            "SELECT body_sha256 FROM ingest_webhooks WHERE webhook_id = $1", entry.webhook_id)
        return _PgClaim(tx, fresh=False, same_body=accepted == entry.body_sha256)

    async def purge(self, before: datetime, *, limit: int = 10_000) -> int:
        status = await self._pool.execute(_PURGE, before, limit)
        return int(status.split()[-1])
