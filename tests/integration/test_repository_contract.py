"""One contract suite for the persistence port, run against the fake and PostgreSQL
(STYLE.md point 14): the fake the unit tests trust must behave like the real adapter."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from shared.db.pg import PgUnitOfWork
from shared.db.repository import AUTO_PLACE, OrderFilter
from shared.domain.order import (
    Order,
    OrderError,
    OrderItem,
    OrderStatus,
    ShippingInfo,
    ShipTo,
    SunskyAddress,
    SunskyPlacement,
    new_order_history,
)
from tests.fakes import FakeStore, fake_uow_factory

pytestmark = [pytest.mark.integration]
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Adapter:
    uow: Callable[[], object]
    # True while the unit of work is blocked waiting for a lock another one holds
    waiting: Callable[[object], Awaitable[bool]]


@pytest.fixture(params=["fake", "postgres"])
def adapter(request, db_pool) -> Adapter:
    if request.param == "fake":
        store = FakeStore()

        async def fake_waiting(unit) -> bool:
            return unit.tx is not None and store.locks.is_waiting(unit.tx.owner)

        return Adapter(fake_uow_factory(store), fake_waiting)

    async def pg_waiting(unit) -> bool:
        pid = unit._conn.get_server_pid()
        return bool(await db_pool.fetchval(
            "SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = $1", pid))

    return Adapter(lambda: PgUnitOfWork(db_pool), pg_waiting)


@pytest.fixture
def uow(adapter: Adapter):
    return adapter.uow


def new_order(status: OrderStatus = OrderStatus.READY_TO_PLACE) -> Order:
    shipping = ShippingInfo("Jane Doe", "+1 312", "j@x.com", "Acme", "12 Elm St", "Apt 4",
                            "Chicago", "IL", "60601", "US", "United States")
    items = (OrderItem(1, "Cable", "S-CAB-0042", 2, Decimal("4.50"), Decimal("9.00")),
             OrderItem(2, "Case", "S-CAS-0555", 1, Decimal("3.00"), Decimal("3.00")))
    order = Order(id=None, invoice_id=uuid.uuid4().hex[:12], invoice_number="INV-1",
                  status=status, items=items, shipping=shipping, client_id="3",
                  customer_company="Acme", total=Decimal("12.00"))
    return new_order_history(order, reason="created", actor="test", now=NOW)


async def add(uow, order: Order) -> Order:
    async with uow() as unit:
        saved = await unit.orders.add(order)
        await unit.commit()
    return saved


async def test_add_then_get_round_trips_everything(uow) -> None:
    saved = await add(uow, new_order())
    async with uow() as unit:
        loaded = await unit.orders.get(saved.id)
        by_invoice = await unit.orders.get_by_invoice(saved.invoice_id)
    assert loaded == by_invoice
    assert loaded.items == saved.items and loaded.shipping == saved.shipping
    assert loaded.site_number and loaded.site_number.startswith(f"DS{saved.id}-")


async def test_save_keeps_placement_error_and_history(uow) -> None:
    saved = await add(uow, new_order())
    error = OrderError("SERVER_ERROR", "transient", "HTTP 500", "retry later", NOW)
    failed = saved.fail(error, actor="placer")
    failed = replace(failed, attempts=2, next_attempt_at=NOW, quoted_total=Decimal("12.3400"))
    async with uow() as unit:
        await unit.orders.save(failed)
        await unit.commit()
    async with uow() as unit:
        loaded = await unit.orders.get(saved.id)
        history = await unit.orders.history(saved.id)
    assert loaded.status == OrderStatus.API_FAILED and loaded.last_error == error
    assert loaded.attempts == 2 and loaded.quoted_total == Decimal("12.3400")
    assert [(c.from_status, c.to_status) for c in history] == [
        (None, OrderStatus.READY_TO_PLACE), (OrderStatus.READY_TO_PLACE, OrderStatus.API_FAILED)]
    placed = replace(loaded.transition(OrderStatus.PLACED, reason="found", actor="t", now=NOW),
                     sunsky=SunskyPlacement("2611270001", 2, Decimal("9"), Decimal("2.93"),
                                            Decimal("11.93")))
    async with uow() as unit:
        await unit.orders.save(placed)
        await unit.commit()
    async with uow() as unit:
        assert (await unit.orders.get(saved.id)).sunsky == placed.sunsky


@pytest.mark.parametrize("address", [
    SunskyAddress("2699990001", ShipTo("J. Doe", "+1 312", "1 Old Rd", None, "Chicago", "IL",
                                       "60602", 41), "US"),
    SunskyAddress("2699990002", None, None),  # SUNSKY said nothing of where it ships
])
async def test_where_sunsky_ships_is_kept_and_cleared(uow, address: SunskyAddress) -> None:
    saved = await add(uow, new_order())
    async with uow() as unit:
        await unit.orders.save(replace(saved, sunsky_address=address,
                                       site_number=f"{saved.site_number}-A2"))
        await unit.commit()
    async with uow() as unit:
        loaded = await unit.orders.get(saved.id)
        assert loaded.sunsky_address == address
        assert loaded.site_number == f"{saved.site_number}-A2"
        assert await unit.orders.get_by_sunsky_number(address.number) is None  # not adopted
        await unit.orders.save(replace(loaded, sunsky_address=None))
        await unit.commit()
    async with uow() as unit:
        assert (await unit.orders.get(saved.id)).sunsky_address is None


async def test_nothing_is_kept_without_commit(uow) -> None:
    order = new_order()
    async with uow() as unit:
        await unit.orders.add(order)
        await unit.outbox.add("t", "k", b"v")
    async with uow() as unit:
        assert await unit.orders.get_by_invoice(order.invoice_id) is None


async def test_processed_messages_are_remembered_once(uow) -> None:
    message_id = uuid.uuid4().hex
    async with uow() as unit:
        assert await unit.inbox.mark_processed("c", message_id)
        assert not await unit.inbox.mark_processed("c", message_id)
        assert await unit.inbox.mark_processed("other", message_id)
        await unit.commit()
    async with uow() as unit:
        assert not await unit.inbox.mark_processed("c", message_id)


async def test_settings_round_trip_as_json_values(uow) -> None:
    async with uow() as unit:
        assert await unit.settings.get(AUTO_PLACE) is True
        await unit.settings.set("shipping_way_policy", {"mode": "named", "name": "DHL"},
                                      by="test")
        await unit.commit()
    async with uow() as unit:
        assert await unit.settings.get("shipping_way_policy") == {"mode": "named",
                                                                        "name": "DHL"}


async def test_due_retries_and_balance_waiters(uow) -> None:
    due, later, broke_old, broke_new = [await add(uow, new_order()) for _ in range(4)]
    changes = [
        (due, "SERVER_ERROR", NOW - timedelta(seconds=1), NOW),
        (later, "SERVER_ERROR", NOW + timedelta(hours=1), NOW),
        (broke_old, "BALANCE_NOT_ENOUGH", None, NOW - timedelta(hours=2)),
        (broke_new, "BALANCE_NOT_ENOUGH", None, NOW - timedelta(hours=1)),
    ]
    async with uow() as unit:
        for order, code, next_at, at in changes:
            error = OrderError(code, "transient", code, "hint", at)
            await unit.orders.save(replace(order.fail(error, actor="t"), next_attempt_at=next_at))
        await unit.commit()
    async with uow() as unit:
        due_ids = [o.id for o in await unit.orders.due_retries(NOW, limit=1000)]
        waiting = [o.id for o in await unit.orders.waiting_for_balance(limit=1000)]
    assert due.id in due_ids and later.id not in due_ids
    assert waiting.index(broke_old.id) < waiting.index(broke_new.id)


async def test_list_filters_by_status(uow) -> None:
    failed = await add(uow, new_order(OrderStatus.API_FAILED))
    ready = await add(uow, new_order())
    async with uow() as unit:
        flt = OrderFilter(status=OrderStatus.API_FAILED, limit=10_000)
        listed = await unit.orders.list_orders(flt)
    ids = {o.id for o in listed}
    assert failed.id in ids and ready.id not in ids


async def test_a_fractional_quantity_is_stored_as_perfex_sent_it(uow) -> None:
    order = new_order(OrderStatus.API_FAILED)
    item = replace(order.items[0], quantity=Decimal("1.50"), line_total=Decimal("6.75"))
    saved = await add(uow, replace(order, items=(item,)))
    async with uow() as unit:
        assert (await unit.orders.get(saved.id)).items[0].quantity == Decimal("1.50")


# --- locks: the fake serialises like PostgreSQL where the guarantee depends on it -------------


async def until(check: Callable[[], Awaitable[bool]], what: str, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        await asyncio.sleep(0.01)


async def bump_attempts(adapter: Adapter, order_id: int, entered: asyncio.Future,
                        seen: list[int]) -> None:
    """A second unit of work: read-modify-write of one order under FOR UPDATE."""
    async with adapter.uow() as unit:
        entered.set_result(unit)
        order = await unit.orders.get(order_id, for_update=True)
        seen.append(order.attempts)
        await unit.orders.save(replace(order, attempts=order.attempts + 1))
        await unit.commit()


async def test_for_update_waits_for_the_holder_then_reads_its_commit(adapter: Adapter) -> None:
    saved = await add(adapter.uow, new_order())
    seen: list[int] = []
    async with adapter.uow() as first:
        order = await first.orders.get(saved.id, for_update=True)
        entered = asyncio.get_running_loop().create_future()
        second = asyncio.create_task(bump_attempts(adapter, saved.id, entered, seen))
        other = await entered
        await until(lambda: adapter.waiting(other), "the second unit waits for the row lock")
        assert seen == []  # it has not read the row while the first one holds it
        await first.orders.save(replace(order, attempts=order.attempts + 1))
        await first.commit()
    await second
    assert seen == [1]  # the committed version, not the one before it: no lost update
    async with adapter.uow() as unit:
        assert (await unit.orders.get(saved.id)).attempts == 2


async def test_a_rolled_back_holder_lets_the_waiter_read_the_old_row(adapter: Adapter) -> None:
    saved = await add(adapter.uow, new_order())
    seen: list[int] = []
    async with adapter.uow() as first:
        order = await first.orders.get_by_invoice(saved.invoice_id, for_update=True)
        entered = asyncio.get_running_loop().create_future()
        second = asyncio.create_task(bump_attempts(adapter, saved.id, entered, seen))
        other = await entered
        await until(lambda: adapter.waiting(other), "the second unit waits for the row lock")
        await first.orders.save(replace(order, attempts=41))  # never committed
    await second
    assert seen == [0]


async def test_concurrent_commits_to_other_orders_are_all_kept(adapter: Adapter) -> None:
    one, two = await add(adapter.uow, new_order()), await add(adapter.uow, new_order())
    async with adapter.uow() as first, adapter.uow() as second:
        a = await first.orders.get(one.id, for_update=True)
        b = await second.orders.get(two.id, for_update=True)
        await first.orders.save(replace(a, attempts=5))
        await second.orders.save(replace(b, attempts=7))
        await first.commit()
        await second.commit()
    async with adapter.uow() as unit:
        assert (await unit.orders.get(one.id)).attempts == 5
        assert (await unit.orders.get(two.id)).attempts == 7


async def due_order(adapter: Adapter) -> Order:
    saved = await add(adapter.uow, new_order())
    error = OrderError("SERVER_ERROR", "transient", "HTTP 500", "retry later", NOW)
    failed = replace(saved.fail(error, actor="t"), next_attempt_at=NOW - timedelta(days=3650))
    async with adapter.uow() as unit:
        await unit.orders.save(failed)
        await unit.commit()
    return failed


async def test_skip_locked_passes_over_rows_another_unit_holds(adapter: Adapter) -> None:
    held, free = await due_order(adapter), await due_order(adapter)
    async with adapter.uow() as first:
        await first.orders.get(held.id, for_update=True)
        async with adapter.uow() as second:
            ids = {o.id for o in await second.orders.due_retries(NOW, limit=10_000)}
            assert free.id in ids and held.id not in ids
            async with adapter.uow() as third:  # what the second one picked is locked now
                again = {o.id for o in await third.orders.due_retries(NOW, limit=10_000)}
                assert free.id not in again and held.id not in again
    async with adapter.uow() as later:
        ids = {o.id for o in await later.orders.due_retries(NOW, limit=10_000)}
        assert {held.id, free.id} <= ids


async def test_an_advisory_lock_is_held_until_the_unit_of_work_ends(adapter: Adapter) -> None:
    name = f"sweep-{uuid.uuid4().hex[:8]}"
    async with adapter.uow() as first:
        assert await first.locks.try_lock(name)
        async with adapter.uow() as second:
            assert not await second.locks.try_lock(name)
    async with adapter.uow() as third:
        assert await third.locks.try_lock(name)


async def test_the_same_event_in_two_units_of_work_is_processed_once(adapter: Adapter) -> None:
    message_id = uuid.uuid4().hex
    results: list[bool] = []

    async def duplicate(entered: asyncio.Future) -> None:
        async with adapter.uow() as unit:
            entered.set_result(unit)
            results.append(await unit.inbox.mark_processed("c", message_id))
            await unit.commit()

    async with adapter.uow() as first:
        assert await first.inbox.mark_processed("c", message_id)
        entered = asyncio.get_running_loop().create_future()
        task = asyncio.create_task(duplicate(entered))
        other = await entered
        await until(lambda: adapter.waiting(other), "the duplicate waits for the first")
        await first.commit()
    await task
    assert results == [False]


# --- the outbox queue and housekeeping ----------------------------------------------------------


async def queue_rows(adapter: Adapter, *rows: tuple[str, str | None]) -> list[int]:
    """Outbox rows (topic, key), each valued with a fresh tag; returns their ids in order."""
    tags = [uuid.uuid4().hex for _ in rows]
    async with adapter.uow() as unit:
        for (topic, key), tag in zip(rows, tags, strict=True):
            await unit.outbox.add(topic, key, tag.encode(), [("message_id", tag.encode())])
        await unit.commit()
    async with adapter.uow() as unit:
        found = {r.value.decode(): r.id for r in await unit.outbox.pending(NOW, 100_000)}
    return [found[tag] for tag in tags]


async def due_ids(adapter: Adapter, ids: list[int], now: datetime = NOW) -> list[int]:
    async with adapter.uow() as unit:
        return [r.id for r in await unit.outbox.pending(now, 100_000) if r.id in ids]


async def test_outbox_rows_come_in_id_order_until_sent(adapter: Adapter) -> None:
    k = uuid.uuid4().hex
    ids = await queue_rows(adapter, ("t.a", k), ("t.b", k), ("t.a", None))
    assert ids == sorted(ids) and await due_ids(adapter, ids) == ids
    async with adapter.uow() as unit:
        [row] = [r for r in await unit.outbox.pending(NOW, 100_000) if r.id == ids[0]]
        await unit.outbox.mark_sent([ids[0]], NOW)
        await unit.commit()
    assert (row.topic, row.key, row.headers[0][0]) == ("t.a", k, "message_id")
    assert await due_ids(adapter, ids) == ids[1:]


async def test_a_failed_row_holds_back_its_key_until_due_and_a_parked_one_until_released(
        adapter: Adapter) -> None:
    k, other = uuid.uuid4().hex, uuid.uuid4().hex
    first, behind, free = await queue_rows(adapter, ("t.a", k), ("t.b", k), ("t.a", other))
    ids = [first, behind, free]
    async with adapter.uow() as unit:
        await unit.outbox.record_failure(first, "boom", retry_at=NOW + timedelta(seconds=5),
                                         parked_at=None)
        await unit.commit()
    assert await due_ids(adapter, ids) == [free]
    assert await due_ids(adapter, ids, NOW + timedelta(seconds=5)) == ids
    async with adapter.uow() as unit:
        await unit.outbox.record_failure(first, "boom again", retry_at=None, parked_at=NOW)
        await unit.commit()
    assert await due_ids(adapter, ids, NOW + timedelta(days=9)) == [free]
    async with adapter.uow() as unit:
        [parked] = [p for p in await unit.outbox.parked(100_000) if p.row.id == first]
        assert await unit.outbox.unpark([free]) == []  # not parked
        assert await unit.outbox.unpark([first]) == [first]
        await unit.commit()
    assert (parked.row.attempts, parked.row.last_error, parked.waiting_behind) == (
        2, "boom again", 1)
    assert await due_ids(adapter, ids) == ids
    async with adapter.uow() as unit:
        [row] = [r for r in await unit.outbox.pending(NOW, 100_000) if r.id == first]
        assert row.attempts == 0 and row.parked_at is None


async def test_pending_rows_another_relay_holds_are_skipped(adapter: Adapter) -> None:
    ids = await queue_rows(adapter, ("t.a", uuid.uuid4().hex), ("t.a", uuid.uuid4().hex))
    async with adapter.uow() as first:
        held = [r.id for r in await first.outbox.pending(NOW, 100_000) if r.id in ids]
        async with adapter.uow() as second:
            assert [r.id for r in await second.outbox.pending(NOW, 100_000)
                    if r.id in ids] == []
    assert held == ids


async def test_unsent_and_parked_are_counted(adapter: Adapter) -> None:
    async with adapter.uow() as unit:
        before = await unit.outbox.count_unsent()
    ids = await queue_rows(adapter, ("t.a", uuid.uuid4().hex), ("t.a", uuid.uuid4().hex))
    async with adapter.uow() as unit:
        await unit.outbox.record_failure(ids[0], "x", retry_at=None, parked_at=NOW)
        await unit.commit()
    async with adapter.uow() as unit:
        unsent, parked = await unit.outbox.count_unsent()
    assert (unsent - before[0], parked - before[1]) == (2, 1)


async def test_prune_deletes_only_old_sent_rows_in_bounded_batches(adapter: Adapter) -> None:
    ids = await queue_rows(adapter, *[("t.a", uuid.uuid4().hex) for _ in range(5)])
    old = NOW - timedelta(days=30)
    async with adapter.uow() as unit:
        await unit.outbox.mark_sent(ids[:3], old)
        await unit.outbox.mark_sent(ids[3:4], NOW)  # sent, but recently
        await unit.commit()
    async with adapter.uow() as unit:
        first = await unit.outbox.prune_sent(NOW - timedelta(days=7), limit=2)
        await unit.commit()
    async with adapter.uow() as unit:
        rest = await unit.outbox.prune_sent(NOW - timedelta(days=7), limit=1000)
        await unit.commit()
    assert first == 2 and rest >= 1
    async with adapter.uow() as unit:
        assert await unit.outbox.prune_sent(NOW - timedelta(days=7), limit=1000) == 0
        assert [r.id for r in await unit.outbox.pending(NOW, 100_000) if r.id in ids] == [ids[4]]


async def test_prune_forgets_processed_ids_older_than_the_cutoff(adapter: Adapter) -> None:
    message_id = uuid.uuid4().hex
    async with adapter.uow() as unit:
        assert await unit.inbox.mark_processed("c", message_id)
        await unit.commit()
    async with adapter.uow() as unit:
        assert await unit.inbox.prune(datetime.now(UTC) - timedelta(days=7), limit=1000) == 0
        await unit.commit()
    async with adapter.uow() as unit:
        assert not await unit.inbox.mark_processed("c", message_id)  # still remembered
    async with adapter.uow() as unit:
        for _ in range(1000):  # bounded batches until nothing old is left
            if not await unit.inbox.prune(datetime.now(UTC) + timedelta(seconds=1), limit=1000):
                break
        await unit.commit()
    async with adapter.uow() as unit:
        assert await unit.inbox.mark_processed("c", message_id)  # forgotten
