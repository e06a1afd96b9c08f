"""The shared freight quote cache (issue 12): hits, misses, expiry, and the re-quote after
createOrder refused what a cached quote chose, counted in the SUNSKY calls the fake received."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from devtools.perfex_events import address
from services.placer.handlers import Placer
from shared.db.housekeeping import Housekeeper
from shared.domain.order import OrderStatus
from shared.settings import Settings
from tests.builders import Clock, seed_order
from tests.fakes import FakeStore, FakeSunsky, fake_uow_factory
from tests.unit.test_placer import ready

S = OrderStatus
TTL = 600


def make_placer(store: FakeStore, sunsky: FakeSunsky, clock: Clock, ttl: float = TTL) -> Placer:
    settings = Settings(placing_settle_seconds=30, quote_cache_seconds=ttl)
    return Placer(settings, fake_uow_factory(store), sunsky, clock=clock, sleep=clock.sleep,
                  monotonic=clock.monotonic)


@pytest.fixture
def placer(store: FakeStore, sunsky: FakeSunsky, clock: Clock) -> Placer:
    return make_placer(store, sunsky, clock)


def quotes(sunsky: FakeSunsky) -> int:
    return sunsky.calls.count("getPricesAndFreights")


async def place(store: FakeStore, placer: Placer, invoice_id: int, **kw: object) -> int:
    order_id = await seed_order(store, invoice_id, **kw)
    await placer.handle(ready(order_id, offset=invoice_id))
    return order_id


async def test_the_same_cart_to_the_same_place_is_quoted_once(
        store: FakeStore, sunsky: FakeSunsky, placer: Placer) -> None:
    ids = [await place(store, placer, n) for n in range(1, 6)]
    assert all(store.orders[i].status == S.PLACED for i in ids)
    assert quotes(sunsky) == 1 and sunsky.calls.count("createOrder") == 5
    assert len(store.quotes) == 1


async def test_another_state_or_country_is_another_quote(
        store: FakeStore, sunsky: FakeSunsky, placer: Placer) -> None:
    await place(store, placer, 1, shipping=address(state="IL"))
    await place(store, placer, 2, shipping=address(state="NY"))
    await place(store, placer, 3, shipping=address(iso2="GB", state=None))
    await place(store, placer, 4, shipping=address(state="NY"))
    assert quotes(sunsky) == 3


async def test_placers_share_the_cache(store: FakeStore, sunsky: FakeSunsky,
                                       clock: Clock) -> None:
    first, second = make_placer(store, sunsky, clock), make_placer(store, sunsky, clock)
    await place(store, first, 1)
    await place(store, second, 2)
    assert quotes(sunsky) == 1 and sunsky.calls.count("createOrder") == 2


async def test_a_quote_expires_after_the_ttl(store: FakeStore, sunsky: FakeSunsky,
                                             placer: Placer, clock: Clock) -> None:
    await place(store, placer, 1)
    clock.now += timedelta(seconds=TTL - 1)
    await place(store, placer, 2)
    assert quotes(sunsky) == 1
    clock.now += timedelta(seconds=1)  # TTL since the quote: gone
    await place(store, placer, 3)
    assert quotes(sunsky) == 2


async def test_ttl_zero_quotes_every_order_and_stores_nothing(
        store: FakeStore, sunsky: FakeSunsky, clock: Clock) -> None:
    placer = make_placer(store, sunsky, clock, ttl=0)
    for n in range(1, 4):
        await place(store, placer, n)
    assert quotes(sunsky) == 3 and store.quotes == {}


async def test_housekeeping_prunes_expired_quotes(store: FakeStore, sunsky: FakeSunsky,
                                                  placer: Placer, clock: Clock) -> None:
    await place(store, placer, 1)
    await place(store, placer, 2, shipping=address(state="NY"))
    keeper = Housekeeper(Settings(), fake_uow_factory(store), clock)
    assert (await keeper.run_once()).quotes == 0
    clock.now += timedelta(seconds=TTL + 1)
    assert (await keeper.run_once()).quotes == 2 and store.quotes == {}


async def test_a_shipping_way_gone_since_the_cached_quote_is_requoted_once_and_placed(
        store: FakeStore, sunsky: FakeSunsky, placer: Placer) -> None:
    await place(store, placer, 1)  # quoted: Postnord, the cheapest
    sunsky.freight = [w for w in sunsky.freight if w.name != "Postnord"]
    order_id = await place(store, placer, 2)
    order = store.orders[order_id]
    assert order.status == S.PLACED and order.shipping.shipping_method == "DHL Express"
    assert quotes(sunsky) == 2 and sunsky.calls.count("createOrder") == 3  # one refused
    assert [o.site_number for o in sunsky.orders.values()].count(order.site_number) == 1
    assert order.attempts == 2  # the re-quoted send had its own intent
    await place(store, placer, 3)  # the fresh quote replaced the stale one in the cache
    assert quotes(sunsky) == 2


async def test_a_price_rise_past_the_balance_is_requoted_and_fails_with_the_real_total(
        store: FakeStore, sunsky: FakeSunsky, placer: Placer) -> None:
    sunsky.balance = Decimal("20")
    await place(store, placer, 1)  # 2 x cable 1.20 + Postnord 2.93 = 5.33
    sunsky.prices["S-CAB-0042"] = Decimal("30.00")
    order_id = await place(store, placer, 2)
    order = store.orders[order_id]
    assert order.status == S.API_FAILED and order.last_error is not None
    assert order.last_error.code == "BALANCE_NOT_ENOUGH"
    assert order.quoted_total == Decimal("62.93")  # the fresh quote's, not the cached 5.33
    assert order.placing_started_at is None  # SUNSKY refused: a retry needs no look-up
    assert quotes(sunsky) == 2 and sunsky.calls.count("createOrder") == 2  # the fresh: none
    assert len(sunsky.orders) == 1


async def test_a_refusal_after_the_fresh_quote_is_not_requoted_again(
        store: FakeStore, sunsky: FakeSunsky, placer: Placer) -> None:
    await place(store, placer, 1)
    sunsky.freight = [w for w in sunsky.freight if w.name != "Postnord"]
    # SUNSKY withdraws DHL as well right after quoting it
    original = sunsky.get_prices_and_freights

    async def quote_then_withdraw(*args: object, **kw: object) -> object:
        answer = await original(*args, **kw)  # type: ignore[arg-type]
        sunsky.freight = []
        return answer

    sunsky.get_prices_and_freights = quote_then_withdraw  # type: ignore[method-assign]
    order_id = await place(store, placer, 2)
    order = store.orders[order_id]
    assert order.status == S.API_FAILED and order.last_error is not None
    assert order.last_error.code == "SHIPPING_WAY_NOT_AVAILABLE"
    assert sunsky.calls.count("createOrder") == 3 and len(sunsky.orders) == 1


async def test_a_charge_other_than_the_cached_quote_drops_it(
        store: FakeStore, sunsky: FakeSunsky, placer: Placer) -> None:
    await place(store, placer, 1)
    sunsky.prices["S-CAB-0042"] = Decimal("1.30")  # SUNSKY charges a little more now
    order_id = await place(store, placer, 2)
    assert store.orders[order_id].status == S.PLACED
    assert store.quotes == {}
    await place(store, placer, 3)
    assert quotes(sunsky) == 2
