"""The tracker's PostgreSQL side: its repository methods and the one-sweep-at-a-time lock."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
import pytest_asyncio

from schemas.perfex import INVOICE_EVENT
from services.tracker.handlers import Tracker
from services.tracker.reconcile import Reconciler
from shared.db.migrate import migrate
from shared.db.pg import PgUnitOfWork
from shared.db.pool import create_pool
from shared.demo.perfex_events import encode, invoice_event
from shared.domain.intake import Save, decide_invoice_event
from shared.domain.order import OrderStatus, SunskyPlacement
from shared.domain.tracking import TRACKED
from shared.settings import Settings
from shared.sunsky.models import SunskyOrder
from tests.fakes import FakeSunsky
from tests.fixtures.stack import drop_schema

pytestmark = pytest.mark.integration
NOW = datetime.now(UTC).replace(microsecond=0)
S = OrderStatus


@pytest_asyncio.fixture(loop_scope="session")
async def pool(stack_settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    url, schema = stack_settings.database_url, f"{stack_settings.database_schema}_trkpg"
    assert url is not None
    created = await create_pool(url, schema)
    await migrate(created, schema)
    yield created
    await created.close()
    await drop_schema(url, schema)


async def placed(pool: asyncpg.Pool, sunsky: FakeSunsky, placed_at: datetime) -> tuple[int, str]:
    invoice_id = secrets.randbelow(10**9)
    event = INVOICE_EVENT.validate_json(encode(invoice_event("invoice.paid", invoice_id)))
    decision = decide_invoice_event(None, event, auto_place=True, now=placed_at)
    assert isinstance(decision, Save)
    number = f"9{invoice_id:09d}"
    async with PgUnitOfWork(pool) as uow:
        order = await uow.orders.add(decision.order)
        order = order.transition(S.PLACED, reason="test", actor="test", now=placed_at)
        await uow.orders.save(replace(order, placed_at=placed_at,
                                      sunsky=SunskyPlacement(number, 2, None, None, None)))
        await uow.commit()
    sunsky.orders[number] = SunskyOrder(number=number, status=2, gmtCreated=placed_at)
    assert order.id is not None
    return order.id, number


async def test_repository_finds_lists_and_marks_tracked_orders(pool: asyncpg.Pool) -> None:
    sunsky = FakeSunsky()
    old = await placed(pool, sunsky, NOW - timedelta(days=90))
    older = await placed(pool, sunsky, NOW - timedelta(days=91))
    new = await placed(pool, sunsky, NOW)
    async with PgUnitOfWork(pool) as uow:
        found = await uow.orders.get_by_sunsky_number(new[1], for_update=True)
        tracked = [o.id for o in await uow.orders.list_tracked(TRACKED, 100)]
        await uow.orders.mark_synced(older[0], NOW)
        stragglers = await uow.orders.list_stragglers(TRACKED, NOW - timedelta(days=60), 10)
        await uow.commit()
    assert found is not None and found.id == new[0] and found.items
    ours = [older[0], old[0], new[0]]
    assert [i for i in tracked if i in ours] == ours  # oldest placed first
    assert [o.id for o in stragglers] == [old[0], older[0]]  # never synced first


class GatedSunsky(FakeSunsky):
    """Holds getOrderList until the test opens the gate: a sweep caught in the middle."""

    def __init__(self) -> None:
        super().__init__()
        self.entered, self.gate = asyncio.Event(), asyncio.Event()

    async def get_order_list(self, **kwargs: Any) -> Any:
        self.entered.set()
        await self.gate.wait()
        return await super().get_order_list(**kwargs)


async def test_only_one_process_sweeps_at_a_time(pool: asyncpg.Pool) -> None:
    sunsky = GatedSunsky()
    await placed(pool, sunsky, NOW)
    settings = Settings(tracker_sweep_seconds=3600)

    def reconciler() -> Reconciler:
        uow = lambda: PgUnitOfWork(pool)  # noqa: E731
        return Reconciler(settings, uow, sunsky, Tracker(settings, uow, sunsky))

    first = asyncio.create_task(reconciler().sweep(force=True))
    await asyncio.wait_for(sunsky.entered.wait(), 10)
    second = await reconciler().sweep(force=True)
    sunsky.gate.set()
    report = await first
    assert second.skipped == "another tracker is sweeping"
    assert report.skipped is None and report.list_pages >= 1
    assert (await reconciler().sweep()).skipped == "not due"  # the first one recorded its time
