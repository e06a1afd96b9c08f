"""In-memory fakes for the ports (STYLE.md point 7): assert on their state, not on calls.

``FakeUnitOfWork`` keeps the same transactional behaviour as ``PgUnitOfWork`` (changes are
visible only after ``commit()``); ``tests/integration/test_repository_contract.py`` runs one
suite against both. ``FakeSunsky`` (``tests/fake_sunsky.py``) is held to the sandbox's behaviour
by ``tests/integration/test_sunsky_port_contract.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, cast

import asyncpg

from shared.db.repository import (
    AUTO_PLACE,
    SHIPPING_WAY_POLICY,
    Headers,
    Inbox,
    Locks,
    OrderFilter,
    OrderRepository,
    Outbox,
    ReplayRecord,
    Replays,
    SettingsStore,
    TrackingReads,
    UnitOfWork,
)
from shared.domain.order import Order, OrderStatus, StatusChange, site_number_for
from shared.sunsky.port import Sunsky
from tests.fake_sunsky import BR, GB, PRICES, US, FakeSunsky  # noqa: F401 (re-exported)
from tests.fake_tx import FakeTx, LockTable


@dataclass
class FakeStore:
    orders: dict[int, Order] = field(default_factory=dict)
    history: dict[int, list[StatusChange]] = field(default_factory=dict)
    ignored: list[tuple[str, str, str, str]] = field(default_factory=list)
    processed: set[tuple[str, str]] = field(default_factory=set)
    settings: dict[str, Any] = field(default_factory=lambda: {
        AUTO_PLACE: True, SHIPPING_WAY_POLICY: {"mode": "cheapest"}})
    outbox: list[tuple[str, str | None, bytes, list[tuple[str, bytes]]]] = field(
        default_factory=list)
    next_id: int = 1
    replays: list[ReplayRecord] = field(default_factory=list)
    # order id -> when it was last saved; tests set it to age orders for the sweeps
    updated_at: dict[int, datetime] = field(default_factory=dict)
    # --- tracker --- order id -> read time of the last SUNSKY view applied to it
    synced_at: dict[int, datetime] = field(default_factory=dict)
    # order id -> when the tracker last tried to read it alone from SUNSKY
    tried_at: dict[int, datetime] = field(default_factory=dict)
    # the locks open units of work hold (shared by every snapshot of the store)
    locks: LockTable = field(default_factory=LockTable, compare=False, repr=False)

    def messages(self, topic_suffix: str) -> list[bytes]:
        return [value for topic, _, value, _ in self.outbox if topic.endswith(topic_suffix)]


class FakeOrderRepository:
    """Reads see the unit of work's snapshot; ``for_update`` waits for the row lock and reads
    the latest committed row, like PostgreSQL (tests/fake_tx.py)."""

    def __init__(self, tx: FakeTx) -> None:
        self.tx, self.store = tx, cast(FakeStore, tx.work)

    async def _locked(self, order: Order | None, for_update: bool) -> Order | None:
        if order is None or not for_update:
            return order
        assert order.id is not None
        await self.tx.lock_row("orders", order.id)
        return self.store.orders.get(order.id)

    async def get(self, order_id: int, *, for_update: bool = False) -> Order | None:
        return await self._locked(self.store.orders.get(order_id), for_update)

    async def get_by_invoice(self, invoice_id: str, *, for_update: bool = False) -> Order | None:
        found = next((o for o in self.store.orders.values() if o.invoice_id == invoice_id), None)
        return await self._locked(found, for_update)

    async def get_by_sunsky_number(self, number: str, *,
                                   for_update: bool = False) -> Order | None:
        found = next((o for o in self.store.orders.values()
                      if o.sunsky is not None and o.sunsky.number == number), None)
        return await self._locked(found, for_update)

    async def add(self, order: Order) -> Order:
        # The unique index on invoice_id: a concurrent insert waits for the other transaction,
        # then conflicts if it committed (PostgreSQL raises UniqueViolationError, the error
        # policy retries the message in place).
        await self.tx.locks.acquire(("invoice", order.invoice_id), self.tx.owner)
        committed = self.tx.committed.orders.values()
        if any(o.invoice_id == order.invoice_id for o in [*committed,
                                                         *self.store.orders.values()]):
            raise asyncpg.UniqueViolationError(f"duplicate invoice {order.invoice_id}")
        # ids come from a sequence: never rolled back, never handed out twice
        order_id = self.tx.committed.next_id
        self.tx.committed.next_id += 1
        self.tx.snapshot.next_id = self.store.next_id = self.tx.committed.next_id
        saved = replace(order, id=order_id, site_number=site_number_for(order_id,
                                                                       order.invoice_id))
        return await self.save(saved, items=True)

    async def save(self, order: Order, *, items: bool = False) -> Order:
        assert order.id is not None
        self.store.history.setdefault(order.id, []).extend(order.history)
        stored = replace(order, history=())
        self.store.orders[order.id] = stored
        return stored

    async def history(self, order_id: int) -> list[StatusChange]:
        return list(self.store.history.get(order_id, []))

    async def list_orders(self, flt: OrderFilter) -> list[Order]:
        found = [o for o in self.store.orders.values() if flt.status in (None, o.status)]
        return sorted(found, key=lambda o: -(o.id or 0))[: flt.limit]

    async def list_by_sunsky_numbers(self, numbers: Collection[str]) -> Sequence[Order]:
        wanted = set(numbers)
        return [o for o in self.store.orders.values() if o.sunsky and o.sunsky.number in wanted]

    async def due_retries(self, now: datetime, limit: int) -> list[Order]:
        return self._skip_locked(
            lambda o: o.status == OrderStatus.API_FAILED and o.next_attempt_at is not None
            and o.next_attempt_at <= now,
            lambda o: (o.next_attempt_at or _EPOCH, o.id or 0), limit)

    async def waiting_for_balance(self, limit: int) -> list[Order]:
        return self._skip_locked(
            lambda o: o.status == OrderStatus.API_FAILED and o.last_error is not None
            and o.last_error.code == "BALANCE_NOT_ENOUGH",
            lambda o: (o.first_failed_at or o.created_at or _EPOCH, o.id or 0), limit)

    async def stale(self, status: OrderStatus, before: datetime, limit: int) -> list[Order]:
        return self._skip_locked(
            lambda o: o.status == status and (o.last_swept_at is None or o.last_swept_at < before)
            and self.store.updated_at.get(o.id or 0, before) < before,
            lambda o: o.id or 0, limit)

    def _skip_locked(self, matches: Callable[[Order], bool], key: Callable[[Order], Any],
                     limit: int) -> list[Order]:
        """``WHERE matches ORDER BY key LIMIT limit FOR UPDATE SKIP LOCKED``, on the rows as
        committed when the statement runs: rows another unit of work holds are skipped, the
        rest are locked for this one."""
        for order_id in list(self.tx.committed.orders):
            self.tx.refresh("orders", order_id)
        picked: list[Order] = []
        for order in sorted(filter(matches, self.store.orders.values()), key=key):
            if len(picked) == limit:
                break
            if self.tx.try_lock_row("orders", order.id):
                picked.append(order)
        return picked


class FakeTrackingReads:
    def __init__(self, store: FakeStore) -> None:
        self.store = store

    async def list_tracked(self, statuses: Collection[OrderStatus], placed_from: datetime,
                           limit: int, *, after: tuple[datetime, int] | None = None
                           ) -> Sequence[Order]:
        found = [o for o in self._tracked(statuses) if o.placed_at is not None
                 and o.placed_at >= placed_from and (after is None or self._key(o) < after)]
        return sorted(found, key=self._key, reverse=True)[:limit]

    async def list_stragglers(self, statuses: Collection[OrderStatus], placed_before: datetime,
                              limit: int) -> Sequence[Order]:
        old = [o for o in self._tracked(statuses)
               if o.placed_at is None or o.placed_at < placed_before]
        return sorted(old, key=self._least_read)[:limit]

    async def least_recently_read(self, order_ids: Collection[int],
                                  limit: int) -> Sequence[Order]:
        found = [self.store.orders[i] for i in set(order_ids) if i in self.store.orders]
        return sorted(found, key=self._least_read)[:limit]

    async def synced_at(self, order_id: int) -> datetime | None:
        return self.store.synced_at.get(order_id)

    async def mark_synced(self, order_id: int, at: datetime) -> None:
        self.store.synced_at[order_id] = max(at, self.store.synced_at.get(order_id, at))

    async def mark_tried(self, order_id: int, at: datetime) -> None:
        self.store.tried_at[order_id] = max(at, self.store.tried_at.get(order_id, at))

    def _tracked(self, statuses: Collection[OrderStatus]) -> list[Order]:
        return [o for o in self.store.orders.values() if o.status in statuses and o.sunsky]

    def _least_read(self, order: Order) -> tuple[bool, datetime, tuple[datetime, int]]:
        """Never read first, then by the later of synced and tried, like the PG adapter."""
        reads = [t.get(order.id or 0) for t in (self.store.synced_at, self.store.tried_at)]
        last = max((t for t in reads if t is not None), default=None)
        return last is not None, last or _EPOCH, self._key(order)

    @staticmethod
    def _key(order: Order) -> tuple[datetime, int]:
        return order.placed_at or _EPOCH, order.id or 0


class FakeOutbox:
    def __init__(self, tx: FakeTx) -> None:
        self.store = cast(FakeStore, tx.work)

    async def add(self, topic: str, key: str | None, value: bytes, headers: Headers = ()) -> None:
        self.store.outbox.append((topic, key, value, list(headers)))


class FakeInbox:
    def __init__(self, tx: FakeTx) -> None:
        self.tx, self.store = tx, cast(FakeStore, tx.work)

    async def mark_processed(self, consumer: str, message_id: str) -> bool:
        # The primary key: a concurrent insert of the same id waits for the other transaction
        # and then finds it (INSERT ... ON CONFLICT DO NOTHING).
        key = (consumer, message_id)
        await self.tx.locks.acquire(("processed", key), self.tx.owner)
        if key in self.store.processed or key in self.tx.committed.processed:
            return False
        self.store.processed.add((consumer, message_id))
        return True

    async def record_ignored(self, invoice_id: str, event_id: str, event_type: str,
                             reason: str) -> None:
        self.store.ignored.append((invoice_id, event_id, event_type, reason))


class FakeSettingsStore:
    def __init__(self, store: FakeStore) -> None:
        self.store = store

    async def get(self, name: str) -> Any:
        return self.store.settings.get(name)

    async def set(self, name: str, value: Any, *, by: str) -> None:
        self.store.settings[name] = value


class FakeLocks:
    def __init__(self, tx: FakeTx) -> None:
        self.tx = tx

    async def try_lock(self, name: str) -> bool:
        return self.tx.try_lock(name)


class FakeReplays:
    def __init__(self, store: FakeStore) -> None:
        self.store = store

    async def record(self, replay: ReplayRecord) -> int:
        self.store.replays.append(replay)
        return len(self.store.replays)


class FakeUnitOfWork:
    """One transaction on a snapshot of the store; ``commit()`` merges what it changed, and
    its locks are held until it commits or rolls back (tests/fake_tx.py)."""

    orders: OrderRepository
    tracking: TrackingReads
    outbox: Outbox
    inbox: Inbox
    settings: SettingsStore
    locks: Locks
    replays: Replays

    def __init__(self, store: FakeStore) -> None:
        self._committed_store = store
        self.tx: FakeTx | None = None

    async def __aenter__(self) -> FakeUnitOfWork:
        tx = self.tx = FakeTx(self._committed_store, self._committed_store.locks)
        work = tx.work
        self.orders, self.tracking = FakeOrderRepository(tx), FakeTrackingReads(work)
        self.outbox, self.inbox = FakeOutbox(tx), FakeInbox(tx)
        self.settings, self.locks, self.replays = (FakeSettingsStore(work), FakeLocks(tx),
                                                   FakeReplays(work))
        return self

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self.tx is not None:
            await self.tx.end()  # rollback: nothing merged, locks released
            self.tx = None

    async def commit(self) -> None:
        assert self.tx is not None, "commit() outside the unit of work"
        await self.tx.commit()
        self.tx = None


def fake_uow_factory(store: FakeStore) -> Any:
    return lambda: FakeUnitOfWork(store)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _fakes_satisfy_their_ports() -> None:
    """Never called: mypy checks these assignments (`.ci/run` type-checks this file)."""
    store = FakeStore()
    sunsky: Sunsky = FakeSunsky()
    unit: UnitOfWork = FakeUnitOfWork(store)
    del sunsky, unit
