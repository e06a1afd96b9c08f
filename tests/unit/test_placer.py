from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest

from devtools.perfex_events import address
from schemas.orders import ORDER_MESSAGE, OrderApiFailed, OrderPlaced, OrderReady
from services.placer.handlers import Placer
from services.retrier.handlers import Retrier
from shared.domain.order import OrderStatus
from shared.messaging.envelope import Envelope
from shared.messaging.policy import MessageRejected
from shared.settings import Settings
from shared.sunsky.errors import (
    SunskyDuplicateOrderError,
    SunskyNeedsActionError,
    SunskyTransientError,
    SunskyUnknownOutcomeError,
)
from tests.builders import NOW, Clock, seed_order
from tests.fakes import FakeStore, FakeSunsky, fake_uow_factory

SETTINGS = Settings(placing_settle_seconds=30)


def ready(order_id: int, offset: int = 0) -> Envelope:
    msg = OrderReady(message_id=f"m{offset}", order_id=order_id, invoice_id="42", occurred_at=NOW)
    return Envelope("order.ready", 0, offset, str(order_id), msg.model_dump_json().encode())


@pytest.fixture
def placer(store: FakeStore, sunsky: FakeSunsky, clock: Clock) -> Placer:
    return Placer(SETTINGS, fake_uow_factory(store), sunsky, clock=clock, sleep=clock.sleep)


def outbox(store: FakeStore, suffix: str) -> list:
    return [ORDER_MESSAGE.validate_json(v) for v in store.messages(suffix)]


async def test_places_once_and_publishes_order_placed(
        store: FakeStore, sunsky: FakeSunsky, placer: Placer) -> None:
    order_id = await seed_order(store)
    await placer.handle(ready(order_id))
    await placer.handle(ready(order_id, offset=1))  # a duplicate delivery
    order = store.orders[order_id]
    assert order.status == OrderStatus.PLACED and order.sunsky is not None
    assert len(sunsky.orders) == 1
    [placed] = outbox(store, "order.placed")
    assert isinstance(placed, OrderPlaced) and placed.sunsky_order_number == order.sunsky.number
    assert order.shipping.shipping_method == "Postnord"  # cheapest by policy
    assert [c.to_status for c in store.history[order_id]][-2:] == [
        OrderStatus.PLACING, OrderStatus.PLACED]


@pytest.mark.parametrize(("quote_cache_seconds", "quotes"), [(0, 5), (600, 1)])
async def test_steady_state_costs_at_most_two_sunsky_calls_per_order(
        store: FakeStore, sunsky: FakeSunsky, clock: Clock, quote_cache_seconds: float,
        quotes: int) -> None:
    settings = Settings(placing_settle_seconds=30, quote_cache_seconds=quote_cache_seconds)
    placer = Placer(settings, fake_uow_factory(store), sunsky, clock=clock, sleep=clock.sleep)
    ids = [await seed_order(store, invoice_id=n) for n in range(1, 6)]
    for order_id in ids:
        await placer.handle(ready(order_id))
    per_order = [c for c in sunsky.calls if c not in {"getCountries", "getBalance"}]
    assert len(per_order) == len(ids) + quotes  # one cart: quoted once when cached
    assert sunsky.calls.count("getCountries") == 1 and sunsky.calls.count("getBalance") == 1


async def test_low_balance_fails_before_create_order(
        store: FakeStore, sunsky: FakeSunsky, placer: Placer) -> None:
    sunsky.balance = Decimal("1.00")
    order_id = await seed_order(store)
    await placer.handle(ready(order_id))
    order = store.orders[order_id]
    assert order.status == OrderStatus.API_FAILED and order.last_error is not None
    assert order.last_error.code == "BALANCE_NOT_ENOUGH"
    assert "needs" in order.last_error.fix_hint and "has 1.00 USD" in order.last_error.fix_hint
    assert "createOrder" not in sunsky.calls
    [failed] = outbox(store, "order.api_failed")
    assert isinstance(failed, OrderApiFailed) and failed.error_code == "BALANCE_NOT_ENOUGH"
    headers = dict(store.outbox[-1][3])
    assert headers["error.code"] == b"BALANCE_NOT_ENOUGH" and headers["attempt"] == b"0"


async def test_sunsky_refusing_for_balance_keeps_the_quote_and_the_top_up_hint(
        store: FakeStore, sunsky: FakeSunsky, placer: Placer) -> None:
    sunsky.create_error = SunskyNeedsActionError(
        "BALANCE_NOT_ENOUGH", ["BALANCE_NOT_ENOUGH: needs 11.33, has 2.00"],
        endpoint="order!createOrder.do")
    order_id = await seed_order(store)
    await placer.handle(ready(order_id))
    order = store.orders[order_id]
    assert order.last_error is not None and order.last_error.code == "BALANCE_NOT_ENOUGH"
    assert order.last_error.message == "BALANCE_NOT_ENOUGH: needs 11.33, has 2.00"  # verbatim
    assert order.last_error.fix_hint.startswith("Top up SUNSKY balance: needs 5.33 USD")
    assert order.quoted_total == Decimal("5.33")


async def test_unsupported_country_and_bad_state(store: FakeStore, placer: Placer) -> None:
    br = await seed_order(store, 1, shipping=address(iso2="BR", state="SP"))
    bad_state = await seed_order(store, 2, shipping=address(state="ZZ"))
    await placer.handle(ready(br))
    await placer.handle(ready(bad_state))
    assert store.orders[br].last_error.code == "COUNTRY_NOT_SUPPORTED"  # type: ignore[union-attr]
    assert store.orders[bad_state].last_error.code == "STATE_INVALID"  # type: ignore[union-attr]


async def test_needs_action_refusal_from_sunsky(
        store: FakeStore, sunsky: FakeSunsky, placer: Placer) -> None:
    sunsky.create_error = SunskyNeedsActionError(
        "INVALID_DELIVERY_ADDRESS", ["INVALID_DELIVERY_ADDRESS: postcode"],
        endpoint="order!createOrder.do", fix_hint="Correct the shipping address, then retry")
    order_id = await seed_order(store)
    await placer.handle(ready(order_id))
    order = store.orders[order_id]
    assert order.status == OrderStatus.API_FAILED
    assert order.last_error is not None and order.last_error.message.endswith("postcode")
    assert order.placing_started_at is None  # a definite refusal: no look-up next time


async def test_unknown_outcome_that_did_create_is_found_not_placed_again(
        store: FakeStore, sunsky: FakeSunsky, placer: Placer) -> None:
    sunsky.create_then_raise = SunskyUnknownOutcomeError(
        "UNKNOWN_OUTCOME", ["read timeout"], endpoint="order!createOrder.do", fix_hint="")
    order_id = await seed_order(store)
    await placer.handle(ready(order_id))
    order = store.orders[order_id]
    assert order.status == OrderStatus.PLACED and len(sunsky.orders) == 1
    assert order.sunsky is not None and order.sunsky.number in sunsky.orders


async def test_a_retryable_failure_is_scheduled_even_if_its_message_is_lost(
        store: FakeStore, sunsky: FakeSunsky, placer: Placer, clock: Clock) -> None:
    sunsky.create_error = SunskyTransientError("RATE_LIMITED", ["HTTP 429"],
                                               endpoint="order!createOrder.do")
    order_id = await seed_order(store)
    await placer.handle(ready(order_id))
    order = store.orders[order_id]
    assert order.status == OrderStatus.API_FAILED and order.next_attempt_at is not None
    store.outbox.clear()  # the broker lost order.api_failed: the retrier's scan still finds it
    clock.now = order.next_attempt_at
    retrier = Retrier(SETTINGS, fake_uow_factory(store), sunsky, clock=clock)
    assert await retrier.release_due() == 1
    assert store.orders[order_id].status == OrderStatus.READY_TO_PLACE


async def test_unknown_outcome_that_did_not_create_fails_then_retry_looks_up_first(
        store: FakeStore, sunsky: FakeSunsky, placer: Placer, clock: Clock) -> None:
    sunsky.create_error = SunskyUnknownOutcomeError(
        "UNKNOWN_OUTCOME", ["read timeout"], endpoint="order!createOrder.do", fix_hint="")
    order_id = await seed_order(store)
    await placer.handle(ready(order_id))
    order = store.orders[order_id]
    assert order.status == OrderStatus.API_FAILED and order.placing_started_at is not None
    # an admin/retrier moves it back and re-publishes
    store.orders[order_id] = order.transition(OrderStatus.READY_TO_PLACE, reason="retry",
                                              actor="test", now=clock.now)
    sunsky.calls.clear()
    await placer.handle(ready(order_id, offset=2))
    assert clock.slept == [30.0]  # waited for the earlier attempt to settle
    assert sunsky.calls[0] == "getOrderList" and "createOrder" in sunsky.calls
    assert store.orders[order_id].status == OrderStatus.PLACED and len(sunsky.orders) == 1


async def test_crash_after_intent_recovers_by_lookup(
        store: FakeStore, sunsky: FakeSunsky, placer: Placer, clock: Clock) -> None:
    order_id = await seed_order(store)
    await placer.handle(ready(order_id))
    placed = store.orders[order_id]
    # Simulate: createOrder reached SUNSKY but the process died before the commit.
    store.orders[order_id] = replace(placed, status=OrderStatus.PLACING, sunsky=None)
    clock.now += timedelta(minutes=5)
    await placer.handle(ready(order_id, offset=1))
    assert store.orders[order_id].status == OrderStatus.PLACED and len(sunsky.orders) == 1


async def test_a_second_worker_that_loaded_the_order_earlier_does_not_place_it_again(
        store: FakeStore, sunsky: FakeSunsky, clock: Clock) -> None:
    """A rebalance can hand one order.ready to two workers; both load the order as Ready to
    Place, one records its intent first: the other must not call createOrder."""
    order_id = await seed_order(store)
    slow = Placer(SETTINGS, fake_uow_factory(store), sunsky, clock=clock, sleep=clock.sleep)
    fast = Placer(SETTINGS, fake_uow_factory(store), sunsky, clock=clock, sleep=clock.sleep)
    seen_by_slow = store.orders[order_id]
    await fast.handle(ready(order_id))
    assert store.orders[order_id].status == OrderStatus.PLACED
    store.orders[order_id] = replace(store.orders[order_id], status=OrderStatus.PLACING)
    prepared = await slow.quoter.prepare(seen_by_slow)
    assert await slow._record_intent(seen_by_slow, prepared) is None
    assert sunsky.calls.count("createOrder") == 1


async def test_an_address_corrected_while_quoting_is_quoted_again(
        store: FakeStore, sunsky: FakeSunsky, placer: Placer) -> None:
    order_id = await seed_order(store)
    seen = store.orders[order_id]
    prepared = await placer.quoter.prepare(seen)
    corrected = replace(seen.shipping, address_line1="99 Corrected Rd")
    store.orders[order_id] = replace(seen, shipping=corrected)  # the admin's edit-address
    assert await placer._record_intent(seen, prepared) is None
    assert "createOrder" not in sunsky.calls
    [again] = [ORDER_MESSAGE.validate_json(v) for v in store.messages("order.ready")]
    assert isinstance(again, OrderReady) and again.reason == "address_changed"
    await placer.handle(ready(order_id, offset=1))
    [created] = sunsky.orders.values()
    assert store.orders[order_id].status == OrderStatus.PLACED
    assert created.site_number == store.orders[order_id].site_number


async def test_duplicate_site_number_is_resolved_by_lookup(
        store: FakeStore, sunsky: FakeSunsky, placer: Placer) -> None:
    sunsky.create_then_raise = SunskyDuplicateOrderError(
        "DUPLICATE_SITE_NUMBER", ["该订单已下单"], endpoint="order!createOrder.do", fix_hint="")
    order_id = await seed_order(store)
    await placer.handle(ready(order_id))
    assert store.orders[order_id].status == OrderStatus.PLACED and len(sunsky.orders) == 1


async def test_non_ready_orders_are_left_alone(store: FakeStore, sunsky: FakeSunsky,
                                               placer: Placer) -> None:
    order_id = await seed_order(store)
    store.orders[order_id] = replace(store.orders[order_id], status=OrderStatus.API_FAILED)
    await placer.handle(ready(order_id))
    assert sunsky.calls == [] and store.outbox == []


async def test_a_bug_leaves_the_order_api_failed_and_the_message_for_the_dlq(
        store: FakeStore, sunsky: FakeSunsky, placer: Placer) -> None:
    async def broken(*args: object, **kwargs: object) -> None:
        raise KeyError("freightList")

    sunsky.get_prices_and_freights = broken  # type: ignore[method-assign]
    order_id = await seed_order(store)
    with pytest.raises(KeyError):
        await placer.handle(ready(order_id))
    order = store.orders[order_id]
    assert order.status == OrderStatus.API_FAILED and order.last_error is not None
    assert order.last_error.code == "HANDLER_ERROR" and "freightList" in order.last_error.message
    assert order.next_attempt_at is None  # needs a person, not a retry loop


async def test_unknown_order_is_rejected(placer: Placer) -> None:
    with pytest.raises(MessageRejected):
        await placer.handle(ready(999))
