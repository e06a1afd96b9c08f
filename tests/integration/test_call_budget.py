"""The account's call budget in real PostgreSQL (shared/db/pg/budget.py): the SQL is held to the
pure arithmetic (and so to ``FakeBudgetStore``); several "processes" (a pool and a
``CallBudget`` each) share one bucket and together stay within it; a pause stops them all."""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
import pytest_asyncio

from shared.db.migrate import migrate
from shared.db.pg.budget import PgBudgetStore
from shared.db.pool import create_pool
from shared.settings import Settings
from shared.sunsky.budget import BudgetConfig, CallBudget, Priority
from tests.fakes import FakeBudgetStore
from tests.fixtures.stack import drop_schema

pytestmark = pytest.mark.integration

CONFIG = BudgetConfig(5.0, burst=4, tracking_share=0.1)
P, A, T = Priority.PLACEMENT, Priority.ADMIN, Priority.TRACKING


@pytest_asyncio.fixture(loop_scope="session")
async def schema(stack_settings: Settings) -> AsyncIterator[tuple[str, str]]:
    url, name = stack_settings.database_url, f"{stack_settings.database_schema}_budget"
    assert url is not None
    pool = await create_pool(url, name)
    await migrate(pool, name)
    await pool.close()
    yield url, name
    await drop_schema(url, name)


@pytest_asyncio.fixture(loop_scope="session")
async def pools(schema: tuple[str, str]) -> AsyncIterator[list[asyncpg.Pool]]:
    """Three pools: three processes as far as PostgreSQL can tell."""
    created = [await create_pool(schema[0], schema[1], max_size=2) for _ in range(3)]
    yield created
    for pool in created:
        await pool.close()


def account() -> str:
    return f"key-{secrets.token_hex(4)}"


async def test_the_sql_does_what_the_arithmetic_says(pools: list[asyncpg.Pool]) -> None:
    start = 1_800_000_000.0
    pg = PgBudgetStore(pools[0], account(), CONFIG)
    fake = FakeBudgetStore(CONFIG, lambda: start)
    steps = [(0.0, P, 4), (0.0, T, 2), (0.1, A, 1), (0.5, P, 4), (0.7, T, 1), (1.3, T, 4),
             (2.0, A, 3), (3.0, T, 4), (3.0, P, 1), (9.0, T, 4), (9.0, P, 4), (9.5, P, 2)]
    for offset, priority, want in steps:
        from_pg = await pg.take(priority, want, now=start + offset)
        from_fake = await fake.take(priority, want, now=start + offset)
        assert from_pg.granted == from_fake.granted, (offset, priority)
        assert from_pg.state.main == pytest.approx(from_fake.state.main, abs=1e-4)
        assert from_pg.state.pocket == pytest.approx(from_fake.state.pocket, abs=1e-4)


async def test_processes_sharing_one_bucket_stay_within_it(pools: list[asyncpg.Pool]) -> None:
    key, seconds = account(), 4.0
    budgets = [CallBudget(CONFIG, PgBudgetStore(pool, key, CONFIG)) for pool in pools]
    granted: list[float] = []

    async def caller(budget: CallBudget) -> None:
        while time.monotonic() < stop:
            await budget.acquire(P)
            granted.append(time.monotonic())

    started = time.monotonic()
    stop = started + seconds
    # six callers in each of three processes, all asking at once
    await asyncio.gather(*(caller(b) for b in budgets for _ in range(6)))
    granted = sorted(t - started for t in granted)
    elapsed = granted[-1]  # callers waiting at the stop still got their token
    assert len(granted) <= CONFIG.burst + CONFIG.rate * elapsed + 1
    assert len(granted) >= 0.9 * (CONFIG.main_cap + CONFIG.rate * elapsed)  # the budget is used
    for first in granted:  # within any 2 s window: at most burst + 2 R
        assert sum(1 for t in granted if first <= t < first + 2.0) <= CONFIG.burst + 2 * 5


async def test_a_throttle_pauses_every_process(pools: list[asyncpg.Pool]) -> None:
    key = account()
    first, second = (CallBudget(CONFIG, PgBudgetStore(pool, key, CONFIG)) for pool in pools[:2])
    await first.acquire(P)
    await first.throttled(1.5)
    started = time.monotonic()
    await second.acquire(P)
    assert time.monotonic() - started >= 1.5


async def test_a_process_that_dies_holding_tokens_costs_the_account_a_lease_once(
        pools: list[asyncpg.Pool]) -> None:
    key = account()
    store = PgBudgetStore(pools[0], key, CONFIG)
    dead = await store.take(P, 3)  # leased, never spent: the process is gone
    assert dead.granted == 3
    survivor = CallBudget(CONFIG, PgBudgetStore(pools[1], key, CONFIG))
    started = time.monotonic()
    for _ in range(5):
        await survivor.acquire(P)
    # the rate is back at once: 5 tokens at 5/s (from empty) in about a second, not more
    assert time.monotonic() - started < 1.5


async def test_an_admin_command_spends_the_accounts_budget(
        schema: tuple[str, str], sandbox: Any, pools: list[asyncpg.Pool]) -> None:
    """``dropship sunsky balance`` with a budget: its call is one of the account's tokens, in
    the same row the workers use (keyed by the API key, no secret in it)."""
    url, name = schema
    env = {**os.environ, "DATABASE_URL": url, "DATABASE_SCHEMA": name,
           "SUNSKY_BASE_URL": sandbox.base_url, "SUNSKY_API_KEY": sandbox.config.api_key,
           "SUNSKY_API_SECRET": sandbox.config.api_secret,
           "SUNSKY_ACCOUNT_CALLS_PER_SECOND": "0.01", "SUNSKY_ACCOUNT_CALLS_BURST": "2"}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "from cli.main import cli; cli()", "sunsky", "balance", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert "SUNSKY balance" in out.decode()
    assert process.returncode == 0, err.decode()
    row = await pools[0].fetchrow("SELECT * FROM sunsky_call_budget WHERE account = $1",
                                  sandbox.config.api_key)
    assert row is not None and row["granted"] == 1
    # one of the burst's two tokens spent (an admin call takes the pocket's first)
    assert row["main"] + row["pocket"] == pytest.approx(1.0, abs=0.01)
    assert sandbox.config.api_secret not in repr(dict(row))
