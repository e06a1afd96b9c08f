"""The sweep by status over real HTTP (issue 12): the real SUNSKY client against the sandbox,
real PostgreSQL. What the tracker asked SUNSKY is read from the sandbox's request log."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime

import asyncpg
import httpx
import pytest
import pytest_asyncio

from devtools.perfex_events import encode, invoice_event
from sandbox.runner import RunningSandbox
from schemas.perfex import INVOICE_EVENT
from services.tracker.handlers import Tracker
from services.tracker.reconcile import Reconciler
from shared.db.pg import PgUnitOfWork
from shared.domain.intake import Save, decide_invoice_event
from shared.domain.order import OrderStatus, SunskyPlacement
from shared.settings import Settings
from shared.sunsky.client import SunskyClient
from shared.sunsky.models import CreateOrderRequest, DeliveryAddress
from tests.fixtures.stack import schema_pool

pytestmark = pytest.mark.integration
S = OrderStatus
LIST = "order!getOrderList.do"


@pytest_asyncio.fixture(loop_scope="session")
async def pool(stack_settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    async with schema_pool(stack_settings, f"st{secrets.token_hex(3)}") as created:
        yield created


async def processing(pool: asyncpg.Pool, sunsky: SunskyClient, n: int) -> tuple[int, str]:
    """An order placed at the sandbox and Processing here; (our id, SUNSKY number)."""
    address = DeliveryAddress(country_id=41, state="IL", city="Chicago", address="1 Elm St",
                              postcode="60601", receiver="Jane Doe", telephone="3125550100",
                              shipping_way_id=246)
    created = await sunsky.create_order(CreateOrderRequest(
        site_number=f"ST-{secrets.token_hex(6)}", items=[("S-CAB-0042", 1)], address=address))
    now = datetime.now(UTC)
    event = INVOICE_EVENT.validate_json(encode(invoice_event("invoice.paid", 80_000 + n)))
    decision = decide_invoice_event(None, event, auto_place=True, now=now)
    assert isinstance(decision, Save)
    async with PgUnitOfWork(pool) as uow:
        order = await uow.orders.add(decision.order)
        order = order.transition(S.PLACED, reason="t", actor="t", now=now)
        order = order.transition(S.PROCESSING, reason="t", actor="t", now=now)
        order = await uow.orders.save(replace(order, placed_at=now, sunsky=SunskyPlacement(
            created.number, 2, None, None, None)))
        await uow.commit()
    assert order.id is not None
    return order.id, created.number


async def statuses(pool: asyncpg.Pool, ids: list[int]) -> list[str]:
    rows = await pool.fetch("SELECT id, status FROM orders WHERE id = ANY($1)", ids)
    by_id = {r["id"]: r["status"] for r in rows}
    return [by_id[i] for i in ids]


async def list_statuses(http: httpx.AsyncClient) -> list[str | None]:
    """The ``status`` every getOrderList the sandbox received asked for (None: every status)."""
    log = (await http.get("/_sandbox/requests", params={"path": LIST})).json()["requests"]
    return [r["params"].get("status") for r in log]


async def test_the_sweep_reads_by_status_and_falls_back_when_sunsky_ignores_the_filter(
        pool: asyncpg.Pool, sandbox: RunningSandbox, stack_settings: Settings) -> None:
    settings = stack_settings.model_copy(update={"tracker_sweep_seconds": 3600})
    config = sandbox.config
    async with SunskyClient(sandbox.base_url, config.api_key, config.api_secret) as sunsky, \
            httpx.AsyncClient(base_url=sandbox.base_url) as http:
        uow = lambda: PgUnitOfWork(pool)  # noqa: E731
        reconciler = Reconciler(settings, uow, sunsky, Tracker(settings, uow, sunsky))
        orders = [await processing(pool, sunsky, n) for n in range(3)]
        ids = [i for i, _ in orders]
        await http.post(f"/_sandbox/orders/{orders[0][1]}/advance", json={"to": "shipped"})

        await reconciler.sweep(force=True)  # SUNSKY honours the filter: by status only
        assert await statuses(pool, ids) == ["shipped", "processing", "processing"]
        assert await list_statuses(http) == ["3", "5", "4"]

        await http.post("/_sandbox/faults", json={"list_ignores_status": True})
        await http.post(f"/_sandbox/orders/{orders[0][1]}/advance", json={"to": "delivered"})
        await http.post(f"/_sandbox/orders/{orders[1][1]}/advance", json={"to": "shipped"})
        await reconciler.sweep(force=True)
        assert await statuses(pool, ids) == ["delivered", "shipped", "processing"]
        # the first filtered page listed other statuses: the rest read every status
        assert (await list_statuses(http))[3:] == ["3", None]
        assert not reconciler.status_filter.trusted()

        await http.post(f"/_sandbox/orders/{orders[2][1]}/advance", json={"to": "cancelled"})
        await reconciler.sweep(force=True)  # remembered: no filtered page tried
        assert await statuses(pool, ids) == ["delivered", "shipped", "cancelled"]
        assert (await list_statuses(http))[5:] == [None]
