"""``FakeSunsky``: the in-memory SUNSKY the unit tests use (STYLE.md points 7, 14).

It keeps SUNSKY's rules where the workers depend on them, and the port contract suite
(tests/integration/test_sunsky_port_contract.py) holds it to the same behaviour as the sandbox
over real HTTP: countries with SUNSKY's own ids, quotes with freight options (none to Brazil),
unknown items refused, createOrder paid from the balance and refused when it does not cover the
order, a used ``siteNumber`` refused (unless ``dedupe`` is off, as the worst-case SUNSKY would),
orders listed newest first by creation date and status, bills, and shipped orders with tracking.
Like the sandbox's world controls, tests may change a price (``prices``) or stop offering a
shipping way (``freight``): createOrder then charges the new price or refuses the way, whatever
an earlier quote said. ``list_ignores_status`` lists every status whatever ``status`` asks (the
filter is only reported by others; the sandbox's ``list_ignores_status`` fault).

createOrder honours a ``deadline`` and a ``confirm`` like the client: refused before it
"leaves", it raises ``SunskyNotSentError`` and creates nothing. The look-up by siteNumber keeps
the client's window (not before the attempt's start, padded for SUNSKY's time zone) and prefers
a live order to a cancelled one.

Unit tests also inject failures and races: ``create_error`` (raised instead of creating),
``create_then_raise`` (raised after creating: an unknown outcome that did create),
``before_create`` (runs once when createOrder is called, before its deadline and ``confirm``
are checked: a stall, another worker taking over), ``details_errors`` per number,
``list_errors`` (one per getOrderList call), ``lookup_errors`` (one per look-up) and
``after_list`` (runs after a list page is read). ``calls`` lists every endpoint called.
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from shared.sunsky.deadline import Confirm, Deadline
from shared.sunsky.errors import (
    SunskyDuplicateOrderError,
    SunskyError,
    SunskyNeedsActionError,
    SunskyNotFoundError,
    not_sent,
)
from shared.sunsky.lookup import CANCELLED, TIME_ZONE_PAD
from shared.sunsky.models import (
    Bill,
    BillPage,
    Country,
    CreateOrderRequest,
    DeliveryAddress,
    FreightOption,
    OrderLine,
    OrderPage,
    PriceLine,
    Quote,
    ShippingWay,
    State,
    SunskyOrder,
)

US = Country(id=41, code="US", name="United States", shipToState=True,
             stateList=[State(code="IL", name="Illinois"), State(code="NY", name="New York")])
GB = Country(id=235, code="GB", name="United Kingdom", shipToState=False)
BR = Country(id=30, code="BR", name="Brazil", shipToState=False)  # SUNSKY ships nothing there
PRICES = {"S-CAB-0042": Decimal("1.20"), "S-IP4G-0363": Decimal("3.50"),
          "S-MAC-0230": Decimal("6.80"), "S-PWR-0101": Decimal("3.90"),
          "S-EAR-0777": Decimal("1.85"), "S-CAS-0555": Decimal("1.50"),
          "S-LED-0909": Decimal("4.75"), "S-KEY-0713": Decimal("12.50")}
TRACKING_QUERY_URL = "https://t.17track.net/en#nums="
UNSHIPPABLE = frozenset({BR.id})
DUPLICATE = "该订单已下单"  # what SUNSKY answers a reused siteNumber (sunsky-open-api.md)


def _postnord() -> FreightOption:
    return FreightOption(id=246, name="Postnord", shippingCost=Decimal("2.93"))


def _dhl() -> FreightOption:
    return FreightOption(id=7, name="DHL Express", shippingCost=Decimal("9.10"))


@dataclass
class FakeSunsky:
    """The SUNSKY port in memory; satisfies ``shared.sunsky.port.Sunsky``."""

    balance: Decimal = Decimal("1000")
    # SUNSKY lists Brazil but ships nothing there; the unit tests use a world without it.
    countries: list[Country] = field(default_factory=lambda: [US, GB])
    freight: list[FreightOption] = field(default_factory=lambda: [_postnord(), _dhl()])
    orders: dict[str, SunskyOrder] = field(default_factory=dict)
    bills: list[Bill] = field(default_factory=list)
    dedupe: bool = True  # off: a reused siteNumber creates a second order (worst-case SUNSKY)
    prices: dict[str, Decimal] = field(default_factory=lambda: dict(PRICES))
    list_ignores_status: bool = False
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    calls: list[str] = field(default_factory=list)
    # Failure and race injection (see the module docstring).
    create_error: SunskyError | None = None
    create_then_raise: SunskyError | None = None
    before_create: Callable[[], Awaitable[None]] | None = None
    details_errors: dict[str, SunskyError] = field(default_factory=dict)
    list_errors: list[SunskyError] = field(default_factory=list)
    lookup_errors: list[SunskyError] = field(default_factory=list)
    after_list: Callable[[], Awaitable[None]] | None = None
    _seq: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    # --- reads ----------------------------------------------------------------------------
    async def get_countries(self) -> list[Country]:
        self.calls.append("getCountries")
        return list(self.countries)

    async def get_balance(self) -> Decimal:
        self.calls.append("getBalance")
        return self.balance

    async def get_prices_and_freights(self, country_id: int, items: Sequence[tuple[str, int]],
                                      state: str | None = None) -> Quote:
        self.calls.append("getPricesAndFreights")
        prices = [PriceLine(itemNo=sku, qty=qty, price=self._price(sku),
                            amount=self._price(sku) * qty) for sku, qty in items]
        freight = [] if country_id in UNSHIPPABLE else list(self.freight)
        return Quote(freightList=freight, priceList=prices)

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
        """Newest first, like the sandbox; orders without ``gmtCreated`` match every window.
        ``site_number`` is ignored, as SUNSKY may (the filter is only reported by others)."""
        self.calls.append("getOrderList")
        if self.list_errors:
            raise self.list_errors.pop(0)
        wanted = None if self.list_ignores_status else status
        found = [o for o in reversed(self.orders.values())
                 if wanted in (None, o.status) and _created_within(o, created_from, created_to)]
        served = _page(found, page, page_size)
        if self.after_list is not None:
            await self.after_list()  # the page is already read: what happens now makes it stale
        return served

    async def find_order_by_site_number(self, site_number: str, *, not_before: datetime,
                                        max_calls: int | None = None) -> SunskyOrder | None:
        self.calls.append("getOrderList")
        if self.lookup_errors:
            raise self.lookup_errors.pop(0)
        earliest = not_before - TIME_ZONE_PAD
        mine = [o for o in reversed(self.orders.values()) if o.site_number == site_number
                and (o.gmt_created is None or o.gmt_created >= earliest)]
        return next((o for o in mine if o.status != CANCELLED), mine[0] if mine else None)

    async def get_bill_list(self, *, created_from: date, created_to: date, page: int = 1,
                            page_size: int = 100) -> BillPage:
        """Balance movements in the window, newest first, like the sandbox's bills."""
        self.calls.append("getBillList")
        bills = [b for b in reversed(self.bills)
                 if b.gmt_created is None or created_from <= b.gmt_created.date() <= created_to]
        start = (page - 1) * page_size
        return BillPage(total=len(bills), pageCount=max(1, -(-len(bills) // page_size)),
                        result=bills[start:start + page_size])

    # --- createOrder ----------------------------------------------------------------------
    async def create_order(self, req: CreateOrderRequest, *, deadline: Deadline | None = None,
                           confirm: Confirm | None = None) -> SunskyOrder:
        self.calls.append("createOrder")
        if self.before_create is not None:
            hook, self.before_create = self.before_create, None
            await hook()
        refusal = "the deadline passed" if deadline is not None and deadline.passed else None
        if refusal is None and confirm is not None:
            refusal = await confirm()
        if refusal is not None:
            raise not_sent("order!createOrder.do", [refusal])
        if self.create_error is not None:
            error, self.create_error = self.create_error, None
            raise error
        order = self._create(req)
        if self.create_then_raise is not None:
            error, self.create_then_raise = self.create_then_raise, None
            raise error
        return order

    def _create(self, req: CreateOrderRequest) -> SunskyOrder:
        self._check(req)
        lines = [OrderLine(itemNo=i.item_no, qty=i.qty, price=self.prices[i.item_no],
                           amount=self.prices[i.item_no] * i.qty) for i in req.items]
        amount = sum((line.amount or Decimal(0) for line in lines), Decimal(0))
        way = self._way(req.address)
        total = amount + way.shipping_cost
        if self.balance < total:
            raise SunskyNeedsActionError(
                "BALANCE_NOT_ENOUGH", [f"BALANCE_NOT_ENOUGH: needs {total:.4f}, has "
                                       f"{self.balance:.4f}"], endpoint="order!createOrder.do")
        self.balance -= total
        number, now = f"26112700{next(self._seq):02d}", self.clock()
        self.bills.append(Bill(amount=-total, balance=self.balance, gmtCreated=now,
                               txType="createOrder", refId=number))
        order = SunskyOrder(number=number, siteNumber=req.site_number, status=2, amount=amount,
                            shippingCost=way.shipping_cost, totalAmount=total, gmtCreated=now,
                            gmtPaid=now, detailList=lines, deliveryAddress=req.address,
                            shippingWay=ShippingWay(id=way.id, name=way.name,
                                                    queryUrl=TRACKING_QUERY_URL))
        self.orders[number] = order
        return order

    def _check(self, req: CreateOrderRequest) -> None:
        if self.dedupe and any(o.site_number == req.site_number for o in self.orders.values()):
            raise SunskyDuplicateOrderError("DUPLICATE_SITE_NUMBER", [DUPLICATE],
                                            endpoint="order!createOrder.do")
        if any(i.item_no not in self.prices for i in req.items):
            raise SunskyNeedsActionError("ITEM_NOT_EXIST", ["ITEM_NOT_EXIST"],
                                         endpoint="order!createOrder.do")
        country = next((c for c in self.countries if c.id == req.address.country_id), None)
        if country is None or (country.ship_to_state and not any(
                s.code == req.address.state for s in country.states)):
            raise SunskyNeedsActionError("INVALID_DELIVERY_ADDRESS",
                                         ["INVALID_DELIVERY_ADDRESS: state"],
                                         endpoint="order!createOrder.do")

    def _way(self, address: DeliveryAddress) -> FreightOption:
        ways = [] if address.country_id in UNSHIPPABLE else self.freight
        way = next((f for f in ways if f.id == address.shipping_way_id), None)
        if way is None:
            raise SunskyNeedsActionError("SHIPPING_WAY_NOT_AVAILABLE",
                                         ["SHIPPING_WAY_NOT_AVAILABLE"],
                                         endpoint="order!createOrder.do")
        return way

    def _price(self, sku: str) -> Decimal:
        if sku not in self.prices:
            raise SunskyNeedsActionError("ITEM_NOT_EXIST", ["ITEM_NOT_EXIST"],
                                         endpoint="order!getPricesAndFreights.do")
        return self.prices[sku]

    # --- what SUNSKY does by itself -------------------------------------------------------
    def advance(self, number: str, status: int, *, tracking_number: str | None = None,
                reason: str | None = None) -> SunskyOrder:
        """SUNSKY moves an order (no rules checked: tests may move it anywhere)."""
        order = self.orders[number]
        update: dict[str, Any] = {"status": status}
        if tracking_number or (status == 3 and order.tracking_number is None):
            update["tracking_number"] = tracking_number or f"YT{number}"
        if status == 3 and order.shipping_way is None:
            update["shipping_way"] = ShippingWay(id=246, name="Postnord",
                                                 queryUrl=TRACKING_QUERY_URL)
        if reason:
            update["cancel_reason"] = reason
        self.orders[number] = order.model_copy(update=update)
        return self.orders[number]


def _page(found: list[SunskyOrder], page: int, page_size: int) -> OrderPage:
    start = (page - 1) * page_size
    return OrderPage(total=len(found), pageCount=max(1, -(-len(found) // page_size)),
                     result=found[start:start + page_size])


def _created_within(order: SunskyOrder, start: date, end: date) -> bool:
    created = order.gmt_created
    return created is None or start <= created.date() <= end
