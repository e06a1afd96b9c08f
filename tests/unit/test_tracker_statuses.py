"""The sweep by status (issue 12): where SUNSKY honours getOrderList's status filter the sweep
asks only for the statuses an open order can have moved to; a page that shows the filter
ignored makes it read every status, and remember that for a while. Counted in the fake's calls
and pages; the same over real HTTP: tests/integration/test_tracker_pg.py."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from services.tracker.handlers import Tracker
from services.tracker.reconcile import Reconciler
from services.tracker.statuses import RECHECK, passes
from shared.domain.order import Order, OrderStatus, SunskyPlacement
from shared.settings import Settings
from tests.builders import Clock, paid_order
from tests.fakes import FakeStore, FakeSunsky, fake_uow_factory
from tests.unit.test_tracker import placed

S = OrderStatus
SETTINGS = Settings(topic_prefix="t.", tracker_sweep_seconds=600, tracker_sweep_window_days=30)


@pytest.fixture
def reconciler(store: FakeStore, sunsky: FakeSunsky, clock: Clock) -> Reconciler:
    tracker = Tracker(SETTINGS, fake_uow_factory(store), sunsky, clock=clock)
    return Reconciler(SETTINGS, fake_uow_factory(store), sunsky, tracker, clock=clock)


async def processing(store: FakeStore, sunsky: FakeSunsky, n: int) -> tuple[int, str]:
    order_id, number = await placed(store, sunsky, n)
    order = store.orders[order_id]
    store.orders[order_id] = order.transition(S.PROCESSING, reason="t", actor="t",
                                              now=order.placed_at)
    return order_id, number


async def test_the_sweep_by_status_brings_every_move_in(
        store: FakeStore, sunsky: FakeSunsky, reconciler: Reconciler) -> None:
    orders = [await processing(store, sunsky, n) for n in range(1, 6)]
    for (_, number), code in zip(orders, (3, 4, 5, 5, 2), strict=True):
        sunsky.advance(number, code)
    report = await reconciler.sweep()
    statuses = [store.orders[i].status for i, _ in orders]
    assert statuses == [S.SHIPPED, S.CANCELLED, S.DELIVERED, S.DELIVERED, S.PROCESSING]
    # one list per status asked (shipped, delivered, cancelled); nothing read one by one
    assert sunsky.calls == ["getOrderList"] * 3 and report.list_pages == 3
    assert report.applied == 4 and report.details == 0


async def test_pages_carry_only_orders_that_moved(
        store: FakeStore, sunsky: FakeSunsky, reconciler: Reconciler) -> None:
    """120 open orders, 3 of them delivered: a read of every status would page through all."""
    orders = [await processing(store, sunsky, n) for n in range(1, 121)]
    for _, number in orders[:3]:
        sunsky.advance(number, 5)
    report = await reconciler.sweep()
    assert report.list_pages == 3  # one page per status, none of them full
    assert [store.orders[i].status for i, _ in orders[:4]] == [S.DELIVERED] * 3 + [S.PROCESSING]


async def test_a_list_that_ignores_the_filter_is_read_by_every_status_for_a_while(
        store: FakeStore, sunsky: FakeSunsky, reconciler: Reconciler, clock: Clock) -> None:
    orders = [await processing(store, sunsky, n) for n in range(1, 4)]
    sunsky.list_ignores_status = True
    sunsky.advance(orders[0][1], 3)
    sunsky.advance(orders[1][1], 5)
    await reconciler.sweep()
    assert [store.orders[i].status for i, _ in orders] == [S.SHIPPED, S.DELIVERED,
                                                           S.PROCESSING]
    assert sunsky.calls == ["getOrderList"] * 2  # the filtered page that showed it, then all
    assert not reconciler.status_filter.trusted()

    sunsky.calls.clear()
    clock.now += timedelta(seconds=SETTINGS.tracker_sweep_seconds)
    sunsky.advance(orders[0][1], 5)
    await reconciler.sweep()  # no filtered page tried: read every status at once
    assert sunsky.calls == ["getOrderList"] and store.orders[orders[0][0]].status == S.DELIVERED

    sunsky.calls.clear()
    sunsky.list_ignores_status = False  # SUNSKY fixed it
    clock.now += RECHECK
    await reconciler.sweep()
    assert sunsky.calls == ["getOrderList"] * 3  # shipped, delivered, cancelled
    assert reconciler.status_filter.trusted()


async def test_a_callback_batch_stops_asking_for_a_status_sunsky_ignores(
        store: FakeStore, sunsky: FakeSunsky, reconciler: Reconciler) -> None:
    orders = [await processing(store, sunsky, n) for n in range(1, 5)]
    sunsky.list_ignores_status = True
    for _, number in orders[:3]:
        sunsky.advance(number, 3)
    await reconciler.verify({number: "order/shipped" for _, number in orders[:3]})
    assert [store.orders[i].status for i, _ in orders] == [S.SHIPPED] * 3 + [S.PROCESSING]
    assert not reconciler.status_filter.trusted()  # the page listed a paid one too
    sunsky.calls.clear()
    await reconciler.verify({orders[3][1]: "order/shipped"})
    assert sunsky.calls == ["getOrderDetails"]


async def shipped_at_sunsky_only(store: FakeStore, sunsky: FakeSunsky, n: int,
                                 ours: OrderStatus) -> tuple[int, str]:
    """An order whose stored raw SUNSKY status is already 3 with no tracking number (createOrder,
    or a look-up adopting it, answered "shipped" and reading its tracking number failed), in
    ``ours``; SUNSKY has the tracking number by now."""
    order_id, number = await placed(store, sunsky, n, sunsky_status=3)
    order = store.orders[order_id]
    if ours != S.PLACED:
        store.orders[order_id] = order.transition(ours, reason="t", actor="t",
                                                  now=order.placed_at)
    sunsky.advance(number, 3, tracking_number=f"YT{number}")
    return order_id, number


@pytest.mark.parametrize("ours", [S.PLACED, S.PROCESSING, S.SHIPPED])
async def test_the_sweep_by_status_finds_what_sunsky_shipped_before_we_followed(
        store: FakeStore, sunsky: FakeSunsky, reconciler: Reconciler, ours: OrderStatus) -> None:
    """Review 12 finding 4: the Shipped pass once chose orders by the raw status last read
    (< 3) only, so these stayed without Shipped or a tracking number until Delivered."""
    order_id, number = await shipped_at_sunsky_only(store, sunsky, 1, ours)
    report = await reconciler.sweep()
    order = store.orders[order_id]
    assert order.status == S.SHIPPED and order.shipping.tracking_number == f"YT{number}"
    assert report.applied == 1 and report.details == 0


def test_the_shipped_pass_leaves_out_only_what_a_shipped_list_cannot_change() -> None:
    number = 0

    def order(ours: OrderStatus, raw: int, tracking: str | None = None) -> Order:
        nonlocal number
        number += 1
        base = paid_order(number)
        return replace(base, status=ours, shipping=replace(base.shipping,
                                                           tracking_number=tracking),
                       sunsky=SunskyPlacement(str(number), raw, None, None, None))

    open_ = [order(S.PLACED, 1), order(S.PROCESSING, 2), order(S.PLACED, 3),
             order(S.PROCESSING, 3), order(S.SHIPPED, 3), order(S.PROCESSING, 9)]
    followed = order(S.SHIPPED, 3, "YT1")  # its number changing: order/tracking callbacks
    final = [order(S.DELIVERED, 5, "YT2"), order(S.CANCELLED, 4), order(S.DELIVERED, 3)]
    chosen = dict(passes([*open_, followed, *final]))
    assert chosen[3] == open_
    assert chosen[4] == chosen[5] == [*open_, followed]  # never an order already final


# --- the callback batch window (issue 12) ---------------------------------------------------


@pytest.mark.parametrize(("window", "sweep", "expected"), [
    (None, 43200, 10800),  # the default: 3 h
    (None, 3600, 3600),  # never longer than a sweep interval
    (2, 43200, 2),
])
def test_the_tracker_waits_for_callbacks_at_most_a_sweep_interval(
        window: float | None, sweep: float, expected: float) -> None:
    from services.tracker.app import bootstrap

    given = {} if window is None else {"tracker_callback_batch_seconds": window}
    parts = bootstrap(Settings(tracker_sweep_seconds=sweep, **given))
    assert parts.inbox.batch_seconds == expected


async def test_lone_callbacks_wait_for_the_window_then_share_one_batch(clock: Clock) -> None:
    from services.tracker.callbacks import CallbackInbox

    batches: list[set[str]] = []

    async def verify(numbers: dict[str, str]) -> None:
        batches.append(set(numbers))

    inbox = CallbackInbox(verify, batch_seconds=3600, batch_max=10, clock=clock)
    assert inbox.due_at() is None
    inbox.offer("1", "order/shipped")
    opened = clock.now
    clock.now += timedelta(minutes=40)
    inbox.offer("2", "order/shipped")  # the window runs from the first one
    assert inbox.due_at() == opened + timedelta(hours=1)
    await inbox.verify_batch()
    assert batches == [{"1", "2"}] and inbox.due_at() is None
