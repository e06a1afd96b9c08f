"""In-memory fakes for the ports (STYLE.md point 7): assert on their state, not on calls.

``FakeUnitOfWork`` keeps the same transactional behaviour as ``PgUnitOfWork`` (changes are
visible only after ``commit()``); ``tests/integration/test_repository_contract.py`` runs one
suite against both. ``FakeSunsky`` (``tests/fake_sunsky.py``) is held to the sandbox's behaviour
by ``tests/integration/test_sunsky_port_contract.py``.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator, Collection, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import TracebackType
from typing import Any

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
    Overview,
    ReplayRecord,
    Replays,
    SettingsStore,
    TrackingReads,
    UnitOfWork,
)
from shared.domain.order import FINAL, Order, OrderStatus, StatusChange, site_number_for
from shared.domain.retry import waits_for_person
from shared.messaging.publisher import Publisher
from shared.sunsky.port import Sunsky
from tests.fake_sunsky import BR, GB, PRICES, US, FakeSunsky  # noqa: F401 (re-exported)


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
    # --- admin --- name -> (user, password hash); token/session hash -> user name
    users: dict[str, tuple[AdminUser, str]] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    sessions: dict[str, tuple[str, str, datetime]] = field(default_factory=dict)
    idempotency: dict[tuple[int, str], StoredResponse] = field(default_factory=dict)
    heartbeats: dict[tuple[str, str], Heartbeat] = field(default_factory=dict)
    replay_times: list[datetime] = field(default_factory=list)

    def messages(self, topic_suffix: str) -> list[bytes]:
        return [value for topic, _, value, _ in self.outbox if topic.endswith(topic_suffix)]


class FakeOrderRepository:
    def __init__(self, store: FakeStore) -> None:
        self.store = store

    async def get(self, order_id: int, *, for_update: bool = False) -> Order | None:
        return self.store.orders.get(order_id)

    async def get_by_invoice(self, invoice_id: str, *, for_update: bool = False) -> Order | None:
        return next((o for o in self.store.orders.values() if o.invoice_id == invoice_id), None)

    async def get_by_sunsky_number(self, number: str, *,
                                   for_update: bool = False) -> Order | None:
        return next((o for o in self.store.orders.values()
                     if o.sunsky is not None and o.sunsky.number == number), None)

    async def add(self, order: Order) -> Order:
        if await self.get_by_invoice(order.invoice_id) is not None:
            raise ValueError(f"duplicate invoice {order.invoice_id}")
        order_id, self.store.next_id = self.store.next_id, self.store.next_id + 1
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
        due = [o for o in self.store.orders.values() if o.status == OrderStatus.API_FAILED
               and o.next_attempt_at is not None and o.next_attempt_at <= now]
        return sorted(due, key=lambda o: (o.next_attempt_at or _EPOCH, o.id or 0))[:limit]

    async def waiting_for_balance(self, limit: int) -> list[Order]:
        waiting = [o for o in self.store.orders.values() if o.status == OrderStatus.API_FAILED
                   and o.last_error is not None and o.last_error.code == "BALANCE_NOT_ENOUGH"]
        return sorted(waiting, key=lambda o: (o.first_failed_at or o.created_at or _EPOCH,
                                              o.id or 0))[:limit]

    async def stale(self, status: OrderStatus, before: datetime, limit: int) -> list[Order]:
        found = [o for o in self.store.orders.values() if o.status == status
                 and (o.last_swept_at is None or o.last_swept_at < before)
                 and self.store.updated_at.get(o.id or 0, before) < before]
        return sorted(found, key=lambda o: o.id or 0)[:limit]


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
        # the fake outbox holds what was queued; nothing publishes it
        return OutboxBacklog(len(self.store.outbox), None)


class FakeOutbox:
    def __init__(self, store: FakeStore) -> None:
        self.store = store

    async def add(self, topic: str, key: str | None, value: bytes, headers: Headers = ()) -> None:
        self.store.outbox.append((topic, key, value, list(headers)))


class FakeInbox:
    def __init__(self, store: FakeStore) -> None:
        self.store = store

    async def mark_processed(self, consumer: str, message_id: str) -> bool:
        if (consumer, message_id) in self.store.processed:
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
    async def try_lock(self, name: str) -> bool:
        return True


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
    """Works on a copy of the store; ``commit()`` makes the copy the store."""

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

    def __init__(self, store: FakeStore) -> None:
        self._committed_store = store

    async def __aenter__(self) -> FakeUnitOfWork:
        work = self._work = copy.deepcopy(self._committed_store)
        self.orders, self.tracking = FakeOrderRepository(work), FakeTrackingReads(work)
        self.outbox, self.inbox = FakeOutbox(work), FakeInbox(work)
        self.settings, self.locks, self.replays = (FakeSettingsStore(work), FakeLocks(),
                                                   FakeReplays(work))
        self.overview, self.accounts = FakeOverview(work), FakeAdminAccounts(work)
        self.idempotency, self.health = FakeIdempotencyKeys(work), FakeHealthReads(work)
        return self

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        self._work = None  # type: ignore[assignment]

    async def commit(self) -> None:
        self._committed_store.__dict__.update(self._work.__dict__)


def fake_uow_factory(store: FakeStore) -> Any:
    return lambda: FakeUnitOfWork(store)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _fakes_satisfy_their_ports() -> None:
    """Never called: mypy checks these assignments (`.ci/run` type-checks this file)."""
    store = FakeStore()
    sunsky: Sunsky = FakeSunsky()
    unit: UnitOfWork = FakeUnitOfWork(store)
    del sunsky, unit


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
