"""``PgUnitOfWork``: one connection and one transaction per unit of work (STYLE.md point 10).

One pool per process; each unit of work acquires a connection and opens a transaction that is
rolled back unless committed. Every role's repository works on that one connection.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

import asyncpg

from shared.db.pg.accounts import PgAdminAccounts, PgHealthReads, PgIdempotencyKeys
from shared.db.pg.orders import PgOrderRepository
from shared.db.pg.outbox import PgOutbox
from shared.db.pg.overview import PgOverview
from shared.db.pg.quotes import PgQuoteCache
from shared.db.pg.records import PgInbox, PgLocks, PgReplays, PgSettingsStore
from shared.db.pg.tracking import PgTrackingReads
from shared.db.repository import (
    AdminAccounts,
    HealthReads,
    IdempotencyKeys,
    Inbox,
    Locks,
    OrderRepository,
    Outbox,
    Overview,
    QuoteCache,
    Replays,
    SettingsStore,
    TrackingReads,
)
from shared.observability import metrics


class PgUnitOfWork:
    orders: OrderRepository
    tracking: TrackingReads
    outbox: Outbox
    inbox: Inbox
    settings: SettingsStore
    locks: Locks
    replays: Replays
    overview: Overview
    accounts: AdminAccounts
    idempotency: IdempotencyKeys
    health: HealthReads
    quotes: QuoteCache

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._conn: asyncpg.Connection | None = None
        self._tx: Any = None
        self._committed = False

    async def __aenter__(self) -> PgUnitOfWork:
        conn = self._conn = await self._pool.acquire()
        self._tx = conn.transaction()
        try:
            await self._tx.start()
        except BaseException:  # cancelled in BEGIN (a stop): no __aexit__ releases it, and
            conn.terminate()  # pool.close() would wait for it for ever; its state is unknown
            await self._pool.release(conn)
            self._conn = None
            raise
        self._committed = False
        self._orders = PgOrderRepository(conn)
        self.orders, self.tracking = self._orders, PgTrackingReads(conn)
        self.outbox, self.inbox = PgOutbox(conn), PgInbox(conn)
        self.settings, self.locks, self.replays = (PgSettingsStore(conn), PgLocks(conn),
                                                   PgReplays(conn))
        self.overview, self.accounts = PgOverview(conn), PgAdminAccounts(conn)
        self.idempotency, self.health = PgIdempotencyKeys(conn), PgHealthReads(conn)
        self.quotes = PgQuoteCache(conn)
        return self

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        try:
            if not self._committed:
                await self._tx.rollback()
        finally:
            await self._pool.release(self._conn)
            self._conn = None

    async def commit(self) -> None:
        await self._tx.commit()
        self._committed = True
        metrics.orders_changed(self._orders.changes)
