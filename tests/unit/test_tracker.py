"""The tracker with fakes: status mapping, tracking updates, callbacks verified, the sweep."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest

from schemas.orders import ORDER_MESSAGE, OrderCancelled, OrderPlaced, OrderShipped
from services.tracker.callbacks import CallbackInbox, CallbackServer
from services.tracker.handlers import Tracker
from services.tracker.reconcile import Reconciler
from shared.domain.order import OrderStatus, SunskyPlacement
from shared.domain.tracking import SunskyView, decide_tracking
from shared.messaging.envelope import Envelope
from shared.settings import Settings
from shared.sunsky.models import ShippingWay, SunskyOrder
from tests.builders import NOW, Clock, paid_order
from tests.fakes import FakeStore, FakeSunsky, FakeUnitOfWork, fake_uow_factory

SETTINGS = Settings(topic_prefix="t.", tracker_sweep_seconds=600, tracker_sweep_window_days=30)
POSTNORD = ShippingWay(id=246, name="Postnord", queryUrl="https://t.17track.net/en#nums=")
S = OrderStatus


@pytest.fixture
def tracker(store: FakeStore, sunsky: FakeSunsky, clock: Clock) -> Tracker:
    return Tracker(SETTINGS, fake_uow_factory(store), sunsky, clock=clock)


@pytest.fixture
def reconciler(store: FakeStore, sunsky: FakeSunsky, tracker: Tracker,
               clock: Clock) -> Reconciler:
    return Reconciler(SETTINGS, fake_uow_factory(store), sunsky, tracker, clock=clock)


async def placed(store: FakeStore, sunsky: FakeSunsky, invoice_id: int = 42, *,
                 sunsky_status: int = 2, placed_at: datetime = NOW) -> tuple[int, str]:
    """An order in Placed, and its SUNSKY twin; returns (our id, SUNSKY number)."""
    number = f"2611270{invoice_id:03d}"
    async with FakeUnitOfWork(store) as uow:
        order = await uow.orders.add(paid_order(invoice_id))
        order = order.transition(S.PLACED, reason="test", actor="test", now=placed_at)
        order = replace(order, placed_at=placed_at,
                        sunsky=SunskyPlacement(number, sunsky_status, None, None, None))
        await uow.orders.save(order)
        await uow.commit()
    sunsky.orders[number] = SunskyOrder(number=number, status=sunsky_status,
                                        gmtCreated=placed_at, shippingWay=POSTNORD)
    assert order.id is not None
    return order.id, number


def placed_message(order_id: int, number: str, offset: int = 0) -> Envelope:
    msg = OrderPlaced(message_id=f"p{offset}", order_id=order_id, invoice_id="42",
                      occurred_at=NOW, sunsky_order_number=number, site_number="DS1-INV42")
    return Envelope("t.order.placed", 0, offset, str(order_id), msg.model_dump_json().encode())


def published(store: FakeStore, suffix: str) -> list[Any]:
    return [ORDER_MESSAGE.validate_json(v) for v in store.messages(suffix)]


async def test_order_placed_moves_to_processing_without_a_sunsky_call(
        store: FakeStore, sunsky: FakeSunsky, tracker: Tracker) -> None:
    order_id, number = await placed(store, sunsky)
    await tracker.handle(placed_message(order_id, number))
    await tracker.handle(placed_message(order_id, number, offset=1))  # redelivered
    assert store.orders[order_id].status == S.PROCESSING
    assert sunsky.calls == [] and store.outbox == []
    assert [c.to_status for c in store.history[order_id]].count(S.PROCESSING) == 1


async def test_unpaid_at_sunsky_stays_placed(store: FakeStore, sunsky: FakeSunsky,
                                             tracker: Tracker) -> None:
    order_id, number = await placed(store, sunsky, sunsky_status=1)
    await tracker.handle(placed_message(order_id, number))
    assert store.orders[order_id].status == S.PLACED


@pytest.mark.parametrize(("code", "expected", "topic"), [
    (1, S.PLACED, None), (2, S.PROCESSING, None), (3, S.SHIPPED, "order.shipped"),
    (4, S.CANCELLED, "order.cancelled"), (5, S.DELIVERED, "order.delivered"),
])
async def test_sunsky_codes_map_to_our_statuses_skipping_steps(
        store: FakeStore, sunsky: FakeSunsky, tracker: Tracker, code: int,
        expected: OrderStatus, topic: str | None) -> None:
    order_id, number = await placed(store, sunsky, sunsky_status=1)
    sunsky.advance(number, code)
    await tracker.refresh(order_id)
    order = store.orders[order_id]
    assert order.status == expected and order.sunsky is not None and order.sunsky.status == code
    messages = [(t, key) for t, key, _, _ in store.outbox]
    assert messages == ([(f"t.{topic}", order.invoice_id)] if topic else [])


async def test_shipped_stores_tracking_and_publishes_keyed_by_invoice(
        store: FakeStore, sunsky: FakeSunsky, tracker: Tracker) -> None:
    order_id, number = await placed(store, sunsky)
    sunsky.advance(number, 3, tracking_number="YT123")
    await tracker.refresh(order_id)
    ship = store.orders[order_id].shipping
    assert (ship.tracking_number, ship.shipping_method) == ("YT123", "Postnord")
    assert ship.tracking_url == "https://t.17track.net/en#nums=YT123"
    [shipped] = published(store, "order.shipped")
    assert isinstance(shipped, OrderShipped) and not shipped.is_update
    assert (shipped.tracking_number, shipped.tracking_url) == ("YT123", ship.tracking_url)
    assert store.outbox[0][1] == "42"  # the Perfex invoice id, not our order id


async def test_changed_tracking_number_republishes_as_update_once(
        store: FakeStore, sunsky: FakeSunsky, tracker: Tracker) -> None:
    order_id, number = await placed(store, sunsky)
    sunsky.advance(number, 3, tracking_number="YT1")
    await tracker.refresh(order_id)
    sunsky.advance(number, 3, tracking_number="YT2")
    await tracker.refresh(order_id)
    await tracker.refresh(order_id)  # nothing new: no message
    first, update = published(store, "order.shipped")
    assert (first.is_update, update.is_update) == (False, True)
    assert update.tracking_number == "YT2" and update.tracking_url.endswith("YT2")
    assert store.orders[order_id].status == S.SHIPPED


async def test_unknown_code_is_kept_raw_and_logged_never_guessed(
        store: FakeStore, sunsky: FakeSunsky, tracker: Tracker,
        caplog: pytest.LogCaptureFixture) -> None:
    order_id, number = await placed(store, sunsky)
    sunsky.advance(number, 7)
    with caplog.at_level(logging.WARNING):
        result = await tracker.refresh(order_id)
    order = store.orders[order_id]
    assert order.status == S.PLACED and order.sunsky is not None and order.sunsky.status == 7
    assert result.changes == ("SUNSKY status 2 -> 7",) and store.outbox == []
    assert "status code 7 is unknown" in caplog.text


async def test_cancelled_carries_sunsky_reason(store: FakeStore, sunsky: FakeSunsky,
                                               tracker: Tracker) -> None:
    order_id, number = await placed(store, sunsky)
    sunsky.advance(number, 4, reason="out of stock at warehouse")
    await tracker.refresh(order_id)
    [cancelled] = published(store, "order.cancelled")
    assert isinstance(cancelled, OrderCancelled)
    assert cancelled.reason == "out of stock at warehouse"
    assert "out of stock" in store.history[order_id][-1].reason


async def test_stale_read_never_moves_backwards(store: FakeStore, sunsky: FakeSunsky,
                                                tracker: Tracker) -> None:
    order_id, number = await placed(store, sunsky)
    sunsky.advance(number, 3)
    await tracker.refresh(order_id)
    await tracker.apply(SunskyView(number, 2), source="a stale list page")
    assert store.orders[order_id].status == S.SHIPPED


def test_decide_is_idempotent() -> None:
    order = _order_in(S.PROCESSING)
    view = SunskyView("N1", 3, "YT9", "https://t/YT9", "Postnord")
    once = decide_tracking(order, view, source="test", actor="t", now=NOW)
    twice = decide_tracking(once.order, view, source="test", actor="t", now=NOW)
    assert once.changed and once.order.status == S.SHIPPED
    assert not twice.changed and twice.notices == ()


def _order_in(status: OrderStatus) -> Any:
    from shared.domain.order import Order, ShippingInfo

    shipping = ShippingInfo(*([None] * 11))
    return Order(id=1, invoice_id="9", invoice_number="INV-9", status=status, items=(),
                 shipping=shipping, sunsky=SunskyPlacement("N1", 2, None, None, None))


# --- callbacks ------------------------------------------------------------------------------


async def test_forged_callback_is_ignored_because_sunsky_says_otherwise(
        store: FakeStore, sunsky: FakeSunsky, reconciler: Reconciler) -> None:
    order_id, number = await placed(store, sunsky)
    report = await reconciler.verify({number: "order/shipped"})
    assert store.orders[order_id].status == S.PROCESSING  # what SUNSKY really says: paid
    assert store.outbox == [] and report.details == 1 and sunsky.calls == ["getOrderDetails"]


async def test_a_batch_of_callbacks_costs_one_list_page(
        store: FakeStore, sunsky: FakeSunsky, reconciler: Reconciler) -> None:
    orders = [await placed(store, sunsky, invoice_id=n) for n in range(1, 31)]
    for _, number in orders:
        sunsky.advance(number, 3)
    report = await reconciler.verify({number: "order/shipped" for _, number in orders})
    assert {store.orders[i].status for i, _ in orders} == {S.SHIPPED}
    assert sunsky.calls == ["getOrderList"] and report.applied == 30
    assert len(published(store, "order.shipped")) == 30


async def test_callbacks_for_unknown_or_final_orders_cost_nothing(
        store: FakeStore, sunsky: FakeSunsky, reconciler: Reconciler, tracker: Tracker) -> None:
    order_id, number = await placed(store, sunsky)
    sunsky.advance(number, 5)
    await tracker.refresh(order_id)
    sunsky.calls.clear()
    report = await reconciler.verify({number: "order/tracking", "999": "order/shipped"})
    assert sunsky.calls == [] and report.not_ours == ["999"]


async def test_inbox_queues_each_number_once(store: FakeStore) -> None:
    batches: list[dict[str, str]] = []

    async def verify(batch: Any) -> None:
        batches.append(dict(batch))

    inbox = CallbackInbox(verify, batch_seconds=0, batch_max=10)
    assert inbox.offer("1", "order/shipped") and not inbox.offer("1", "order/tracking")
    assert inbox.offer("2", "order/cancelled") and inbox.pending == 2


async def test_inbox_verifies_batches_and_retries_a_failed_one() -> None:
    batches: list[dict[str, str]] = []
    verified = asyncio.Event()

    async def verify(batch: Any) -> None:
        if not batches:
            batches.append({})
            raise RuntimeError("SUNSKY unreachable")
        batches.append(dict(batch))
        verified.set()

    inbox = CallbackInbox(verify, batch_seconds=0.01, batch_max=10, retry_delays=(0.0,))
    task = asyncio.create_task(inbox.run())
    inbox.offer("1", "order/shipped")
    inbox.offer("2", "order/cancelled")
    await asyncio.wait_for(verified.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert batches == [{}, {"1": "order/shipped", "2": "order/cancelled"}]


class _Request:
    """What ``CallbackServer.receive`` reads from an aiohttp request."""

    remote = "127.0.0.1"

    def __init__(self, body: bytes) -> None:
        self._body = body

    async def read(self) -> bytes:
        return self._body


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"event": "order/lost", "order": {}}',
                                  b'{"event": "order/shipped", "order": {"number": ""}}',
                                  b'{"event": "order/shipped"}'])
async def test_malformed_callbacks_get_400_and_are_not_queued(body: bytes) -> None:
    inbox = CallbackInbox(_never, batch_seconds=0, batch_max=10)
    response = await CallbackServer(SETTINGS, inbox).receive(_Request(body))  # type: ignore[arg-type]
    assert response.status == 400 and inbox.pending == 0


async def test_callback_answers_200_and_queues_only_the_number() -> None:
    inbox = CallbackInbox(_never, batch_seconds=0, batch_max=10)
    server = CallbackServer(SETTINGS, inbox)
    body = b'{"event": "order/shipped", "order": {"number": 2611270001, "status": 3}}'
    response = await server.receive(_Request(body))  # type: ignore[arg-type]
    assert response.status == 200 and inbox.pending == 1


async def _never(batch: Any) -> None:
    raise AssertionError("not verified in this test")


# --- the sweep ------------------------------------------------------------------------------


async def test_sweep_alone_brings_orders_to_final_states_with_list_pages(
        store: FakeStore, sunsky: FakeSunsky, reconciler: Reconciler, clock: Clock) -> None:
    orders = [await placed(store, sunsky, invoice_id=n) for n in range(1, 6)]
    for (_, number), code in zip(orders, (3, 4, 5, 5, 2), strict=True):
        sunsky.advance(number, code)
    report = await reconciler.sweep()
    statuses = [store.orders[i].status for i, _ in orders]
    assert statuses == [S.SHIPPED, S.CANCELLED, S.DELIVERED, S.DELIVERED, S.PROCESSING]
    assert sunsky.calls == ["getOrderList"] and report.applied == 5
    assert (await reconciler.sweep()).skipped == "not due"
    clock.now += timedelta(seconds=SETTINGS.tracker_sweep_seconds)
    sunsky.advance(orders[0][1], 5)
    await reconciler.sweep()
    assert store.orders[orders[0][0]].status == S.DELIVERED
    assert "via sweep" in store.history[orders[0][0]][-1].reason


async def test_sweep_reads_orders_older_than_its_window_one_by_one(
        store: FakeStore, sunsky: FakeSunsky, reconciler: Reconciler) -> None:
    old_id, old_number = await placed(store, sunsky, 1, placed_at=NOW - timedelta(days=90))
    new_id, _ = await placed(store, sunsky, 2)
    sunsky.advance(old_number, 5)
    await reconciler.sweep()
    assert store.orders[old_id].status == S.DELIVERED
    assert store.orders[new_id].status == S.PROCESSING
    assert sorted(sunsky.calls) == ["getOrderDetails", "getOrderList"]
    assert old_id in store.synced_at


async def test_sweep_with_nothing_open_calls_nobody(sunsky: FakeSunsky,
                                                    reconciler: Reconciler) -> None:
    report = await reconciler.sweep()
    assert sunsky.calls == [] and report.orders == 0
