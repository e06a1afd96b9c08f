"""One contract for the SUNSKY port (STYLE.md point 14): the unit tests' ``FakeSunsky`` and the
real ``SunskyClient`` talking to the sandbox over loopback HTTP must behave the same wherever the
workers depend on it. A fake that drifts from the sandbox fails here, not in production."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol
from uuid import uuid4

import httpx
import pytest

from shared.sunsky.client import SunskyClient
from shared.sunsky.deadline import Deadline
from shared.sunsky.errors import (
    SunskyDuplicateOrderError,
    SunskyNeedsActionError,
    SunskyNotFoundError,
    SunskyNotSentError,
)
from shared.sunsky.models import CreateOrderRequest, DeliveryAddress, SunskyOrder
from shared.sunsky.port import Sunsky
from tests.fake_sunsky import BR, GB, US, FakeSunsky

pytestmark = pytest.mark.integration

CABLE, COVER = "S-CAB-0042", "S-IP4G-0363"


class Controls(Protocol):
    """What a test does to SUNSKY itself (the sandbox's /_sandbox routes, the fake's fields)."""

    async def set_balance(self, amount: Decimal) -> None: ...
    async def ship(self, number: str) -> None: ...
    async def cancel(self, number: str) -> None: ...
    async def set_dedupe(self, on: bool) -> None: ...
    async def set_price(self, item_no: str, price: Decimal) -> None: ...
    async def withdraw_way(self, way_id: int) -> None: ...
    async def ignore_status_filter(self) -> None: ...


@dataclass
class Backend:
    sunsky: Sunsky
    controls: Controls


class FakeControls:
    def __init__(self, fake: FakeSunsky) -> None:
        self._fake = fake

    async def set_balance(self, amount: Decimal) -> None:
        self._fake.balance = amount

    async def ship(self, number: str) -> None:
        self._fake.advance(number, 3)

    async def cancel(self, number: str) -> None:
        self._fake.advance(number, 4)

    async def set_dedupe(self, on: bool) -> None:
        self._fake.dedupe = on

    async def set_price(self, item_no: str, price: Decimal) -> None:
        self._fake.prices[item_no] = price

    async def withdraw_way(self, way_id: int) -> None:
        self._fake.freight = [f for f in self._fake.freight if f.id != way_id]

    async def ignore_status_filter(self) -> None:
        self._fake.list_ignores_status = True


class SandboxControls:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http

    async def set_balance(self, amount: Decimal) -> None:
        (await self._http.post("/_sandbox/balance", json={"set": str(amount)})).raise_for_status()

    async def ship(self, number: str) -> None:
        answer = await self._http.post(f"/_sandbox/orders/{number}/advance", json={"to": "shipped"})
        answer.raise_for_status()

    async def cancel(self, number: str) -> None:
        answer = await self._http.post(f"/_sandbox/orders/{number}/advance",
                                       json={"to": "cancelled"})
        answer.raise_for_status()

    async def set_dedupe(self, on: bool) -> None:
        (await self._http.post("/_sandbox/dedupe", json={"dedupe": on})).raise_for_status()

    async def set_price(self, item_no: str, price: Decimal) -> None:
        world = (await self._http.get("/_sandbox/catalogue")).json()
        world["prices"][item_no] = str(price)
        (await self._http.post("/_sandbox/catalogue", json=world)).raise_for_status()

    async def withdraw_way(self, way_id: int) -> None:
        world = (await self._http.get("/_sandbox/catalogue")).json()
        world["withdrawn_ways"].append(way_id)
        (await self._http.post("/_sandbox/catalogue", json=world)).raise_for_status()

    async def ignore_status_filter(self) -> None:
        faults = (await self._http.get("/_sandbox/faults")).json()
        answer = await self._http.post("/_sandbox/faults",
                                       json={**faults, "list_ignores_status": True})
        answer.raise_for_status()


@pytest.fixture(params=["fake", "sandbox"])
async def backend(request: pytest.FixtureRequest, sandbox: Any) -> AsyncIterator[Backend]:
    if request.param == "fake":
        fake = FakeSunsky(countries=[US, GB, BR])
        yield Backend(fake, FakeControls(fake))
        return
    running, config = sandbox, sandbox.config
    async with SunskyClient(running.base_url, config.api_key, config.api_secret,
                            backoff_base=0.01) as client, \
            httpx.AsyncClient(base_url=running.base_url) as http:
        yield Backend(client, SandboxControls(http))


def site() -> str:
    return f"PC-{uuid4().hex[:16]}"


def today() -> Any:
    return datetime.now(UTC).date()


def window() -> dict[str, Any]:
    return {"created_from": today() - timedelta(days=1), "created_to": today() + timedelta(days=1)}


def since() -> dict[str, Any]:
    """The look-up's window: from an attempt's start just before the test placed its order."""
    return {"not_before": datetime.now(UTC) - timedelta(minutes=1)}


async def place(sunsky: Sunsky, site_number: str, items: list[tuple[str, int]] | None = None,
                state: str | None = "IL") -> SunskyOrder:
    lines = items or [(CABLE, 1)]
    quote = await sunsky.get_prices_and_freights(US.id, lines, state="IL")
    address = DeliveryAddress(country_id=US.id, state=state, city="Chicago",
                              address="1 Contract St", postcode="60601", receiver="Port Contract",
                              telephone="3125550100", shipping_way_id=quote.freight_options[0].id)
    return await sunsky.create_order(CreateOrderRequest(site_number=site_number, items=lines,
                                                        address=address))


async def create_from(sunsky: Sunsky, way_id: int, lines: list[tuple[str, int]]) -> SunskyOrder:
    address = DeliveryAddress(country_id=US.id, state="IL", city="Chicago",
                              address="1 Contract St", postcode="60601", receiver="Port Contract",
                              telephone="3125550100", shipping_way_id=way_id)
    return await sunsky.create_order(CreateOrderRequest(site_number=site(), items=lines,
                                                        address=address))


async def test_countries_carry_sunskys_own_ids_and_us_states(backend: Backend) -> None:
    countries = {c.code: c for c in await backend.sunsky.get_countries()}
    assert countries["US"].id == 41 and countries["US"].ship_to_state
    assert {"IL", "NY"} <= {s.code for s in countries["US"].states}
    assert "BR" in countries


async def test_a_quote_prices_each_line_and_offers_freight(backend: Backend) -> None:
    quote = await backend.sunsky.get_prices_and_freights(US.id, [(CABLE, 2), (COVER, 1)],
                                                         state="IL")
    assert quote.freight_options and all(f.shipping_cost > 0 for f in quote.freight_options)
    prices = {p.item_no: p for p in quote.prices}
    assert set(prices) == {CABLE, COVER}
    assert prices[CABLE].amount == prices[CABLE].price * 2


async def test_no_freight_to_a_country_sunsky_does_not_ship_to(backend: Backend) -> None:
    brazil = next(c for c in await backend.sunsky.get_countries() if c.code == "BR")
    assert (await backend.sunsky.get_prices_and_freights(brazil.id, [(CABLE, 1)])
            ).freight_options == []


async def test_unknown_items_are_refused(backend: Backend) -> None:
    with pytest.raises(SunskyNeedsActionError) as caught:
        await backend.sunsky.get_prices_and_freights(US.id, [("S-NOPE-0000", 1)], state="IL")
    assert caught.value.code == "ITEM_NOT_EXIST"


async def test_create_is_paid_from_the_balance_and_readable_back(backend: Backend) -> None:
    sunsky, number = backend.sunsky, site()
    before = await sunsky.get_balance()
    created = await place(sunsky, number, [(CABLE, 2), (COVER, 1)])
    details = await sunsky.get_order_details(created.number)
    assert details.site_number == number and details.status == 2  # paid
    assert {(line.item_no, line.qty) for line in details.lines} == {(CABLE, 2), (COVER, 1)}
    assert details.total_amount == (details.amount or 0) + (details.shipping_cost or 0)
    assert details.gmt_created is not None
    assert await sunsky.get_balance() == before - (details.total_amount or 0)
    bills = await sunsky.get_bill_list(**window())
    assert any(b.ref_id == created.number and b.amount == -(details.total_amount or 0)
               for b in bills.bills)


async def test_the_look_up_by_site_number(backend: Backend) -> None:
    number = site()
    created = await place(backend.sunsky, number)
    found = await backend.sunsky.find_order_by_site_number(number, **since())
    assert found is not None and found.number == created.number
    assert await backend.sunsky.find_order_by_site_number(site(), **since()) is None


async def test_a_used_site_number_is_refused(backend: Backend) -> None:
    number = site()
    await place(backend.sunsky, number)
    with pytest.raises(SunskyDuplicateOrderError):
        await place(backend.sunsky, number)


async def test_a_balance_that_does_not_cover_the_order_is_refused(backend: Backend) -> None:
    await backend.controls.set_balance(Decimal("1.00"))
    number = site()
    with pytest.raises(SunskyNeedsActionError) as caught:
        await place(backend.sunsky, number, [(CABLE, 50)])
    assert caught.value.code == "BALANCE_NOT_ENOUGH"
    assert await backend.sunsky.find_order_by_site_number(number, **since()) is None
    assert await backend.sunsky.get_balance() == Decimal("1.00")


async def test_a_missing_state_where_sunsky_needs_one_is_refused(backend: Backend) -> None:
    with pytest.raises(SunskyNeedsActionError) as caught:
        await place(backend.sunsky, site(), state=None)
    assert caught.value.code == "INVALID_DELIVERY_ADDRESS"


async def test_an_unknown_order_number_is_not_found(backend: Backend) -> None:
    with pytest.raises(SunskyNotFoundError):
        await backend.sunsky.get_order_details("1999999999")


async def test_the_list_is_newest_first_and_filters_by_status(backend: Backend) -> None:
    first, second = await place(backend.sunsky, site()), await place(backend.sunsky, site())
    await backend.controls.ship(first.number)
    listed = [o.number for o in (await backend.sunsky.get_order_list(**window())).orders]
    assert listed.index(second.number) < listed.index(first.number)
    shipped = (await backend.sunsky.get_order_list(**window(), status=3)).orders
    assert first.number in {o.number for o in shipped}
    assert second.number not in {o.number for o in shipped}


async def test_a_list_that_ignores_the_status_filter_lists_every_status(
        backend: Backend) -> None:
    first, second = await place(backend.sunsky, site()), await place(backend.sunsky, site())
    await backend.controls.ship(first.number)
    await backend.controls.ignore_status_filter()
    listed = {o.number: o.status for o in
              (await backend.sunsky.get_order_list(**window(), status=3)).orders}
    assert listed[first.number] == 3 and listed[second.number] == 2


async def test_create_charges_the_price_of_now_whatever_the_quote_said(
        backend: Backend) -> None:
    sunsky, lines = backend.sunsky, [(CABLE, 2)]
    quote = await sunsky.get_prices_and_freights(US.id, lines, state="IL")
    await backend.controls.set_price(CABLE, Decimal("9.00"))
    created = await create_from(sunsky, quote.freight_options[0].id, lines)
    assert created.amount == Decimal("18.00")
    requoted = await sunsky.get_prices_and_freights(US.id, lines, state="IL")
    assert [p.amount for p in requoted.prices] == [Decimal("18.00")]


async def test_a_withdrawn_shipping_way_is_no_longer_quoted_and_refused(
        backend: Backend) -> None:
    sunsky = backend.sunsky
    quote = await sunsky.get_prices_and_freights(US.id, [(CABLE, 1)], state="IL")
    gone, *others = quote.freight_options
    assert others
    await backend.controls.withdraw_way(gone.id)
    with pytest.raises(SunskyNeedsActionError) as caught:
        await create_from(sunsky, gone.id, [(CABLE, 1)])
    assert caught.value.code == "SHIPPING_WAY_NOT_AVAILABLE"
    requoted = await sunsky.get_prices_and_freights(US.id, [(CABLE, 1)], state="IL")
    assert gone.id not in {f.id for f in requoted.freight_options}
    assert (await create_from(sunsky, others[0].id, [(CABLE, 1)])).number


async def test_a_shipped_order_has_its_tracking_number_and_url(backend: Backend) -> None:
    created = await place(backend.sunsky, site())
    await backend.controls.ship(created.number)
    shipped = await backend.sunsky.get_order_details(created.number)
    assert shipped.status == 3 and shipped.tracking_number
    assert shipped.shipping_way is not None and shipped.shipping_way.query_url
    assert shipped.tracking_url == f"{shipped.shipping_way.query_url}{shipped.tracking_number}"


async def test_without_dedupe_a_reused_site_number_is_a_second_order(backend: Backend) -> None:
    await backend.controls.set_dedupe(False)
    number = site()
    first, second = await place(backend.sunsky, number), await place(backend.sunsky, number)
    assert first.number != second.number


async def test_the_look_up_prefers_a_live_order_to_a_cancelled_one(backend: Backend) -> None:
    await backend.controls.set_dedupe(False)
    number = site()
    cancelled = await place(backend.sunsky, number)
    await backend.controls.cancel(cancelled.number)
    found = await backend.sunsky.find_order_by_site_number(number, **since())
    assert found is not None and (found.number, found.status) == (cancelled.number, 4)
    live = await place(backend.sunsky, number)
    newer = await place(backend.sunsky, number)  # listed before the live one (newest first)
    await backend.controls.cancel(newer.number)
    found = await backend.sunsky.find_order_by_site_number(number, **since())
    assert found is not None and found.number == live.number


async def test_the_look_up_starts_no_earlier_than_the_attempt(backend: Backend) -> None:
    number = site()
    await place(backend.sunsky, number)
    later = datetime.now(UTC) + timedelta(days=2)  # an attempt that started after it
    assert await backend.sunsky.find_order_by_site_number(number, not_before=later) is None


@pytest.mark.parametrize("refusal", ["deadline", "confirm"])
async def test_a_guarded_create_refused_before_it_leaves_creates_nothing(
        backend: Backend, refusal: str) -> None:
    async def superseded() -> str | None:
        return "attempt 1 is no longer the order's current one"

    sunsky, number = backend.sunsky, site()
    before = await sunsky.get_balance()
    guard: dict[str, Any] = ({"deadline": Deadline.within(-1)} if refusal == "deadline" else
                             {"deadline": Deadline.within(30), "confirm": superseded})
    quote = await sunsky.get_prices_and_freights(US.id, [(CABLE, 1)], state="IL")
    request = CreateOrderRequest(site_number=number, items=[(CABLE, 1)], address=DeliveryAddress(
        country_id=US.id, state="IL", city="Chicago", address="1 Contract St", postcode="60601",
        receiver="Port Contract", telephone="3125550100",
        shipping_way_id=quote.freight_options[0].id))
    with pytest.raises(SunskyNotSentError):
        await sunsky.create_order(request, **guard)
    assert await sunsky.find_order_by_site_number(number, **since()) is None
    assert await sunsky.get_balance() == before
