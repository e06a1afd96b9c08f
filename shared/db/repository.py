"""Ports for persistence (STYLE.md point 6), one per role, reached from one ``UnitOfWork``:

==================  ===========================================================================
``uow.orders``      the order aggregate (items, shipping, history) and the queries that pick
                    orders for work (due retries, balance waiters, stale orders)
``uow.tracking``    when each order was last read from SUNSKY, and the tracker's sweep queries
``uow.outbox``      outgoing messages, written with the state change; the relay's queue (what
                    to publish, what failed, what is parked) and its pruning
``uow.inbox``       incoming messages already handled (idempotent consumers), ignored invoices
``uow.settings``    the shop's settings (auto-place, shipping-way policy) and small state
``uow.locks``       transaction-scoped advisory locks: one sweeper at a time across processes
``uow.replays``     the audit of admin replays
``uow.overview``    the admin's summaries: counts per status tab, failures by code, money waited
                    for
``uow.accounts``    admin users (hashed passwords), API tokens and console sessions (hashed)
``uow.idempotency`` responses of admin commands sent with an ``Idempotency-Key``
``uow.health``      service heartbeats and the outbox backlog
``uow.quotes``      freight quotes every placer shares for ``QUOTE_CACHE_SECONDS`` (issue 12)
==================  ===========================================================================

Adapters: ``shared.db.pg`` (asyncpg) and ``tests.fakes`` (in memory); one contract suite
(tests/integration/test_repository_contract.py) holds both to the same behaviour.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol

from shared.db.admin import AdminAccounts as AdminAccounts
from shared.db.admin import HealthReads as HealthReads
from shared.db.admin import IdempotencyKeys as IdempotencyKeys
from shared.db.admin import Overview as Overview
from shared.db.admin import ReplayAudit as ReplayAudit
from shared.db.admin import ReplayRecord as ReplayRecord
from shared.domain.order import Order, OrderStatus, StatusChange

Headers = Sequence[tuple[str, bytes]]

AUTO_PLACE = "auto_place"
SHIPPING_WAY_POLICY = "shipping_way_policy"


@dataclass(frozen=True)
class OrderFilter:
    """Which orders, newest first (``created_at``, then ``id``): the one query object behind
    the admin list, its CSV export and bulk selections. Both adapters give the same answer
    (tests/integration/test_repository_contract.py)."""

    status: OrderStatus | None = None
    # API Failed and waiting for a person (``shared.domain.retry.waits_for_person``)
    needs_action: bool = False
    created_from: datetime | None = None
    created_to: datetime | None = None
    # the client id exactly, or part of the company, contact name or e-mail (any case);
    # % and _ are plain characters
    customer: str | None = None
    error_code: str | None = None
    # exactly an invoice number, SUNSKY order number or tracking number, or a customer as above
    search: str | None = None
    # "stuck": not Delivered/Cancelled and unchanged since this moment
    updated_before: datetime | None = None
    order_ids: tuple[int, ...] = ()
    # keyset paging: (created_at, id) of the last order of the previous page
    after: tuple[datetime, int] | None = None
    limit: int = 100


class OrderRepository(Protocol):
    async def get(self, order_id: int, *, for_update: bool = False) -> Order | None: ...
    async def get_by_invoice(self, invoice_id: str, *,
                             for_update: bool = False) -> Order | None: ...
    async def get_by_sunsky_number(self, number: str, *,
                                   for_update: bool = False) -> Order | None: ...
    async def add(self, order: Order) -> Order: ...
    async def save(self, order: Order, *, items: bool = False) -> Order: ...
    async def history(self, order_id: int) -> list[StatusChange]: ...
    async def list_orders(self, flt: OrderFilter) -> list[Order]: ...

    async def list_by_sunsky_numbers(self, numbers: Collection[str]) -> Sequence[Order]:
        """The orders among SUNSKY ``numbers`` (one query), in no particular order."""
        ...

    async def due_retries(self, now: datetime, limit: int) -> list[Order]:
        """API Failed orders whose ``next_attempt_at`` has come, locked, skipping locked ones."""
        ...

    async def waiting_for_balance(self, limit: int) -> list[Order]:
        """API Failed for BALANCE_NOT_ENOUGH, oldest first, locked, skipping locked ones."""
        ...

    async def stale(self, status: OrderStatus, before: datetime, limit: int) -> list[Order]:
        """Orders in ``status`` untouched (and unswept) since ``before``, locked."""
        ...


class TrackingReads(Protocol):
    async def list_tracked(self, statuses: Collection[OrderStatus], placed_from: datetime,
                           limit: int, *, after: tuple[datetime, int] | None = None
                           ) -> Sequence[Order]:
        """Orders in ``statuses`` that have a SUNSKY order, placed at or after ``placed_from``,
        newest placed first; a next page starts ``after`` the (placed_at, id) of the last."""
        ...

    async def list_stragglers(self, statuses: Collection[OrderStatus], placed_before: datetime,
                              limit: int) -> Sequence[Order]:
        """Like ``list_tracked`` but placed before ``placed_before`` (or never), least recently
        read first (the later of ``mark_synced`` and ``mark_tried``; never read first)."""
        ...

    async def least_recently_read(self, order_ids: Collection[int],
                                  limit: int) -> Sequence[Order]:
        """The orders among ``order_ids``, least recently read first, like ``list_stragglers``."""
        ...

    async def synced_at(self, order_id: int) -> datetime | None:
        """When the SUNSKY view last applied to the order was read (``mark_synced``)."""
        ...

    async def mark_synced(self, order_id: int, at: datetime) -> None:
        """A view read at ``at`` was applied; never moves the time backwards."""
        ...

    async def mark_tried(self, order_id: int, at: datetime) -> None:
        """The order was read alone at ``at``, successfully or not (rotates the re-reads)."""
        ...


@dataclass(frozen=True)
class OutboxRow:
    """One outgoing message and how its publication went so far."""

    id: int
    topic: str
    key: str | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...]
    created_at: datetime | None = None
    attempts: int = 0
    last_error: str | None = None
    parked_at: datetime | None = None


@dataclass(frozen=True)
class ParkedRow:
    row: OutboxRow
    waiting_behind: int  # unsent rows of the same key held back by this one


class Outbox(Protocol):
    async def add(self, topic: str, key: str | None, value: bytes,
                  headers: Headers = ()) -> None: ...

    async def pending(self, now: datetime, limit: int) -> list[OutboxRow]:
        """Unsent rows due for publication, in id order, locked (skipping locked ones). A row
        waits while an earlier unsent row of the same key is parked or not due yet: one
        message that cannot be published never overtakes, nor is overtaken by, its order's
        others, and holds up nothing else."""
        ...

    async def mark_sent(self, row_ids: Collection[int], at: datetime) -> None: ...

    async def record_failure(self, row_id: int, error: str, *, retry_at: datetime | None,
                             parked_at: datetime | None) -> None:
        """One more failed attempt; try again at ``retry_at``, or park it (``parked_at``)."""
        ...

    async def parked(self, limit: int) -> list[ParkedRow]:
        """Parked rows, oldest first, with how many rows of their key wait behind them."""
        ...

    async def unpark(self, row_ids: Collection[int] | None) -> list[int]:
        """Give parked rows (these, or all) a fresh set of attempts; returns their ids."""
        ...

    async def count_unsent(self) -> tuple[int, int]:
        """(unsent rows, parked rows among them)."""
        ...

    async def prune_sent(self, before: datetime, limit: int) -> int:
        """Delete at most ``limit`` rows published before ``before``; returns how many."""
        ...


class Inbox(Protocol):
    async def mark_processed(self, consumer: str, message_id: str) -> bool:
        """True the first time ``consumer`` sees ``message_id``; False for a duplicate."""
        ...

    async def record_ignored(self, invoice_id: str, event_id: str, event_type: str,
                             reason: str) -> None:
        """An invoice event that is not an order (a draft, no SUNSKY line), with why."""
        ...

    async def prune(self, before: datetime, limit: int) -> int:
        """Forget at most ``limit`` message ids processed before ``before``; returns how many."""
        ...


class SettingsStore(Protocol):
    async def get(self, name: str) -> Any: ...
    async def set(self, name: str, value: Any, *, by: str) -> None: ...


class Locks(Protocol):
    async def try_lock(self, name: str) -> bool:
        """A transaction-scoped advisory lock: one sweeper at a time across processes."""
        ...


class Replays(Protocol):
    async def record(self, replay: ReplayRecord) -> int: ...

    async def recent(self, limit: int) -> list[ReplayAudit]:
        """The latest runs, newest first."""
        ...


class QuoteCache(Protocol):
    """SUNSKY's answers to getPricesAndFreights (as JSON) by ``quoting.quote_key``."""

    async def get(self, key: str, now: datetime) -> Any | None:
        """The quote stored under ``key`` unless it expired by ``now``."""
        ...

    async def put(self, key: str, quote: Any, *, quoted_at: datetime,
                  expires_at: datetime) -> None:
        """Store (or replace) the quote under ``key``."""
        ...

    async def forget(self, key: str) -> None: ...

    async def prune(self, before: datetime, limit: int) -> int:
        """Delete at most ``limit`` quotes expired before ``before``; returns how many."""
        ...


class UnitOfWork(Protocol):
    """One transaction per message: rolled back unless ``commit()`` was called."""

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

    async def __aenter__(self) -> UnitOfWork: ...
    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None: ...
    async def commit(self) -> None: ...
