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
from shared.domain.order import OrderStatus, ShippingInfo, SunskyPlacement
from shared.domain.tracking import SunskyView, decide_tracking
from shared.messaging.envelope import Envelope
from shared.settings import Settings
from shared.sunsky.errors import SunskyProtocolError, SunskyTransientError
from shared.sunsky.models import ShippingWay, SunskyOrder
from tests.builders import NOW, Clock, paid_order
from tests.fakes import FakeStore, FakeSunsky, FakeUnitOfWork, fake_uow_factory

# These tests read every status of SUNSKY's list; the sweep by status: test_tracker_statuses.py.
SETTINGS = Settings(tracker_status_filter=False, topic_prefix="t.", tracker_sweep_seconds=600,
                    tracker_sweep_window_days=30)
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


def _order_in(status: OrderStatus, sunsky_status: int = 2, **shipping: Any) -> Any:
    from shared.domain.order import Order

    return Order(id=1, invoice_id="9", invoice_number="INV-9", status=status, items=(),
                 shipping=ShippingInfo(*([None] * 11), **shipping),
                 sunsky=SunskyPlacement("N1", sunsky_status, None, None, None))


# --- stale reads (review fix 1) -------------------------------------------------------------


async def test_sweep_never_applies_a_list_read_older_than_a_callback_read(
        store: FakeStore, sunsky: FakeSunsky, tracker: Tracker, reconciler: Reconciler,
        clock: Clock) -> None:
    order_id, number = await placed(store, sunsky)
    sunsky.advance(number, 3, tracking_number="YT1")

    async def fresher_read_lands_meanwhile() -> None:
        sunsky.after_list = None
        sunsky.advance(number, 3, tracking_number="YT2")
        clock.now += timedelta(seconds=1)
        await tracker.refresh(order_id, source="callback")

    sunsky.after_list = fresher_read_lands_meanwhile
    await reconciler.sweep()  # its list page (YT1) was read before the callback's read (YT2)
    assert store.orders[order_id].shipping.tracking_number == "YT2"
    shipped = published(store, "order.shipped")
    assert [(m.tracking_number, m.is_update) for m in shipped] == [("YT2", False)]
    assert store.synced_at[order_id] == NOW + timedelta(seconds=1)


def test_a_stale_view_changes_nothing_at_all() -> None:
    order = _order_in(S.PROCESSING)
    view = SunskyView("N1", 3, "YT9", read_at=NOW - timedelta(seconds=1))
    decision = decide_tracking(order, view, source="sweep", actor="t", now=NOW, last_read=NOW)
    assert decision.stale and not decision.changed and decision.order == order


@pytest.mark.parametrize(("final", "raw", "read"), [(S.DELIVERED, 5, 3), (S.DELIVERED, 5, 4),
                                                    (S.CANCELLED, 4, 2), (S.SHIPPED, 3, 2)])
def test_a_read_never_moves_the_raw_status_back_from_a_later_state(
        final: OrderStatus, raw: int, read: int) -> None:
    order = _order_in(final, sunsky_status=raw)
    decision = decide_tracking(order, SunskyView("N1", read), source="t", actor="t", now=NOW)
    assert not decision.changed and decision.order.sunsky.status == raw
    assert decision.refused_move is not None


async def test_every_apply_path_records_the_time_of_its_read(
        store: FakeStore, sunsky: FakeSunsky, tracker: Tracker, reconciler: Reconciler,
        clock: Clock) -> None:
    order_id, number = await placed(store, sunsky, placed_at=NOW - timedelta(hours=1))
    await tracker.handle(placed_message(order_id, number))
    assert store.synced_at[order_id] == NOW - timedelta(hours=1)  # createOrder's answer
    clock.now += timedelta(minutes=1)
    sunsky.advance(number, 3)
    await reconciler.verify({number: "order/shipped"})
    assert store.synced_at[order_id] == clock.now
    clock.now += timedelta(minutes=1)
    await tracker.refresh(order_id)  # nothing new, but read: still recorded
    assert store.synced_at[order_id] == clock.now
    await tracker.apply(SunskyView(number, 2, read_at=NOW), source="an old page")
    assert store.synced_at[order_id] == clock.now and store.orders[order_id].status == S.SHIPPED


# --- one failing order (review fix 2) -------------------------------------------------------

BAD = SunskyProtocolError("BAD_RESPONSE", ["<html>proxy error</html>"])


async def test_a_failing_order_neither_stops_the_sweep_nor_makes_it_run_every_tick(
        store: FakeStore, sunsky: FakeSunsky, reconciler: Reconciler) -> None:
    listed_id, listed_no = await placed(store, sunsky, 1)
    bad_id, bad_no = await placed(store, sunsky, 2)
    old_id, old_no = await placed(store, sunsky, 3, placed_at=NOW - timedelta(days=90))
    del sunsky.orders[bad_no]  # not on SUNSKY's list: read alone, and that read fails
    sunsky.details_errors[bad_no] = BAD
    sunsky.advance(listed_no, 5)
    sunsky.advance(old_no, 5)
    report = await reconciler.sweep()
    assert report.errors == 1 and report.skipped is None
    assert store.orders[listed_id].status == store.orders[old_id].status == S.DELIVERED
    assert bad_id in store.tried_at  # rotated: the next sweep reads the others first
    assert (await reconciler.sweep()).skipped == "not due"


async def test_a_straggler_that_keeps_failing_goes_to_the_back_of_the_queue(
        store: FakeStore, sunsky: FakeSunsky, tracker: Tracker, clock: Clock) -> None:
    settings = SETTINGS.model_copy(update={"tracker_sweep_stragglers": 1})
    reconciler = Reconciler(settings, fake_uow_factory(store), sunsky, tracker, clock=clock)
    _, bad_no = await placed(store, sunsky, 1, placed_at=NOW - timedelta(days=91))
    good_id, good_no = await placed(store, sunsky, 2, placed_at=NOW - timedelta(days=90))
    sunsky.details_errors[bad_no] = SunskyTransientError("TIMEOUT", ["read timed out"])
    sunsky.advance(good_no, 5)
    await reconciler.sweep()
    assert store.orders[good_id].status == S.PLACED  # the failing one had the budget
    clock.now += timedelta(seconds=settings.tracker_sweep_seconds)
    await reconciler.sweep()
    assert store.orders[good_id].status == S.DELIVERED


async def test_a_failing_list_window_leaves_its_orders_and_reads_the_others(
        store: FakeStore, sunsky: FakeSunsky, reconciler: Reconciler) -> None:
    early_id, early_no = await placed(store, sunsky, 1, placed_at=NOW - timedelta(days=20))
    late_id, late_no = await placed(store, sunsky, 2)
    sunsky.advance(early_no, 5)
    sunsky.advance(late_no, 5)
    sunsky.list_errors.append(BAD)  # the first window read: the earlier day's
    report = await reconciler.sweep()
    assert store.orders[late_id].status == S.DELIVERED
    assert store.orders[early_id].status == S.PLACED  # left for the next sweep
    assert sunsky.calls == ["getOrderList", "getOrderList"] and report.errors == 1


# --- tracking URL and order.placed (review fix 3) -------------------------------------------


@pytest.mark.parametrize(("stored_url", "expected"), [
    ("https://t.17track.net/en#nums=YT1", "https://t.17track.net/en#nums=YT2"),
    ("https://carrier.example/track", None),  # not "prefix + old number": no URL, not a wrong one
])
def test_a_new_tracking_number_read_without_a_url_never_keeps_the_old_numbers_url(
        stored_url: str, expected: str | None) -> None:
    order = _order_in(S.SHIPPED, 3, tracking_number="YT1", tracking_url=stored_url)
    decision = decide_tracking(order, SunskyView("N1", 3, "YT2"), source="sweep", actor="t",
                               now=NOW)
    ship = decision.order.shipping
    assert (ship.tracking_number, ship.tracking_url) == ("YT2", expected)


async def test_order_placed_already_shipped_reads_the_tracking_number_first(
        store: FakeStore, sunsky: FakeSunsky, tracker: Tracker) -> None:
    order_id, number = await placed(store, sunsky, sunsky_status=3)
    sunsky.advance(number, 3, tracking_number="YT7")
    await tracker.handle(placed_message(order_id, number))
    [shipped] = published(store, "order.shipped")
    assert shipped.tracking_number == "YT7" and shipped.tracking_url.endswith("YT7")
    assert store.orders[order_id].status == S.SHIPPED and sunsky.calls == ["getOrderDetails"]


async def test_order_placed_already_shipped_is_left_to_the_sweep_when_sunsky_fails(
        store: FakeStore, sunsky: FakeSunsky, tracker: Tracker) -> None:
    order_id, number = await placed(store, sunsky, sunsky_status=3)
    sunsky.details_errors[number] = BAD
    await tracker.handle(placed_message(order_id, number))
    assert store.orders[order_id].status == S.PLACED and store.outbox == []


# --- what the sweep reads (review fix 4) ----------------------------------------------------


async def test_sweep_pages_through_recent_orders_newest_first_and_skips_old_ones(
        store: FakeStore, sunsky: FakeSunsky, tracker: Tracker, clock: Clock) -> None:
    reconciler = Reconciler(SETTINGS, fake_uow_factory(store), sunsky, tracker, clock=clock,
                            page_size=2)
    recent = [await placed(store, sunsky, n, placed_at=NOW - timedelta(days=3 * n))
              for n in range(1, 6)]
    await placed(store, sunsky, 9, placed_at=NOW - timedelta(days=40))  # outside the window
    for _, number in recent:
        sunsky.advance(number, 5)
    async with FakeUnitOfWork(store) as uow:
        first = await uow.tracking.list_tracked({S.PROCESSING, S.PLACED}, NOW - timedelta(days=30),
                                              2)
    assert [o.id for o in first] == [recent[0][0], recent[1][0]]  # newest placed first
    report = await reconciler.sweep()
    assert {store.orders[i].status for i, _ in recent} == {S.DELIVERED}
    assert report.orders == 6 and report.details == 1  # 5 listed, the old one read alone


async def test_unlisted_and_old_orders_have_their_own_budgets_and_take_turns(
        store: FakeStore, sunsky: FakeSunsky, tracker: Tracker, clock: Clock) -> None:
    settings = SETTINGS.model_copy(update={"tracker_sweep_stragglers": 1})
    reconciler = Reconciler(settings, fake_uow_factory(store), sunsky, tracker, clock=clock)
    unlisted = [await placed(store, sunsky, n) for n in (1, 2)]
    old_id, old_no = await placed(store, sunsky, 3, placed_at=NOW - timedelta(days=90))
    for _, number in unlisted:
        sunsky.orders[number] = sunsky.orders[number].model_copy(
            update={"gmt_created": NOW + timedelta(days=9)})  # listed under another day
        sunsky.advance(number, 5)
    sunsky.advance(old_no, 5)
    await reconciler.sweep()
    assert store.orders[old_id].status == S.DELIVERED  # not starved by the unlisted ones
    assert [store.orders[i].status for i, _ in unlisted] == [S.DELIVERED, S.PLACED]
    clock.now += timedelta(seconds=settings.tracker_sweep_seconds)
    await reconciler.sweep()
    assert store.orders[unlisted[1][0]].status == S.DELIVERED


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
    assert inbox.offer("1", "order/shipped") == "queued"
    assert inbox.offer("1", "order/tracking") == "already queued"
    assert inbox.offer("2", "order/cancelled") == "queued" and inbox.pending == 2


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


# --- the callback queue (review fixes 5 and 6) ----------------------------------------------


class Verified:
    """A verify function that records its batches and says when ``expected`` numbers came."""

    def __init__(self, expected: int) -> None:
        self.batches: list[list[str]] = []
        self.expected, self.done = expected, asyncio.Event()

    async def __call__(self, batch: Any) -> None:
        self.batches.append(list(batch))
        if sum(map(len, self.batches)) >= self.expected:
            self.done.set()

    async def run(self, inbox: CallbackInbox) -> None:
        task = asyncio.create_task(inbox.run())
        await asyncio.wait_for(self.done.wait(), 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_inbox_hands_at_most_batch_max_numbers_to_each_batch() -> None:
    verified = Verified(5)
    inbox = CallbackInbox(verified, batch_seconds=0.01, batch_max=2)
    for number in "12345":
        inbox.offer(number, "order/shipped")
    await verified.run(inbox)
    assert verified.batches == [["1", "2"], ["3", "4"], ["5"]]


async def test_a_full_callback_queue_answers_503_so_sunsky_sends_again_later() -> None:
    inbox = CallbackInbox(_never, batch_seconds=0, batch_max=1, max_pending=2)
    server = CallbackServer(SETTINGS, inbox)

    async def post(number: str) -> int:
        body = f'{{"event": "order/shipped", "order": {{"number": "{number}"}}}}'.encode()
        return (await server.receive(_Request(body))).status  # type: ignore[arg-type]

    assert [await post("1"), await post("2"), await post("3"), await post("1")] == [
        200, 200, 503, 200]
    assert inbox.pending == 2


async def test_default_queue_cap_is_twenty_batches() -> None:
    inbox = CallbackInbox(_never, batch_seconds=0, batch_max=3)
    outcomes = [inbox.offer(str(n), "order/shipped") for n in range(61)]
    assert outcomes.count("queued") == 60 and outcomes[-1] == "full"


@pytest.mark.parametrize("body", [
    b'{"event": "order/delivered", "order": {"number": "2611270001"}}',  # an event to come
    b'{"order": {"number": 2611270001}}',
    b'{"event": "order/shipped", "number": "2611270001"}',
    b"event=order%2Fshipped&number=2611270001",  # form-encoded
    b"number=2611270001",
])
async def test_any_callback_with_an_order_number_gets_200_and_is_verified(body: bytes) -> None:
    verified = Verified(1)
    inbox = CallbackInbox(verified, batch_seconds=0, batch_max=10)
    response = await CallbackServer(SETTINGS, inbox).receive(_Request(body))  # type: ignore[arg-type]
    assert response.status == 200 and inbox.pending == 1
    await verified.run(inbox)
    assert verified.batches == [["2611270001"]]


async def test_a_callback_with_an_unknown_event_is_read_without_a_status_filter(
        store: FakeStore, sunsky: FakeSunsky, reconciler: Reconciler) -> None:
    orders = [await placed(store, sunsky, n) for n in (1, 2)]
    for _, number in orders:
        sunsky.advance(number, 5)
    await reconciler.verify({number: "order/delivered" for _, number in orders})
    assert {store.orders[i].status for i, _ in orders} == {S.DELIVERED}
    assert sunsky.calls == ["getOrderList"]


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


# --- callbacks waiting when the tracker stops (review 12, finding 5) ------------------------


class _Part:
    """A runtime or a callback server that starts and stops doing nothing."""

    pool = None

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass


def _resources(inbox: CallbackInbox, **kwargs: Any) -> Any:
    from services.tracker.app import TrackerParts, TrackerResources

    parts = TrackerParts(_Part(), None, None, inbox, _Part())  # type: ignore[arg-type]
    return TrackerResources(parts, **kwargs)


async def test_a_stopping_tracker_verifies_the_callbacks_waiting_in_their_window() -> None:
    """SUNSKY has its 200 for these and sends them no more: stopping must not drop them."""
    verified = Verified(3)
    inbox = CallbackInbox(verified, batch_seconds=3600, batch_max=10)
    resources = _resources(inbox)
    await resources.start()
    for number in "123":
        inbox.offer(number, "order/shipped")
    await asyncio.sleep(0.01)  # the inbox waits for its window: 1 h
    assert verified.batches == []
    loop = asyncio.get_running_loop()
    began = loop.time()
    await asyncio.wait_for(resources.stop(), 5)
    assert verified.batches == [["1", "2", "3"]] and inbox.idle
    assert loop.time() - began < 1  # done: no waiting out the stop's time limit


async def test_a_stop_waits_for_verification_only_so_long_and_counts_what_is_left(
        caplog: pytest.LogCaptureFixture) -> None:
    started = asyncio.Event()

    async def hangs(batch: Any) -> None:  # SUNSKY (or its call budget) not answering
        started.set()
        await asyncio.Event().wait()

    inbox = CallbackInbox(hangs, batch_seconds=3600, batch_max=2)
    resources = _resources(inbox, stop_seconds=0.1)
    await resources.start()
    for number in "123":
        inbox.offer(number, "order/shipped")
    loop = asyncio.get_running_loop()
    began = loop.time()
    with caplog.at_level(logging.WARNING, "services.tracker.app"):
        await asyncio.wait_for(resources.stop(), 5)
    assert started.is_set() and loop.time() - began < 1
    assert inbox.pending == 3  # the batch it was verifying counts as left too
    assert "3 SUNSKY callback numbers left to the sweep" in caplog.text


async def test_a_closed_inbox_verifies_its_backlog_batch_by_batch_then_returns() -> None:
    verified = Verified(5)
    inbox = CallbackInbox(verified, batch_seconds=3600, batch_max=2)
    for number in "12345":
        inbox.offer(number, "order/shipped")
    inbox.close()
    await asyncio.wait_for(inbox.run(), 5)
    assert verified.batches == [["1", "2"], ["3", "4"], ["5"]] and inbox.idle
    await asyncio.wait_for(inbox.run(), 1)  # closed with nothing waiting: returns at once


async def test_an_inbox_cancelled_as_its_batch_falls_due_still_stops() -> None:
    """Python 3.11's ``asyncio.wait_for`` lost a cancel that came with the event it awaited."""
    inbox = CallbackInbox(Verified(1), batch_seconds=3600, batch_max=1)
    task = asyncio.create_task(inbox.run())
    await asyncio.sleep(0.01)  # waiting for a first number
    inbox.offer("1", "order/shipped")  # due at once (batch_max)
    await asyncio.sleep(0)  # run() is waiting for the batch to fall due: it is
    task.cancel()
    done, _ = await asyncio.wait([task], timeout=3)
    if not done:  # still running: stop it for good before failing
        task.cancel()
        await asyncio.wait([task], timeout=3)
    assert done == {task} and task.cancelled()
