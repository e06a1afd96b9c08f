from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from schemas.orders import ORDER_MESSAGE, OrderApiFailed, OrderReady
from services.placer.sweeps import PlacerSweep
from services.retrier.handlers import Retrier
from shared.db.repository import AUTO_PLACE
from shared.domain.order import OrderError, OrderStatus
from shared.domain.retry import RetryPolicy, plan_balance_retries, schedule_retry
from shared.messaging.envelope import Envelope
from shared.settings import Settings
from tests.builders import NOW, Clock, seed_order
from tests.fakes import FakeStore, FakeSunsky, fake_uow_factory

SETTINGS = Settings(retry_first_delay_seconds=5, retry_factor=2, retry_max_attempts=3,
                    retry_jitter=0.0, stuck_placing_seconds=120, stale_ready_seconds=60)


def failed(store: FakeStore, order_id: int, *, code: str, kind: str, retries: int = 0,
           quoted: str | None = None, at: datetime = NOW) -> None:
    order = store.orders[order_id]
    error = OrderError(code, kind, f"{code} happened", "fix it", at)
    order = replace(order, auto_retries=retries,
                    quoted_total=Decimal(quoted) if quoted else None)
    store.orders[order_id] = order.fail(error, actor="test")


def api_failed(order_id: int, message_id: str = "f1") -> Envelope:
    msg = OrderApiFailed(message_id=message_id, order_id=order_id, invoice_id="42",
                         occurred_at=NOW, error_code="X", error_kind="transient", message="m",
                         fix_hint="h", attempt=1, first_failed_at=NOW)
    return Envelope("order.api_failed", 0, 0, str(order_id), msg.model_dump_json().encode())


@pytest.fixture
def retrier(store: FakeStore, clock: Clock) -> Retrier:
    return Retrier(SETTINGS, fake_uow_factory(store), FakeSunsky(balance=Decimal("25")),
                   clock=clock, rand=lambda: 0.5)


def test_backoff_grows_and_is_capped() -> None:
    policy = RetryPolicy(first_delay=5, factor=2, max_delay=30, jitter=0.2)
    assert [policy.delay(n, 0.5) for n in (1, 2, 3, 4, 5)] == [5, 10, 20, 30, 30]
    assert policy.delay(1, 0.0) == pytest.approx(4.0) and policy.delay(1, 0.999) < 6.0


async def test_transient_failure_is_scheduled_then_released_when_due(
        store: FakeStore, retrier: Retrier, clock: Clock) -> None:
    order_id = await seed_order(store)
    failed(store, order_id, code="SERVER_ERROR", kind="transient")
    await retrier.handle(api_failed(order_id))
    assert store.orders[order_id].next_attempt_at == NOW + timedelta(seconds=5)
    assert await retrier.release_due() == 0  # not due yet
    clock.now += timedelta(seconds=6)
    assert await retrier.release_due() == 1
    order = store.orders[order_id]
    assert order.status == OrderStatus.READY_TO_PLACE and order.next_attempt_at is None
    assert order.auto_retries == 1  # counted whether it failed before or after createOrder
    [ready] = [ORDER_MESSAGE.validate_json(v) for v in store.messages("order.ready")]
    assert isinstance(ready, OrderReady) and ready.reason == "retry"


async def test_a_later_retry_does_not_block_an_earlier_one(
        store: FakeStore, retrier: Retrier, clock: Clock) -> None:
    slow = await seed_order(store, 1)
    fast = await seed_order(store, 2)
    failed(store, slow, code="SERVER_ERROR", kind="transient", retries=1)  # 10 s
    failed(store, fast, code="SERVER_ERROR", kind="transient", retries=0)  # 5 s
    await retrier.handle(api_failed(slow, "a"))
    await retrier.handle(api_failed(fast, "b"))
    clock.now += timedelta(seconds=6)
    assert await retrier.release_due() == 1
    assert store.orders[fast].status == OrderStatus.READY_TO_PLACE
    assert store.orders[slow].status == OrderStatus.API_FAILED


async def test_unknown_outcome_waits_for_the_attempt_to_settle(store: FakeStore) -> None:
    order_id = await seed_order(store)
    failed(store, order_id, code="UNKNOWN_OUTCOME", kind="unknown_outcome")
    started = NOW - timedelta(seconds=20)  # the answer was given up on at NOW (error.at)
    order = replace(store.orders[order_id], placing_started_at=started)
    policy = RetryPolicy(first_delay=1, jitter=0, settle=30)
    decision = schedule_retry(order, policy, NOW, 0.5)
    # settle counts from when we gave up on the answer, not from when the attempt began
    assert decision.order.next_attempt_at == NOW + timedelta(seconds=30)


async def test_needs_action_is_never_retried_automatically(
        store: FakeStore, retrier: Retrier, clock: Clock) -> None:
    order_id = await seed_order(store)
    failed(store, order_id, code="INVALID_DELIVERY_ADDRESS", kind="needs_action")
    await retrier.handle(api_failed(order_id))
    clock.now += timedelta(days=1)
    assert await retrier.release_due() == 0
    assert store.orders[order_id].next_attempt_at is None


async def test_exhausted_retries_stay_api_failed_with_the_last_error(
        store: FakeStore, retrier: Retrier) -> None:
    order_id = await seed_order(store)
    failed(store, order_id, code="SERVER_ERROR", kind="transient", retries=3)
    await retrier.handle(api_failed(order_id))
    order = store.orders[order_id]
    assert order.status == OrderStatus.API_FAILED and order.retries_exhausted
    assert order.last_error is not None and order.last_error.code == "SERVER_ERROR"


async def test_duplicate_api_failed_message_is_a_no_op(store: FakeStore,
                                                       retrier: Retrier) -> None:
    order_id = await seed_order(store)
    failed(store, order_id, code="SERVER_ERROR", kind="transient")
    await retrier.handle(api_failed(order_id, "same"))
    first = store.orders[order_id].next_attempt_at
    await retrier.handle(api_failed(order_id, "same"))
    assert store.orders[order_id].next_attempt_at == first


async def test_balance_top_up_releases_oldest_first_as_far_as_it_reaches(
        store: FakeStore, retrier: Retrier) -> None:
    ids = [await seed_order(store, n) for n in (1, 2, 3)]
    for n, order_id in enumerate(ids):
        failed(store, order_id, code="BALANCE_NOT_ENOUGH", kind="needs_action", quoted="10",
               at=NOW + timedelta(minutes=n))
    assert await retrier.release_for_balance() == 2  # balance 25 covers two orders of 10
    assert [store.orders[i].status for i in ids] == [
        OrderStatus.READY_TO_PLACE, OrderStatus.READY_TO_PLACE, OrderStatus.API_FAILED]


async def test_plan_balance_retries_is_strictly_oldest_first(store: FakeStore) -> None:
    big, small = await seed_order(store, 1), await seed_order(store, 2)
    failed(store, big, code="BALANCE_NOT_ENOUGH", kind="needs_action", quoted="30")
    failed(store, small, code="BALANCE_NOT_ENOUGH", kind="needs_action", quoted="5")
    waiting = [store.orders[big], store.orders[small]]
    # the older, bigger order does not fit: the newer one must not jump the queue
    assert plan_balance_retries(waiting, Decimal(20)) == []
    assert [o.id for o in plan_balance_retries(waiting, Decimal(35))] == [big, small]
    assert plan_balance_retries(waiting, Decimal(0)) == []


async def test_schedule_retry_requires_api_failed(store: FakeStore) -> None:
    order_id = await seed_order(store)
    decision = schedule_retry(store.orders[order_id], RetryPolicy(), NOW, 0.5)
    assert not decision.scheduled and "Ready to Place" in decision.reason


async def test_sweep_republishes_stuck_placing_and_stale_ready(store: FakeStore) -> None:
    stuck = await seed_order(store, 1)
    stale = await seed_order(store, 2)
    fresh = await seed_order(store, 3)
    store.orders[stuck] = replace(store.orders[stuck], status=OrderStatus.PLACING,
                                  placing_started_at=NOW - timedelta(minutes=10))
    store.updated_at.update({stuck: NOW - timedelta(minutes=10),
                             stale: NOW - timedelta(minutes=5), fresh: NOW})
    sweep = PlacerSweep(SETTINGS, fake_uow_factory(store), clock=lambda: NOW)
    assert await sweep.run_once() == 2
    readies = [ORDER_MESSAGE.validate_json(v) for v in store.messages("order.ready")]
    assert sorted(m.order_id for m in readies) == [stuck, stale]
    assert {m.reason for m in readies} == {"sweep"}
    assert store.orders[stuck].status == OrderStatus.PLACING  # the placer decides, by look-up
    assert store.orders[stuck].last_swept_at == NOW


async def test_sweep_leaves_ready_orders_alone_when_auto_place_is_off(store: FakeStore) -> None:
    stale = await seed_order(store, 2)
    store.updated_at[stale] = NOW - timedelta(hours=1)
    store.settings[AUTO_PLACE] = False
    assert await PlacerSweep(SETTINGS, fake_uow_factory(store), clock=lambda: NOW).run_once() == 0
