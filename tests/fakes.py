"""In-memory fakes for the ports (STYLE.md point 7): assert on their state, not on calls.

``FakeUnitOfWork`` keeps the same transactional behaviour as ``PgUnitOfWork`` (changes are
visible only after ``commit()``); ``tests/integration/test_repository_contract.py`` runs one
suite against both. ``FakeSunsky`` behaves like the sandbox for what the placer uses.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from types import TracebackType
from typing import Any

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
from shared.sunsky.errors import SunskyError, SunskyNotFoundError
from shared.sunsky.models import (
    Bill,
    BillPage,
    Country,
    CreateOrderRequest,
    FreightOption,
    OrderPage,
    PriceLine,
    Quote,
    ShippingWay,
    State,
    SunskyOrder,
)
from shared.sunsky.port import Sunsky


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
        return len(self.store.replays)


class FakeUnitOfWork:
    """Works on a copy of the store; ``commit()`` makes the copy the store."""

    orders: OrderRepository
    tracking: TrackingReads
    outbox: Outbox
    inbox: Inbox
    settings: SettingsStore
    locks: Locks
    replays: Replays

    def __init__(self, store: FakeStore) -> None:
        self._committed_store = store

    async def __aenter__(self) -> FakeUnitOfWork:
        work = self._work = copy.deepcopy(self._committed_store)
        self.orders, self.tracking = FakeOrderRepository(work), FakeTrackingReads(work)
        self.outbox, self.inbox = FakeOutbox(work), FakeInbox(work)
        self.settings, self.locks, self.replays = (FakeSettingsStore(work), FakeLocks(),
                                                   FakeReplays(work))
        return self

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        self._work = None  # type: ignore[assignment]

    async def commit(self) -> None:
        self._committed_store.__dict__.update(self._work.__dict__)


def fake_uow_factory(store: FakeStore) -> Any:
    return lambda: FakeUnitOfWork(store)


US = Country(id=41, code="US", name="United States", shipToState=True,
             stateList=[State(code="IL", name="Illinois"), State(code="NY", name="New York")])
GB = Country(id=235, code="GB", name="United Kingdom", shipToState=False)
PRICES = {"S-CAB-0042": Decimal("1.20"), "S-IP4G-0363": Decimal("3.50")}


@dataclass
class FakeSunsky:
    """The subset of ``SunskyClient`` the placer uses, with SUNSKY's rules for it."""

    balance: Decimal = Decimal("1000")
    countries: list[Country] = field(default_factory=lambda: [US, GB])
    freight: list[FreightOption] = field(default_factory=lambda: [
        FreightOption(id=246, name="Postnord", shippingCost=Decimal("2.93")),
        FreightOption(id=7, name="DHL Express", shippingCost=Decimal("9.10"))])
    orders: dict[str, SunskyOrder] = field(default_factory=dict)
    # Failure injection: raised by the next createOrder; ``create_then_raise`` creates first.
    create_error: SunskyError | None = None
    create_then_raise: SunskyError | None = None
    calls: list[str] = field(default_factory=list)
    bills: list[Bill] = field(default_factory=list)
    _seq: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    async def get_countries(self) -> list[Country]:
        self.calls.append("getCountries")
        return list(self.countries)

    async def get_balance(self) -> Decimal:
        self.calls.append("getBalance")
        return self.balance

    async def get_bill_list(self, *, created_from: date, created_to: date, page: int = 1,
                            page_size: int = 100) -> BillPage:
        """Every createOrder debit, newest first, like the sandbox's bills."""
        self.calls.append("getBillList")
        bills = [b for b in reversed(self.bills)
                 if b.gmt_created is None or created_from <= b.gmt_created.date() <= created_to]
        start = (page - 1) * page_size
        return BillPage(total=len(bills), pageCount=max(1, -(-len(bills) // page_size)),
                        result=bills[start:start + page_size])

    async def get_prices_and_freights(self, country_id: int, items: Any,
                                      state: str | None = None) -> Quote:
        self.calls.append("getPricesAndFreights")
        prices = [PriceLine(itemNo=sku, qty=qty, price=PRICES.get(sku, Decimal(1)),
                            amount=PRICES.get(sku, Decimal(1)) * qty) for sku, qty in items]
        return Quote(freightList=self.freight, priceList=prices)

    async def create_order(self, req: CreateOrderRequest) -> SunskyOrder:
        self.calls.append("createOrder")
        if self.create_error is not None:
            error, self.create_error = self.create_error, None
            raise error
        order = self._create(req)
        if self.create_then_raise is not None:
            error, self.create_then_raise = self.create_then_raise, None
            raise error
        return order

    def _create(self, req: CreateOrderRequest) -> SunskyOrder:
        total = sum((PRICES.get(i.item_no, Decimal(1)) * i.qty for i in req.items), Decimal(0))
        total += next(f.shipping_cost for f in self.freight if f.id == req.address.shipping_way_id)
        self.balance -= total
        number = f"26112700{next(self._seq):02d}"
        self.bills.append(Bill(amount=-total, balance=self.balance, gmtCreated=datetime.now(UTC),
                               txType="createOrder", refId=number))
        order = SunskyOrder(number=number, siteNumber=req.site_number, status=2,
                            totalAmount=total,
                            shippingWay=ShippingWay(id=246, name="Postnord",
                                                    queryUrl="https://t.17track.net/en#nums="))
        self.orders[number] = order
        return order

    async def find_order_by_site_number(self, site_number: str, *, created_from: date,
                                        created_to: date | None = None) -> SunskyOrder | None:
        self.calls.append("getOrderList")
        return next((o for o in self.orders.values() if o.site_number == site_number), None)

    # --- tracker ---
    # Failure and race injection: getOrderDetails of a number raises its error; the next
    # getOrderList calls raise these, one each; ``after_list`` (async) runs after a list page.
    details_errors: dict[str, SunskyError] = field(default_factory=dict)
    list_errors: list[SunskyError] = field(default_factory=list)
    after_list: Any = None

    async def get_order_details(self, number: str) -> SunskyOrder:
        self.calls.append("getOrderDetails")
        if number in self.details_errors:
            raise self.details_errors[number]
        if number not in self.orders:
            raise SunskyNotFoundError("NOT_FOUND", ["The record you visiting does NOT exist."])
        return self.orders[number]

    async def get_order_list(self, *, created_from: date, created_to: date, page: int = 1,
                             page_size: int = 100, status: int | None = None,
                             site_number: str | None = None) -> OrderPage:
        """Newest first, like the sandbox; orders without ``gmtCreated`` match every window."""
        self.calls.append("getOrderList")
        if self.list_errors:
            raise self.list_errors.pop(0)
        found = [o for o in reversed(self.orders.values())
                 if status in (None, o.status) and _created_within(o, created_from, created_to)]
        start = (page - 1) * page_size
        served = OrderPage(total=len(found), pageCount=max(1, -(-len(found) // page_size)),
                           result=found[start:start + page_size])
        if self.after_list is not None:
            await self.after_list()  # the page is already read: what happens now makes it stale
        return served

    def advance(self, number: str, status: int, *, tracking_number: str | None = None,
                reason: str | None = None) -> SunskyOrder:
        """SUNSKY moves an order (no rules checked: tests may move it anywhere)."""
        order = self.orders[number]
        update: dict[str, Any] = {"status": status}
        if tracking_number or (status == 3 and order.tracking_number is None):
            update["tracking_number"] = tracking_number or f"YT{number}"
        if reason:
            update["cancel_reason"] = reason
        self.orders[number] = order.model_copy(update=update)
        return self.orders[number]


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _created_within(order: SunskyOrder, start: date, end: date) -> bool:
    created = order.gmt_created
    return created is None or start <= created.date() <= end


def _fakes_satisfy_their_ports() -> None:
    """Never called: mypy checks these assignments (`.ci/run` type-checks this file)."""
    store = FakeStore()
    sunsky: Sunsky = FakeSunsky()
    unit: UnitOfWork = FakeUnitOfWork(store)
    del sunsky, unit
