"""The gauges read from PostgreSQL at scrape time, on the fakes: values, the read interval, and
a failed read that keeps the previous values."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from prometheus_client import REGISTRY

from shared.domain.order import OrderStatus
from shared.observability import gauges
from shared.observability.gauges import DatabaseGauges
from tests.builders import NOW, error, seed_order
from tests.fakes import FakeStore, FakeUnitOfWork, fake_uow_factory


def value(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(f"sunsky_dropship_{name}", labels)


async def seeded() -> FakeStore:
    store = FakeStore()
    old_ready = await seed_order(store, 1)
    await seed_order(store, 2)  # fresh: not stuck
    short = await seed_order(store, 3)
    async with FakeUnitOfWork(store) as uow:
        order = await uow.orders.get(short)
        assert order is not None
        failed = order.fail(error("BALANCE_NOT_ENOUGH", NOW), actor="test")
        await uow.orders.save(replace(failed, quoted_total=Decimal("42.50")))
        await uow.commit()
    store.updated_at[old_ready] = NOW - timedelta(hours=2)
    for order_id in (2, short):
        store.updated_at[order_id] = NOW
    return store


def test_a_read_sets_every_gauge() -> None:
    store = asyncio.run(seeded())
    reader = DatabaseGauges(fake_uow_factory(store), 600, clock=lambda: NOW)
    asyncio.run(reader.refresh())
    assert value("orders_stuck", status="ready_to_place") == 1
    assert value("orders_stuck", status="placing") == 0
    assert value("orders_waiting_for_money") == 1
    assert value("orders_waiting_for_money_usd") == 42.5
    assert value("orders", status=OrderStatus.READY_TO_PLACE.value) == 2
    assert value("outbox_unsent_rows") is not None and value("outbox_parked_rows") == 0


def test_reads_come_at_most_once_per_interval_and_a_failed_one_keeps_the_values(
        monkeypatch: pytest.MonkeyPatch) -> None:
    store = asyncio.run(seeded())
    units: list[Any] = []

    def counting() -> FakeUnitOfWork:
        units.append(1)
        return FakeUnitOfWork(store)

    reader = DatabaseGauges(counting, 600, clock=lambda: NOW)
    asyncio.run(reader.refresh())
    asyncio.run(reader.refresh())  # scraped again at once: no second read
    assert len(units) == 1

    def broken() -> FakeUnitOfWork:
        raise ConnectionRefusedError("PostgreSQL went away")

    monkeypatch.setattr(gauges, "MIN_INTERVAL_SECONDS", 0.0)
    failing = DatabaseGauges(broken, 600, clock=lambda: NOW)
    asyncio.run(failing.refresh())  # logged, not raised
    assert value("orders_waiting_for_money") == 1
