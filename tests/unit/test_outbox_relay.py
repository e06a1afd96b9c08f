"""The outbox relay's failure rules (issue 9, section 2): one row that cannot be published is
retried, then parked, holding back only the rows of its own key; an unreachable broker counts
against no row; a parked row is listed and re-sent by a person."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from application.context import AdminContext
from application.outbox import outbox_status, retry_parked
from shared.messaging.outbox import RETRY_DELAYS, BrokerUnreachable, OutboxRelay
from shared.settings import Settings
from tests.builders import Clock
from tests.fakes import FakeBroker, FakeStore, FakeSunsky, FakeUnitOfWork, fake_uow_factory


async def queue(store: FakeStore, *rows: tuple[str, str, bytes]) -> None:
    async with FakeUnitOfWork(store) as uow:
        for topic, key, value in rows:
            await uow.outbox.add(topic, key, value, [("message_id", value[:20])])
        await uow.commit()


def relay(store: FakeStore, broker: FakeBroker, clock: Clock, *, max_attempts: int = 3,
          heal: bool = True) -> OutboxRelay:
    return OutboxRelay(fake_uow_factory(store), broker, max_attempts=max_attempts,
                       heal=broker.heal if heal else None, clock=clock)


async def unsent(store: FakeStore) -> tuple[int, int]:
    async with FakeUnitOfWork(store) as uow:
        return await uow.outbox.count_unsent()


async def test_a_record_too_large_is_parked_at_once_and_holds_back_only_its_key(
        store: FakeStore, clock: Clock) -> None:
    broker = FakeBroker(max_bytes=100)
    await queue(store, ("t.order.placed", "7", b"x" * 500), ("t.order.placed", "8", b"eight"),
                ("t.order.shipped", "7", b"seven shipped"), ("t.order.placed", "9", b"nine"))
    sent = await relay(store, broker, clock).flush()
    assert broker.values() == [b"eight", b"nine"]  # the other orders carry on
    assert sent == 2 and await unsent(store) == (2, 1)
    assert await relay(store, broker, clock).flush() == 0  # key 7 stays held, nothing retried
    async with FakeUnitOfWork(store) as uow:
        [parked] = await uow.outbox.parked(10)
    assert parked.row.key == "7" and parked.waiting_behind == 1 and parked.row.attempts == 1
    assert "MessageSizeTooLargeError" in (parked.row.last_error or "")


async def test_a_failing_row_is_retried_later_then_parked_and_others_flow(
        store: FakeStore, clock: Clock) -> None:
    broker = FakeBroker()
    broker.missing.add("t.unknown.topic")  # not one of ours: the keeper cannot create it
    await queue(store, ("t.unknown.topic", "1", b"lost"), ("t.order.ready", "1", b"behind"))
    outbox = relay(store, broker, clock, max_attempts=3)
    for attempt in range(1, 4):
        await queue(store, ("t.order.ready", f"other-{attempt}", f"o{attempt}".encode()))
        await outbox.flush()
        assert f"o{attempt}".encode() in broker.values()  # never blocked by row 1
        assert await outbox.flush() == 0  # not retried before its delay
        clock.now += timedelta(seconds=RETRY_DELAYS[attempt - 1])
    async with FakeUnitOfWork(store) as uow:
        [parked] = await uow.outbox.parked(10)
        assert parked.row.attempts == 3 and parked.waiting_behind == 1
    assert b"behind" not in broker.values()  # order kept: it may not overtake row 1
    clock.now += timedelta(hours=1)
    assert await outbox.flush() == 0  # parked: waits for a person, however long


async def test_an_unreachable_broker_counts_against_no_row(store: FakeStore,
                                                          clock: Clock) -> None:
    broker = FakeBroker()
    await queue(store, ("t.order.ready", "1", b"a"), ("t.order.ready", "1", b"b"))
    broker.down = True
    outbox = relay(store, broker, clock, max_attempts=1)
    for _ in range(5):
        with pytest.raises(BrokerUnreachable):
            await outbox.flush()
    assert await unsent(store) == (2, 0)  # nothing parked although max_attempts is 1
    broker.down = False
    assert await outbox.flush() == 2 and broker.values() == [b"a", b"b"]


async def test_a_missing_topic_of_ours_is_recreated_and_the_row_goes_next_time(
        store: FakeStore, clock: Clock) -> None:
    broker = FakeBroker()
    broker.missing.add("t.order.ready")
    await queue(store, ("t.order.ready", "1", b"ready"))
    outbox = relay(store, broker, clock)
    await outbox.flush()
    assert broker.healed == [{"t.order.ready"}] and broker.values() == []
    clock.now += timedelta(seconds=RETRY_DELAYS[0])
    assert await outbox.flush() == 1 and broker.values() == [b"ready"]


async def test_rows_of_one_key_behind_a_failure_are_not_sent_ahead_of_it(
        store: FakeStore, clock: Clock) -> None:
    broker = FakeBroker(max_bytes=10)
    await queue(store, ("t.order.shipped", "42", b"shipped-" * 4),
                ("t.order.delivered", "42", b"delivered"))
    await relay(store, broker, clock).flush()
    assert broker.values() == []  # delivered would have overtaken shipped


async def test_a_person_lists_and_resends_parked_rows_in_their_order(
        store: FakeStore, clock: Clock) -> None:
    broker = FakeBroker(max_bytes=10)
    await queue(store, ("t.order.shipped", "42", b"shipped-" * 4),
                ("t.order.delivered", "42", b"delivered"), ("t.order.ready", "5", b"ready"))
    await relay(store, broker, clock).flush()
    ctx = AdminContext(Settings(), fake_uow_factory(store), FakeSunsky(), broker,
                       relay(store, broker, clock).flush)
    status = await outbox_status(ctx)
    assert [p.row.topic for p in status.parked] == ["t.order.shipped"]
    assert status.unsent == 2 and status.parked[0].waiting_behind == 1
    broker.max_bytes = 1000  # the cause is fixed (say, the broker's limit raised)
    result = await retry_parked(ctx, ())
    assert result.released == [status.parked[0].row.id] and result.published == 2
    assert broker.values() == [b"ready", b"shipped-" * 4, b"delivered"]
    assert (await outbox_status(ctx)).unsent == 0


async def test_resending_an_id_that_is_not_parked_says_so(store: FakeStore,
                                                         clock: Clock) -> None:
    broker = FakeBroker()
    ctx = AdminContext(Settings(), fake_uow_factory(store), FakeSunsky(), broker,
                       relay(store, broker, clock).flush)
    result = await retry_parked(ctx, (999,))
    assert result.released == [] and result.not_parked == [999]


async def test_a_relay_nudged_as_it_is_cancelled_still_stops(
        store: FakeStore, clock: Clock) -> None:
    """A commit right before a stop nudges the relay in the same turn of the event loop as the
    stop cancels it; Python 3.11's ``asyncio.wait_for`` then swallowed the cancellation and the
    relay ran on, so the process only left by the 12 s stop deadline (the tracker verifying
    its waiting callbacks at stop, review 12 finding 5)."""
    outbox = relay(store, FakeBroker(), clock)
    task = asyncio.create_task(outbox.run())
    await asyncio.sleep(0.01)  # waiting for a nudge
    outbox.nudge()
    task.cancel()
    done, _ = await asyncio.wait([task], timeout=3)
    if not done:  # still running: stop it for good before failing
        task.cancel()
        await asyncio.wait([task], timeout=3)
    assert done == {task} and task.cancelled()
