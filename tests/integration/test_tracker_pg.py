"""The tracker's PostgreSQL side: its repository methods and the once-per-interval sweep claim."""

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

from devtools.perfex_events import encode, invoice_event
from schemas.perfex import INVOICE_EVENT
from services.tracker.handlers import Tracker
from services.tracker.reconcile import LAST_SWEEP, SWEEP_LOCK, Reconciler
from shared.db.pg import PgUnitOfWork
from shared.domain.intake import Save, decide_invoice_event
from shared.domain.order import OrderStatus, SunskyPlacement
from shared.domain.tracking import TRACKED
from shared.settings import Settings
from shared.sunsky.models import SunskyOrder
from tests.fakes import FakeSunsky
from tests.fixtures.stack import schema_pool

pytestmark = pytest.mark.integration
NOW = datetime.now(UTC).replace(microsecond=0)
S = OrderStatus


@pytest_asyncio.fixture(loop_scope="session")
async def pool(stack_settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    async with schema_pool(stack_settings, "trkpg") as created:
        yield created


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


async def test_repository_finds_and_lists_tracked_orders(pool: asyncpg.Pool) -> None:
    sunsky = FakeSunsky()
    old = await placed(pool, sunsky, NOW - timedelta(days=90))
    new = await placed(pool, sunsky, NOW - timedelta(hours=1))
    newer = await placed(pool, sunsky, NOW - timedelta(minutes=1))
    async with PgUnitOfWork(pool) as uow:
        found = await uow.orders.get_by_sunsky_number(new[1], for_update=True)
        by_number = await uow.orders.list_by_sunsky_numbers([new[1], old[1], "0"])
        tracked = await _all_pages(uow, NOW - timedelta(days=60))
    assert found is not None and found.id == new[0] and found.items
    assert {o.id for o in by_number} == {new[0], old[0]}
    assert [i for i in tracked if i in (old[0], new[0], newer[0])] == [newer[0], new[0]]


async def _all_pages(uow: PgUnitOfWork, cutoff: datetime) -> list[int]:
    """Every tracked order placed since ``cutoff``, one per keyset page."""
    ids: list[int] = []
    after = None
    while page := await uow.tracking.list_tracked(TRACKED, cutoff, 1, after=after):
        ids.append(page[0].id or 0)
        assert page[0].placed_at is not None
        after = (page[0].placed_at, page[0].id or 0)
    return ids


async def test_repository_rotates_re_reads_and_keeps_read_times_moving_forwards(
        pool: asyncpg.Pool) -> None:
    sunsky = FakeSunsky()
    never, tried, synced = [await placed(pool, sunsky, NOW - timedelta(days=days))
                            for days in (300, 301, 302)]
    async with PgUnitOfWork(pool) as uow:
        await uow.tracking.mark_tried(tried[0], NOW - timedelta(hours=1))
        await uow.tracking.mark_synced(synced[0], NOW)
        await uow.tracking.mark_synced(synced[0], NOW - timedelta(hours=2))  # an older read
        await uow.tracking.mark_tried(synced[0], NOW - timedelta(hours=3))
        stragglers = await uow.tracking.list_stragglers(TRACKED, NOW - timedelta(days=200), 1000)
        unlisted = await uow.tracking.least_recently_read([synced[0], tried[0]], 1)
        synced_at = await uow.tracking.synced_at(synced[0])
        await uow.commit()
    ours = [never[0], tried[0], synced[0]]
    assert [o.id for o in stragglers if o.id in ours] == ours  # never read, then least recent
    assert [o.id for o in unlisted] == [tried[0]] and synced_at == NOW


class GatedSunsky(FakeSunsky):
    """Holds getOrderList until the test opens the gate: a sweep caught in the middle."""

    def __init__(self) -> None:
        super().__init__()
        self.entered, self.gate = asyncio.Event(), asyncio.Event()

    async def get_order_list(self, **kwargs: Any) -> Any:
        self.entered.set()
        await self.gate.wait()
        return await super().get_order_list(**kwargs)


async def test_a_sweep_is_claimed_once_and_holds_no_lock_while_it_reads(
        pool: asyncpg.Pool) -> None:
    sunsky = GatedSunsky()
    await placed(pool, sunsky, NOW)
    settings = Settings(tracker_sweep_seconds=3600)

    def reconciler() -> Reconciler:
        uow = lambda: PgUnitOfWork(pool)  # noqa: E731
        return Reconciler(settings, uow, sunsky, Tracker(settings, uow, sunsky))

    await _last_swept(pool, NOW - timedelta(hours=2))
    first = asyncio.create_task(reconciler().sweep())
    await asyncio.wait_for(sunsky.entered.wait(), 10)
    async with PgUnitOfWork(pool) as uow:  # no transaction holds the lock while SUNSKY is read
        assert await uow.locks.try_lock(SWEEP_LOCK)
    assert (await reconciler().sweep()).skipped == "not due"  # the claim recorded its time
    sunsky.gate.set()
    report = await first
    assert report.skipped is None and report.list_pages >= 1

    await _last_swept(pool, NOW - timedelta(hours=2))
    reports = await asyncio.gather(*(reconciler().sweep() for _ in range(4)))
    assert [r.skipped is None for r in reports].count(True) == 1


async def _last_swept(pool: asyncpg.Pool, at: datetime) -> None:
    async with PgUnitOfWork(pool) as uow:
        await uow.settings.set(LAST_SWEEP, at.isoformat(), by="test")
        await uow.commit()
