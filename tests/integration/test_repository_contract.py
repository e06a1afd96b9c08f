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


async def test_the_health_backlog_tells_parked_rows_from_waiting_ones(adapter: Adapter) -> None:
    async with adapter.uow() as unit:
        before = await unit.health.outbox_backlog()
    _waiting, parked = await queue_rows(adapter, ("t.a", uuid.uuid4().hex),
                                       ("t.a", uuid.uuid4().hex))
    async with adapter.uow() as unit:
        await unit.outbox.record_failure(parked, "too large", retry_at=None, parked_at=NOW)
        await unit.commit()
    async with adapter.uow() as unit:
        after = await unit.health.outbox_backlog()
    assert (after.pending - before.pending, after.parked - before.parked) == (1, 1)


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


# --- the admin list (issue 10): the fake filters like PostgreSQL -------------------------------
async def listed(uow, **kw) -> list[int]:
    async with uow() as unit:
        return [o.id for o in await unit.orders.list_orders(OrderFilter(limit=10_000, **kw))]


def customer_order(company: str, contact: str = "Jane Doe", **kw) -> Order:
    return replace(new_order(**kw), customer_company=company, contact_name=contact,
                   contact_email=f"{uuid.uuid4().hex[:6]}@example.com",
                   client_id=uuid.uuid4().hex[:8])


async def test_list_is_newest_first_and_keyset_pages_without_gaps(uow) -> None:
    ids = [(await add(uow, new_order())).id for _ in range(5)]
    mine = tuple(ids)
    async with uow() as unit:
        first = await unit.orders.list_orders(OrderFilter(order_ids=mine, limit=2))
        after = (first[-1].created_at, first[-1].id)
        second = await unit.orders.list_orders(OrderFilter(order_ids=mine, limit=2, after=after))
    assert [o.id for o in first + second] == sorted(ids, reverse=True)[:4]


async def test_customer_filter_matches_any_part_in_any_case_and_percent_is_literal(uow) -> None:
    tag = uuid.uuid4().hex[:6]
    acme = await add(uow, customer_order(f"ACME {tag} Trading"))
    percent = await add(uow, customer_order(f"100% {tag}"))
    underscore = await add(uow, customer_order(f"a_b {tag}"))
    other = await add(uow, customer_order(f"Globex {tag}", contact=f"Hank {tag}"))
    assert await listed(uow, customer=f"acme {tag}") == [acme.id]
    assert await listed(uow, customer=f"0% {tag}") == [percent.id]
    assert await listed(uow, customer=f"a_b {tag}") == [underscore.id]  # _ is no wildcard
    assert await listed(uow, customer="%" + tag) == []  # % is no wildcard
    assert set(await listed(uow, customer=tag)) == {acme.id, percent.id, underscore.id, other.id}
    assert await listed(uow, customer=f"hank {tag}") == [other.id]  # the contact name


async def test_search_finds_invoice_sunsky_and_tracking_numbers_exactly(uow) -> None:
    tag = uuid.uuid4().hex[:8]
    by_invoice = await add(uow, replace(new_order(), invoice_number=f"INV-{tag}"))
    placed = replace(new_order(), status=OrderStatus.PLACED,
                     sunsky=SunskyPlacement(f"S{tag}", 2, None, None, None))
    by_sunsky = await add(uow, placed)
    shipped = replace(new_order(), status=OrderStatus.SHIPPED)
    by_tracking = await add(uow, replace(shipped, shipping=replace(
        shipped.shipping, tracking_number=f"YT{tag}")))
    assert await listed(uow, search=f"INV-{tag}") == [by_invoice.id]
    assert await listed(uow, search=f"S{tag}") == [by_sunsky.id]
    assert await listed(uow, search=f"YT{tag}") == [by_tracking.id]
    assert await listed(uow, search=f"YT{tag[:-1]}") == []  # numbers match whole


async def test_date_code_and_needs_action_filters(uow) -> None:
    transient = await add(uow, new_order())
    person = await add(uow, new_order())
    async with uow() as unit:
        at = datetime.now(UTC)
        await unit.orders.save(transient.fail(OrderError("SERVER_ERROR", "transient", "500",
                                                         "later", at), actor="t"))
        await unit.orders.save(person.fail(OrderError("OUT_OF_STOCK", "needs_action", "gone",
                                                      "restock", at), actor="t"))
        await unit.commit()
    mine = (transient.id, person.id)
    assert await listed(uow, order_ids=mine, needs_action=True) == [person.id]
    assert await listed(uow, order_ids=mine, error_code="SERVER_ERROR") == [transient.id]
    hour = timedelta(hours=1)
    now = datetime.now(UTC)
    assert set(await listed(uow, order_ids=mine, created_from=now - hour)) == set(mine)
    assert await listed(uow, order_ids=mine, created_from=now + hour) == []
    assert await listed(uow, order_ids=mine, created_to=now - hour) == []


async def age(uow, order_id: int, at: datetime) -> None:
    """Make the order look untouched since ``at`` (PostgreSQL: updated_at; the fake keeps it
    beside the store, as its stale-order sweep does)."""
    unit = uow()
    if isinstance(unit, PgUnitOfWork):
        async with unit:
            await unit._conn.execute("UPDATE orders SET updated_at = $2 WHERE id = $1",
                                     order_id, at)
            await unit.commit()
    else:
        unit._committed_store.updated_at[order_id] = at


async def test_stuck_means_open_and_unchanged_since(uow) -> None:
    old_open = await add(uow, new_order())
    old_done = await add(uow, replace(new_order(), status=OrderStatus.DELIVERED))
    fresh = await add(uow, new_order())
    long_ago = datetime.now(UTC) - timedelta(days=3)
    await age(uow, old_open.id, long_ago)
    await age(uow, old_done.id, long_ago)
    mine = (old_open.id, old_done.id, fresh.id)
    cutoff = datetime.now(UTC) - timedelta(days=1)
    assert await listed(uow, order_ids=mine, updated_before=cutoff) == [old_open.id]


async def test_stuck_counts_orders_per_status_unchanged_since(uow) -> None:
    cutoff = datetime.now(UTC) - timedelta(days=1)
    watched = (OrderStatus.READY_TO_PLACE, OrderStatus.PLACING)
    async with uow() as unit:
        before = await unit.overview.stuck(watched, cutoff)
    old_ready = await add(uow, new_order())
    old_placing = await add(uow, replace(new_order(), status=OrderStatus.PLACING))
    old_done = await add(uow, replace(new_order(), status=OrderStatus.DELIVERED))
    await add(uow, new_order())  # fresh: not stuck
    for order in (old_ready, old_placing, old_done):
        await age(uow, order.id, cutoff - timedelta(days=2))
    async with uow() as unit:
        after = await unit.overview.stuck(watched, cutoff)
    assert {s: after.get(s, 0) - before.get(s, 0) for s in watched} == {
        OrderStatus.READY_TO_PLACE: 1, OrderStatus.PLACING: 1}
    assert set(after) <= set(watched)


async def test_tab_counts_follow_every_status_change(uow) -> None:
    async with uow() as unit:
        before = await unit.overview.status_counts()
    order = await add(uow, new_order())
    async with uow() as unit:
        failed = order.fail(OrderError("OUT_OF_STOCK", "needs_action", "m", "h", NOW), actor="t")
        await unit.orders.save(failed)
        await unit.commit()
    async with uow() as unit:
        after = await unit.overview.status_counts()
    assert after.total == before.total + 1
    assert after.by_status[OrderStatus.API_FAILED] == before.by_status[OrderStatus.API_FAILED] + 1
    assert after.by_status[OrderStatus.READY_TO_PLACE] == \
        before.by_status[OrderStatus.READY_TO_PLACE]
    assert after.needs_action == before.needs_action + 1


async def test_accounts_tokens_sessions_and_idempotency(uow) -> None:
    name = "u" + uuid.uuid4().hex[:8]
    async with uow() as unit:
        user = await unit.accounts.add_user(name, "viewer", "$argon2id$fake")
        assert await unit.accounts.add_user(name, "operator", "x") is None
        assert user is not None
        await unit.accounts.add_token(user.id, "t" + name)
        await unit.accounts.add_session(user.id, "s" + name, "csrf", NOW + timedelta(hours=1))
        assert await unit.idempotency.claim(user.id, "k", "f1") is None
        await unit.commit()
    async with uow() as unit:
        assert (await unit.accounts.user_by_token("t" + name)).name == name
        assert (await unit.accounts.session("s" + name, NOW)).csrf_token == "csrf"
        assert await unit.accounts.session("s" + name, NOW + timedelta(hours=2)) is None
        assert (await unit.idempotency.claim(user.id, "k", "f1")).status_code is None
        await unit.idempotency.complete(user.id, "k", 201, {"a": [1]})
        await unit.commit()
    async with uow() as unit:
        stored = await unit.idempotency.claim(user.id, "k", "f1")
        assert (stored.status_code, stored.body) == (201, {"a": [1]})
        assert await unit.accounts.remove_user(name)
        await unit.commit()
    async with uow() as unit:
        assert await unit.accounts.user_by_token("t" + name) is None


async def test_heartbeats_keep_the_latest_beat_per_process(uow) -> None:
    service = "svc-" + uuid.uuid4().hex[:6]
    later = NOW + timedelta(days=2)
    async with uow() as unit:
        await unit.health.beat(service, "gone:1", NOW - timedelta(days=3), NOW)
        await unit.health.beat(service, "h:1", later, later)
        await unit.health.beat(service, "h:1", later, later + timedelta(seconds=15))
        await unit.commit()
    async with uow() as unit:
        beats = [b for b in await unit.health.heartbeats() if b.service == service]
    # one row per process, the latest beat; a process silent for a day is forgotten
    assert [(b.instance, b.beat_at) for b in beats] == [("h:1", later + timedelta(seconds=15))]


# --- PostgreSQL only: the list's queries are served by indexes ---------------------------------
async def explain(db_pool, flt: OrderFilter, *, where_only: bool = False) -> str:
    from shared.db.pg.listing import filter_sql, list_sql

    sql, args = list_sql(flt)
    if where_only:  # can the filter itself be served by an index (no ORDER BY walk)?
        where, args = filter_sql(flt)
        sql = f"SELECT id FROM orders WHERE {where}"
    async with db_pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL enable_seqscan = off")  # a tiny table: ask what it can use
        rows = await conn.fetch("EXPLAIN " + sql, *args)
    return "\n".join(r[0] for r in rows)


@pytest.mark.parametrize(("flt", "index"), [
    (OrderFilter(limit=50), "orders_list_idx"),
    (OrderFilter(status=OrderStatus.SHIPPED, limit=50), "orders_status_list_idx"),
    (OrderFilter(needs_action=True, limit=50), "orders_needs_action_idx"),
    (OrderFilter(error_code="OUT_OF_STOCK", limit=50), "orders_error_code_idx"),
])
async def test_explain_shows_the_index_each_filter_uses(db_pool, flt, index) -> None:
    plan = await explain(db_pool, flt)
    assert index in plan, plan
    assert "Seq Scan" not in plan, plan


@pytest.mark.parametrize(("flt", "indexes"), [
    # issue 9: the customer filter, with % and _ escaped, served by the trigram index
    (OrderFilter(customer="acme 50%_off"), ("order_customers_trgm_idx",
                                            "orders_customer_text_idx")),
    (OrderFilter(search="INV-1"), ("orders_invoice_number_idx", "orders_sunsky_order_number_key",
                                   "orders_tracking_number_idx", "order_customers_trgm_idx",
                                   "orders_customer_text_idx")),
    (OrderFilter(updated_before=NOW), ("orders_status_idx",)),
])
async def test_explain_shows_customer_and_search_served_by_indexes(db_pool, flt,
                                                                   indexes) -> None:
    plan = await explain(db_pool, flt, where_only=True)
    assert all(index in plan for index in indexes), plan
    assert "Seq Scan" not in plan, plan
    if flt.customer:
        assert "'%acme 50\\%\\_off%'" in plan, plan  # the pattern went in escaped


async def test_reading_the_tab_counts_folds_their_rows_and_keeps_the_sums(db_pool) -> None:
    """Status changes append +1/-1 rows; a read past the threshold folds them for good."""
    from application.context import AdminContext
    from application.listing import tab_counts
    from shared.db.pg.overview import FOLD_AFTER_ROWS
    from shared.settings import Settings

    async def no_flush() -> int:
        return 0

    ctx = AdminContext(Settings(), lambda: PgUnitOfWork(db_pool), None, None, no_flush)
    before = await tab_counts(ctx)
    await db_pool.execute(
        "INSERT INTO order_status_counts SELECT 'placed', false, n FROM"
        " (SELECT 1 AS n UNION ALL SELECT -1) AS pair, generate_series(1, $1)",
        FOLD_AFTER_ROWS)
    assert await tab_counts(ctx) == before  # +1 and -1 in pairs: the sums stay
    rows = await db_pool.fetchval("SELECT count(*) FROM order_status_counts")
    assert rows <= 2 * len(OrderStatus), rows  # folded into one row per bucket, committed


# --- the quote cache (issue 12) -------------------------------------------------------------


async def test_a_cached_quote_is_read_back_until_it_expires_and_can_be_replaced(
        adapter: Adapter) -> None:
    key = f'[41,"IL",[["{uuid.uuid4().hex}",2]]]'
    quote = {"freightList": [{"id": 246, "name": "Postnord", "shippingCost": "2.93"}],
             "priceList": []}
    async with adapter.uow() as unit:
        assert await unit.quotes.get(key, NOW) is None
        await unit.quotes.put(key, quote, quoted_at=NOW, expires_at=NOW + timedelta(minutes=10))
        await unit.commit()
    async with adapter.uow() as unit:
        assert await unit.quotes.get(key, NOW + timedelta(minutes=9)) == quote
        assert await unit.quotes.get(key, NOW + timedelta(minutes=10)) is None  # expired
        newer = {**quote, "priceList": [{"itemNo": "X", "qty": 1, "price": "1", "amount": "1"}]}
        await unit.quotes.put(key, newer, quoted_at=NOW, expires_at=NOW + timedelta(hours=1))
        await unit.commit()
    async with adapter.uow() as unit:
        assert await unit.quotes.get(key, NOW + timedelta(minutes=30)) == newer
        await unit.quotes.forget(key)
        await unit.commit()
    async with adapter.uow() as unit:
        assert await unit.quotes.get(key, NOW) is None


async def test_prune_deletes_only_expired_quotes_in_bounded_batches(adapter: Adapter) -> None:
    long_ago = datetime(2001, 1, 1, tzinfo=UTC)  # no other test's quote expires this early
    keys = [f"prune-{uuid.uuid4().hex}" for _ in range(4)]
    async with adapter.uow() as unit:
        for i, key in enumerate(keys):
            expires = long_ago + timedelta(minutes=i) if i < 3 else NOW
            await unit.quotes.put(key, {"n": i}, quoted_at=long_ago, expires_at=expires)
        await unit.commit()
    cutoff = long_ago + timedelta(hours=1)
    async with adapter.uow() as unit:
        first = await unit.quotes.prune(cutoff, limit=2)
        await unit.commit()
    async with adapter.uow() as unit:
        rest = await unit.quotes.prune(cutoff, limit=1000)
        await unit.commit()
    assert (first, rest) == (2, 1)
    async with adapter.uow() as unit:
        assert await unit.quotes.get(keys[3], long_ago) == {"n": 3}
        assert await unit.quotes.get(keys[0], long_ago) is None
