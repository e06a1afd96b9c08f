"""One contract suite for the persistence port, run against the fake and PostgreSQL
(STYLE.md point 14): the fake the unit tests trust must behave like the real adapter."""

from __future__ import annotations

import uuid
from dataclasses import replace
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


@pytest.fixture(params=["fake", "postgres"])
def uow(request, db_pool):
    if request.param == "fake":
        return fake_uow_factory(FakeStore())
    return lambda: PgUnitOfWork(db_pool)


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
