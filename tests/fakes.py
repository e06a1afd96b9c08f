"""In-memory fakes for the ports (STYLE.md point 7): assert on their state, not on calls.

``FakeUnitOfWork`` keeps the same transactional behaviour as ``PgUnitOfWork`` (changes are
visible only after ``commit()``); ``tests/integration/test_repository_contract.py`` runs one
suite against both. ``FakeSunsky`` (``tests/fake_sunsky.py``) is held to the sandbox's behaviour
by ``tests/integration/test_sunsky_port_contract.py``.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import TracebackType
from typing import Any, cast

import asyncpg

from shared.db.admin import (
    AdminUser,
    FailureGroup,
    Heartbeat,
    MoneyWait,
    OutboxBacklog,
    ReplayAudit,
    Session,
    StatusCounts,
    StoredResponse,
)
from shared.db.ledger import Claim, IngestLedger, LedgerEntry
from shared.db.repository import (
    AUTO_PLACE,
    SHIPPING_WAY_POLICY,
    AdminAccounts,
    Headers,
    HealthReads,
    IdempotencyKeys,
    Inbox,
    Locks,
    OrderFilter,
    OrderRepository,
    Outbox,
    OutboxRow,
    Overview,
    ParkedRow,
    QuoteCache,
    ReplayRecord,
    Replays,
    SettingsStore,
    TrackingReads,
    UnitOfWork,
)
from shared.domain.order import FINAL, Order, OrderStatus, StatusChange, site_number_for
from shared.domain.retry import waits_for_person
from shared.messaging.publisher import Publisher
from shared.sunsky.budget import (
    BucketState,
    BudgetConfig,
    BudgetStore,
    Priority,
    Taken,
)
from shared.sunsky.budget import paused as budget_paused
from shared.sunsky.budget import take as budget_take
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
    # --- admin --- name -> (user, password hash); token/session hash -> user name
    users: dict[str, tuple[AdminUser, str]] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    sessions: dict[str, tuple[str, str, datetime]] = field(default_factory=dict)
    idempotency: dict[tuple[int, str], StoredResponse] = field(default_factory=dict)
    heartbeats: dict[tuple[str, str], Heartbeat] = field(default_factory=dict)
    replay_times: list[datetime] = field(default_factory=list)
    # --- placer --- quote key -> (quote JSON, expires at)
    quotes: dict[str, tuple[Any, datetime]] = field(default_factory=dict)
    # the locks open units of work hold (shared by every snapshot of the store)
    locks: LockTable = field(default_factory=LockTable, compare=False, repr=False)

    def messages(self, topic_suffix: str) -> list[bytes]:
        return [value for topic, _, value, _ in self.outbox if topic.endswith(topic_suffix)]


class FakeOrderRepository:
    """Reads see the unit of work's snapshot; ``for_update`` waits for the row lock and reads
    the latest committed row, like PostgreSQL (tests/fake_tx.py). Built on a ``FakeStore``
    itself, it writes straight into it (seeding many orders fast)."""

    def __init__(self, tx: FakeTx | FakeStore) -> None:
        if isinstance(tx, FakeStore):
            tx = FakeTx.straight_into(tx)
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
        await self.tx.acquire(("invoice", order.invoice_id))
        committed = self.tx.committed.orders.values()
        if any(o.invoice_id == order.invoice_id for o in [*committed,
                                                         *self.store.orders.values()]):
            raise asyncpg.UniqueViolationError(f"duplicate invoice {order.invoice_id}")
        # ids come from a sequence: never rolled back, never handed out twice
        order_id = self.tx.committed.next_id
        self.tx.committed.next_id += 1
        self.tx.snapshot.next_id = self.store.next_id = self.tx.committed.next_id
        saved = replace(order, id=order_id, site_number=site_number_for(order_id,
                                                                       order.invoice_id),
                        created_at=order.created_at or datetime.now(UTC))
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
        """What ``shared.db.pg.listing`` selects, newest first by (created_at, id)."""
        found = [o for o in self.store.orders.values() if self._matches(o, flt)]
        return sorted(found, key=_list_key, reverse=True)[: flt.limit]

    def _matches(self, o: Order, flt: OrderFilter) -> bool:
        created = o.created_at or _EPOCH
        updated = self.store.updated_at.get(o.id or 0, created)
        checks = (
            flt.status in (None, o.status),
            not flt.needs_action or waits_for_person(o),
            flt.created_from is None or created >= flt.created_from,
            flt.created_to is None or created < flt.created_to,
            flt.error_code is None or (o.last_error is not None
                                       and o.last_error.code == flt.error_code),
            not flt.customer or flt.customer.lower() in _customer_text(o),
            not flt.search or flt.search in _numbers(o)
            or flt.search.lower() in _customer_text(o),
            flt.updated_before is None or (o.status not in FINAL
                                           and updated < flt.updated_before),
            not flt.order_ids or o.id in flt.order_ids,
            flt.after is None or _list_key(o) < flt.after,
        )
        return all(checks)

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


def _list_key(o: Order) -> tuple[datetime, int]:
    return o.created_at or _EPOCH, o.id or 0


def _customer_text(o: Order) -> str:
    parts = (o.client_id, o.customer_company, o.contact_name, o.contact_email)
    return " ".join(p or "" for p in parts).lower()


def _numbers(o: Order) -> set[str | None]:
    return {o.invoice_number, o.sunsky.number if o.sunsky else None, o.shipping.tracking_number}


class FakeOverview:
    def __init__(self, store: FakeStore) -> None:
        self.store = store

    async def status_counts(self) -> StatusCounts:
        by_status = dict.fromkeys(OrderStatus, 0)
        for o in self.store.orders.values():
            by_status[o.status] += 1
        return StatusCounts(by_status, sum(map(waits_for_person, self.store.orders.values())))

    async def failure_groups(self) -> list[FailureGroup]:
        counts: dict[tuple[str, str], int] = {}
        for o in self.store.orders.values():
            if o.status == OrderStatus.API_FAILED:
                e = o.last_error
                key = (e.code, e.kind) if e else ("", "")
                counts[key] = counts.get(key, 0) + 1
        groups = [FailureGroup(code, kind, n) for (code, kind), n in counts.items()]
        return sorted(groups, key=lambda g: (-g.count, g.code))

    async def waiting_for_money(self) -> MoneyWait:
        waiting = [o for o in self.store.orders.values() if o.status == OrderStatus.API_FAILED
                   and o.last_error is not None and o.last_error.code == "BALANCE_NOT_ENOUGH"]
        amount = sum((o.quoted_total or o.total or Decimal(0) for o in waiting), Decimal(0))
        return MoneyWait(len(waiting), amount)

    async def stuck(self, statuses: Collection[OrderStatus], before: datetime
                    ) -> dict[OrderStatus, int]:
        counts: dict[OrderStatus, int] = {}
        for o in self.store.orders.values():
            changed = self.store.updated_at.get(o.id or 0, o.created_at or _EPOCH)
            if o.status in statuses and changed < before:
                counts[o.status] = counts.get(o.status, 0) + 1
        return counts


class FakeAdminAccounts:
    def __init__(self, store: FakeStore) -> None:
        self.store = store

    async def add_user(self, name: str, role: str, password_hash: str) -> AdminUser | None:
        if name in self.store.users:
            return None
        user_id = max((u.id for u, _ in self.store.users.values()), default=0) + 1
        user = AdminUser(user_id, name, role, datetime.now(UTC))
        self.store.users[name] = (user, password_hash)
        return user

    async def users(self) -> list[AdminUser]:
        return sorted((u for u, _ in self.store.users.values()), key=lambda u: u.name)

    async def user(self, name: str) -> AdminUser | None:
        found = self.store.users.get(name)
        return found[0] if found else None

    async def password_hash(self, name: str) -> str | None:
        found = self.store.users.get(name)
        return found[1] if found else None

    async def set_password_hash(self, name: str, password_hash: str) -> None:
        user, _ = self.store.users[name]
        self.store.users[name] = (user, password_hash)

    async def remove_user(self, name: str) -> bool:
        gone = self.store.users.pop(name, None) is not None
        self.store.tokens = {t: n for t, n in self.store.tokens.items() if n != name}
        self.store.sessions = {k: v for k, v in self.store.sessions.items() if v[0] != name}
        return gone

    def _by_id(self, user_id: int) -> AdminUser:
        return next(u for u, _ in self.store.users.values() if u.id == user_id)

    async def add_token(self, user_id: int, token_hash: str) -> None:
        self.store.tokens[token_hash] = self._by_id(user_id).name

    async def user_by_token(self, token_hash: str) -> AdminUser | None:
        name = self.store.tokens.get(token_hash)
        return await self.user(name) if name else None

    async def add_session(self, user_id: int, session_hash: str, csrf_token: str,
                          expires_at: datetime) -> None:
        self.store.sessions[session_hash] = (self._by_id(user_id).name, csrf_token, expires_at)

    async def session(self, session_hash: str, now: datetime) -> Session | None:
        found = self.store.sessions.get(session_hash)
        if found is None or found[2] <= now:
            return None
        user = await self.user(found[0])
        return Session(user, found[1], found[2]) if user else None

    async def remove_session(self, session_hash: str) -> None:
        self.store.sessions.pop(session_hash, None)


class FakeIdempotencyKeys:
    def __init__(self, store: FakeStore) -> None:
        self.store = store

    async def claim(self, user_id: int, key: str, fingerprint: str) -> StoredResponse | None:
        found = self.store.idempotency.get((user_id, key))
        if found is None:
            self.store.idempotency[(user_id, key)] = StoredResponse(fingerprint, None, None)
        return found

    async def complete(self, user_id: int, key: str, status_code: int, body: Any) -> None:
        claimed = self.store.idempotency[(user_id, key)]
        self.store.idempotency[(user_id, key)] = replace(claimed, status_code=status_code,
                                                         body=copy.deepcopy(body))

    async def release(self, user_id: int, key: str) -> None:
        found = self.store.idempotency.get((user_id, key))
        if found is not None and found.status_code is None:
            del self.store.idempotency[(user_id, key)]


class FakeQuoteCache:
    """Expires like ``PgQuoteCache``: a quote is gone at ``expires_at`` itself."""

    def __init__(self, store: FakeStore) -> None:
        self.store = store

    async def get(self, key: str, now: datetime) -> Any | None:
        stored = self.store.quotes.get(key)
        return copy.deepcopy(stored[0]) if stored is not None and stored[1] > now else None

    async def put(self, key: str, quote: Any, *, quoted_at: datetime,
                  expires_at: datetime) -> None:
        self.store.quotes[key] = (copy.deepcopy(quote), expires_at)

    async def forget(self, key: str) -> None:
        self.store.quotes.pop(key, None)

    async def prune(self, before: datetime, limit: int) -> int:
        expired = sorted((at, key) for key, (_, at) in self.store.quotes.items() if at < before)
        for _, key in expired[:limit]:
            del self.store.quotes[key]
        return len(expired[:limit])


class FakeHealthReads:
    def __init__(self, store: FakeStore) -> None:
        self.store = store

    async def beat(self, service: str, instance: str, started_at: datetime,
                   now: datetime) -> None:
        self.store.heartbeats[(service, instance)] = Heartbeat(service, instance, started_at, now)
        self.store.heartbeats = {k: b for k, b in self.store.heartbeats.items()
                                 if b.beat_at >= now - timedelta(days=1)}

    async def heartbeats(self) -> list[Heartbeat]:
        return sorted(self.store.heartbeats.values(),
                      key=lambda b: (b.service, -b.beat_at.timestamp()))

    async def outbox_backlog(self) -> OutboxBacklog:
        unsent = [state for state in self.store.outbox_rows.values() if state.unsent]
        waiting = [state for state in unsent if state.parked_at is None]
        return OutboxBacklog(len(waiting), min((s.created_at for s in waiting), default=None),
                             len(unsent) - len(waiting))


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
        await self.tx.acquire(("processed", key))
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
        self.store.replay_times.append(datetime.now(UTC))
        return len(self.store.replays)

    async def recent(self, limit: int) -> list[ReplayAudit]:
        audits = [ReplayAudit(n, at, record) for n, (at, record)
                  in enumerate(zip(self.store.replay_times, self.store.replays, strict=True), 1)]
        return audits[::-1][:limit]


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
    overview: Overview
    accounts: AdminAccounts
    idempotency: IdempotencyKeys
    health: HealthReads
    quotes: QuoteCache

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
        self.overview, self.accounts = FakeOverview(work), FakeAdminAccounts(work)
        self.idempotency, self.health = FakeIdempotencyKeys(work), FakeHealthReads(work)
        self.quotes = FakeQuoteCache(work)
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




class _FakeClaim:
    def __init__(self, ledger: FakeIngestLedger, entries: dict[str, LedgerEntry], now: datetime,
                 fresh: frozenset[str], reused: frozenset[str]) -> None:
        self._ledger, self._entries, self._now = ledger, entries, now
        self.fresh, self.reused = fresh, reused

    async def confirm(self, published: Collection[str]) -> None:
        if self._ledger.fail_confirm is not None:
            raise self._ledger.fail_confirm
        for webhook_id in self.fresh:
            if webhook_id in published:
                self._ledger.accepted[webhook_id] = (self._entries[webhook_id], self._now)
            else:  # as the adapter: an expired row taken over and not published is gone too
                self._ledger.accepted.pop(webhook_id, None)


class FakeIngestLedger:
    """In memory, with the adapter's waiting: an open claim on an id blocks the next claim on
    it (ids locked in sorted order, as the adapter inserts them)."""

    def __init__(self) -> None:
        self.accepted: dict[str, tuple[LedgerEntry, datetime]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self.fail_claim: BaseException | None = None  # e.g. OSError: the database is down
        self.fail_confirm: BaseException | None = None
        self.waiting = 0  # claims queued behind an open claim on one of their ids
        self.claims: list[list[str]] = []  # the ids of every claim, in order (batching tests)

    @asynccontextmanager
    async def claim(self, entries: Sequence[LedgerEntry], *, now: datetime,
                    retention: timedelta) -> AsyncIterator[Claim]:
        if self.fail_claim is not None:
            raise self.fail_claim
        ids = sorted(e.webhook_id for e in entries)
        assert len(set(ids)) == len(ids), "ids in one claim must be distinct"
        self.claims.append(ids)
        locks = [self._locks.setdefault(i, asyncio.Lock()) for i in ids]
        held = await self._lock_all(locks)
        try:
            yield self._decide(entries, now, retention)
        finally:
            for lock in held:
                lock.release()

    async def _lock_all(self, locks: list[asyncio.Lock]) -> list[asyncio.Lock]:
        held: list[asyncio.Lock] = []
        queued = any(lock.locked() for lock in locks)
        self.waiting += queued
        try:
            for lock in locks:
                await lock.acquire()
                held.append(lock)
        except BaseException:
            for lock in held:
                lock.release()
            raise
        finally:
            self.waiting -= queued
        return held

    def _decide(self, entries: Sequence[LedgerEntry], now: datetime,
                retention: timedelta) -> _FakeClaim:
        fresh, reused = set(), set()
        for entry in entries:
            taken = self.accepted.get(entry.webhook_id)
            if taken is None or taken[1] < now - retention:
                fresh.add(entry.webhook_id)
            elif taken[0].body_sha256 != entry.body_sha256:
                reused.add(entry.webhook_id)
        return _FakeClaim(self, {e.webhook_id: e for e in entries}, now, frozenset(fresh),
                          frozenset(reused))

    async def purge(self, before: datetime, *, limit: int = 10_000) -> int:
        old = [i for i, (_, at) in self.accepted.items() if at < before][:limit]
        for webhook_id in old:
            del self.accepted[webhook_id]
        return len(old)


class FakePublisher:
    """Records what was published; ``fail`` makes every publish raise it (a broker down),
    ``fail_keys`` only those with these keys (one partition's leader gone)."""

    def __init__(self) -> None:
        self.records: list[tuple[str, str | None, bytes, list[tuple[str, bytes]]]] = []
        self.fail: BaseException | None = None
        self.fail_keys: dict[str, BaseException] = {}

    async def publish(self, topic: str, key: str | None, value: bytes,
                      headers: Headers = ()) -> None:
        await self.publish_many([(topic, key, value, headers)])

    async def publish_many(self, records: Sequence[tuple[str, str | None, bytes, Headers]]) -> None:
        if self.fail is not None:
            raise self.fail
        for _, key, _, _ in records:
            if key in self.fail_keys:
                raise self.fail_keys[key]
        self.records += [(t, k, v, list(h)) for t, k, v, h in records]


def _ingest_fakes_satisfy_their_ports() -> None:
    """Never called: mypy checks these assignments."""
    ledger: IngestLedger = FakeIngestLedger()
    publisher: Publisher = FakePublisher()
    del ledger, publisher


class FakeBudgetStore:
    """``BudgetStore`` in memory on an injected clock: the pure arithmetic of
    ``shared.sunsky.budget``, held to ``PgBudgetStore`` by
    ``tests/integration/test_call_budget.py``."""

    def __init__(self, config: BudgetConfig, clock: Callable[[], float]) -> None:
        self.config, self._clock = config, clock
        self.state = BucketState.full(config, clock())
        self.takes = 0

    async def take(self, priority: Priority, want: int, *, now: float | None = None) -> Taken:
        await asyncio.sleep(0)  # a round trip: other calls of the process queue meanwhile
        at = self._clock() if now is None else now
        self.state, granted = budget_take(self.config, self.state, at, priority, want)
        self.takes += 1
        return Taken(granted, self.state, at)

    async def pause(self, seconds: float) -> None:
        self.state = budget_paused(self.state, self._clock(), seconds)


def _budget_fake_satisfies_its_port() -> None:
    _store: BudgetStore = FakeBudgetStore(BudgetConfig(1), lambda: 0.0)
