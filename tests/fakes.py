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
    OutboxRow,
    ParkedRow,
    ReplayRecord,
    Replays,
    SettingsStore,
    TrackingReads,
    UnitOfWork,
)
from shared.domain.order import Order, OrderStatus, StatusChange, site_number_for
from shared.messaging.publisher import Publisher
from shared.sunsky.port import Sunsky
from tests.fake_sunsky import BR, GB, PRICES, US, FakeSunsky  # noqa: F401 (re-exported)
from tests.fake_tx import FakeTx, LockTable


@dataclass(frozen=True)
class OutboxState:
    created_at: datetime
    published_at: datetime | None = None
    attempts: int = 0
    last_error: str | None = None
    retry_at: datetime | None = None
    parked_at: datetime | None = None

    @property
    def unsent(self) -> bool:
        return self.published_at is None

    def blocks(self, now: datetime) -> bool:
        """Holds back the unsent rows of its key behind it (parked, or not due yet)."""
        return self.unsent and (self.parked_at is not None
                                or (self.retry_at is not None and self.retry_at > now))


@dataclass
class FakeStore:
    orders: dict[int, Order] = field(default_factory=dict)
    history: dict[int, list[StatusChange]] = field(default_factory=dict)
    ignored: list[tuple[str, str, str, str]] = field(default_factory=list)
    processed: set[tuple[str, str]] = field(default_factory=set)
    settings: dict[str, Any] = field(default_factory=lambda: {
        AUTO_PLACE: True, SHIPPING_WAY_POLICY: {"mode": "cheapest"}})
    # every message ever queued, in the order written (what tests read); ``outbox_rows`` is the
    # table: the state of each row still there (pruned rows are gone from it)
    outbox: list[tuple[str, str | None, bytes, list[tuple[str, bytes]]]] = field(
        default_factory=list)
    outbox_ids: list[int] = field(default_factory=list)
    outbox_rows: dict[int, OutboxState] = field(default_factory=dict)
    next_outbox_id: int = 1
    processed_at: dict[tuple[str, str], datetime] = field(default_factory=dict)
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
    """The outbox table, with the relay's queue rules of ``PgOutbox`` (tests/fake_tx.py)."""

    def __init__(self, tx: FakeTx) -> None:
        self.tx, self.store = tx, cast(FakeStore, tx.work)

    async def add(self, topic: str, key: str | None, value: bytes, headers: Headers = ()) -> None:
        row_id = self.tx.committed.next_outbox_id  # a sequence, like bigserial
        self.tx.committed.next_outbox_id += 1
        self.tx.snapshot.next_outbox_id = self.store.next_outbox_id = row_id + 1
        self.store.outbox.append((topic, key, value, list(headers)))
        self.store.outbox_ids.append(row_id)
        self.store.outbox_rows[row_id] = OutboxState(created_at=datetime.now(UTC))

    def _row(self, row_id: int) -> OutboxRow:
        topic, key, value, headers = self.store.outbox[self.store.outbox_ids.index(row_id)]
        state = self.store.outbox_rows[row_id]
        return OutboxRow(row_id, topic, key, value, tuple(headers), state.created_at,
                         state.attempts, state.last_error, state.parked_at)

    def _unsent(self) -> list[OutboxRow]:
        for row_id in list(self.tx.committed.outbox_rows):
            self.tx.refresh("outbox_rows", row_id)
        return [self._row(i) for i in sorted(self.store.outbox_rows)
                if self.store.outbox_rows[i].unsent]

    async def pending(self, now: datetime, limit: int) -> list[OutboxRow]:
        blocked_keys: set[str] = set()
        picked: list[OutboxRow] = []
        rows = self._unsent()
        for row in rows:
            state = self.store.outbox_rows[row.id]
            if row.key in blocked_keys:
                continue
            if state.blocks(now):
                if row.key is not None:
                    blocked_keys.add(row.key)
                continue
            if len(picked) < limit and self.tx.try_lock_row("outbox_rows", row.id):
                picked.append(self._row(row.id))
        return picked

    async def mark_sent(self, row_ids: Collection[int], at: datetime) -> None:
        for row_id in row_ids:
            rows = self.store.outbox_rows
            rows[row_id] = replace(rows[row_id], published_at=at, retry_at=None)

    async def record_failure(self, row_id: int, error: str, *, retry_at: datetime | None,
                             parked_at: datetime | None) -> None:
        state = self.store.outbox_rows[row_id]
        self.store.outbox_rows[row_id] = replace(
            state, attempts=state.attempts + 1, last_error=error[:2000], retry_at=retry_at,
            parked_at=parked_at)

    async def parked(self, limit: int) -> list[ParkedRow]:
        unsent = self._unsent()
        parked = [r for r in unsent if r.parked_at is not None][:limit]
        return [ParkedRow(r, sum(1 for w in unsent if w.key == r.key and w.key is not None
                                 and w.id > r.id)) for r in parked]

    async def unpark(self, row_ids: Collection[int] | None) -> list[int]:
        released = [r.id for r in self._unsent() if r.parked_at is not None
                    and (row_ids is None or r.id in row_ids)]
        for row_id in released:
            rows = self.store.outbox_rows
            rows[row_id] = replace(rows[row_id], parked_at=None, retry_at=None, attempts=0)
        return released

    async def count_unsent(self) -> tuple[int, int]:
        unsent = self._unsent()
        return len(unsent), sum(1 for r in unsent if r.parked_at is not None)

    async def prune_sent(self, before: datetime, limit: int) -> int:
        rows = self.store.outbox_rows
        old = sorted((s.published_at, i) for i, s in rows.items()
                     if s.published_at is not None and s.published_at < before)[:limit]
        for _, row_id in old:
            del rows[row_id]
        return len(old)


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
        self.store.processed_at[key] = datetime.now(UTC)
        return True

    async def record_ignored(self, invoice_id: str, event_id: str, event_type: str,
                             reason: str) -> None:
        self.store.ignored.append((invoice_id, event_id, event_type, reason))

    async def prune(self, before: datetime, limit: int) -> int:
        old = [k for k, at in self.store.processed_at.items() if at < before][:limit]
        for key in old:
            self.store.processed.discard(key)
            self.store.processed_at.pop(key, None)
        return len(old)


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
    publisher: Publisher = FakeBroker()
    del sunsky, unit, publisher


class FakeBroker:
    """The ``Publisher`` port in memory (faststream's FakeProducer, STYLE.md point 7): what was
    published, in order; ``down`` refuses everything like an unreachable broker, ``missing``
    topics fail like Kafka with auto-create off, and records over ``max_bytes`` are too large
    (aiokafka's max_request_size)."""

    def __init__(self, *, max_bytes: int = 1_048_576) -> None:
        self.published: list[tuple[str, str | None, bytes, list[tuple[str, bytes]]]] = []
        self.down = False
        self.missing: set[str] = set()
        self.healed: list[set[str]] = []
        self.max_bytes = max_bytes

    async def publish(self, topic: str, key: str | None, value: bytes,
                      headers: Headers = ()) -> None:
        from aiokafka.errors import (
            KafkaConnectionError,
            KafkaTimeoutError,
            MessageSizeTooLargeError,
        )

        if self.down:
            raise KafkaConnectionError("fake broker is down")
        if topic in self.missing:
            raise KafkaTimeoutError(f"no metadata for {topic}")  # what aiokafka raises
        if len(value) > self.max_bytes:
            raise MessageSizeTooLargeError(f"{len(value)} bytes")
        self.published.append((topic, key, value, list(headers)))

    async def publish_many(self, records: Sequence[tuple[str, str | None, bytes, Headers]]) -> None:
        for topic, key, value, headers in records:
            await self.publish(topic, key, value, headers)

    async def heal(self, topics: Collection[str]) -> list[str]:
        """A topic keeper on this broker: re-creates missing topics, fails while it is down."""
        from shared.messaging.topics import BrokerUnavailable

        if self.down:
            raise BrokerUnavailable("fake broker is down")
        created = sorted(self.missing & set(topics))
        self.missing -= set(created)
        self.healed.append(set(topics))
        return created

    def values(self, topic: str | None = None) -> list[bytes]:
        return [v for t, _, v, _ in self.published if topic in (None, t)]
