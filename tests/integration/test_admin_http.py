"""The admin API over real HTTP: ``dropship admin serve`` as a process, the real PostgreSQL,
the SUNSKY sandbox over HTTP, users and tokens made with the CLI. Plus a schemathesis run
over the OpenAPI document (authenticated): no operation answers 5xx."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path

import asyncpg
import pytest
import pytest_asyncio

from devtools.broker import free_port
from shared.db.migrate import migrate
from shared.db.pg import PgUnitOfWork
from shared.db.pool import create_pool
from shared.domain.order import OrderStatus
from shared.settings import Settings
from tests.builders import error, paid_order
from tests.fixtures.admin import AdminServer, make_users, start_admin
from tests.fixtures.stack import drop_schema

pytestmark = [pytest.mark.integration]


def server_env(settings: Settings, sandbox_url: str, state: Path) -> dict[str, str]:
    return {"DATABASE_URL": settings.database_url or "",
            "DATABASE_SCHEMA": settings.database_schema,
            "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
            "TOPIC_PREFIX": settings.topic_prefix, "SUNSKY_BASE_URL": sandbox_url,
            "SUNSKY_API_KEY": "sandbox-key", "SUNSKY_API_SECRET": "sandbox-secret",
            "SUNSKY_MAX_CALLS_PER_SECOND": "0", "STATE_DIR": str(state), "LOG_LEVEL": "INFO"}


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def admin_settings(stack_settings: Settings, kafka_topics) -> AsyncIterator[Settings]:
    """A schema of its own: schemathesis changes settings the other tests rely on."""
    settings = stack_settings.model_copy(update={
        "database_schema": f"{stack_settings.database_schema}_admin"})
    yield settings
    assert settings.database_url is not None
    await drop_schema(settings.database_url, settings.database_schema)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def admin_pool(admin_settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    assert admin_settings.database_url is not None
    pool = await create_pool(admin_settings.database_url, admin_settings.database_schema)
    await migrate(pool, admin_settings.database_schema)
    yield pool
    await pool.close()


@pytest.fixture(scope="module")
def admin(admin_settings: Settings, admin_pool, sandbox_session,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[AdminServer]:
    state = tmp_path_factory.mktemp("admin")
    env = server_env(admin_settings, sandbox_session.base_url, state)
    operator, viewer = make_users(env)
    with start_admin(env, state) as (url, _):
        yield AdminServer(url, env, operator, viewer, state / "admin.log")


@pytest_asyncio.fixture(loop_scope="session")
async def seeded(admin_pool: asyncpg.Pool) -> dict[str, int]:
    base = 900_000 + free_port()
    orders = {
        "ready": paid_order(base),
        "failed": paid_order(base + 1).fail(error("ADDRESS_INCOMPLETE",
                                                  paid_order(base).paid_at), actor="test"),
        "shipped": replace(paid_order(base + 2), status=OrderStatus.SHIPPED),
    }
    ids = {}
    async with PgUnitOfWork(admin_pool) as uow:
        for key, order in orders.items():
            ids[key] = (await uow.orders.add(order)).id
        await uow.commit()
    return ids


async def test_the_operator_lists_filters_and_reads_an_order(admin: AdminServer, seeded) -> None:
    async with admin.client(admin.operator_token) as api:
        listed = (await api.get("/api/v1/orders",
                                params={"tab": "api_failed", "limit": 100})).json()
        assert seeded["failed"] in [o["id"] for o in listed["orders"]]
        assert seeded["ready"] not in [o["id"] for o in listed["orders"]]
        counts = (await api.get("/api/v1/orders/counts")).json()
        assert counts["by_status"]["api_failed"] >= 1 and counts["needs_action"] >= 1
        details = (await api.get(f"/api/v1/orders/{seeded['failed']}")).json()
        assert details["last_error"]["code"] == "ADDRESS_INCOMPLETE"
        assert details["actions"] == {"place": False, "retry": True, "refresh": False,
                                      "edit_address": True}
        found = (await api.get("/api/v1/orders", params={"customer": "acme LTD"})).json()
        assert {seeded["ready"], seeded["failed"]} <= {o["id"] for o in found["orders"]}


async def test_fix_the_address_then_retry_records_the_user(admin: AdminServer, seeded,
                                                          admin_pool: asyncpg.Pool) -> None:
    order_id = seeded["failed"]
    async with admin.client(admin.operator_token) as api:
        fixed = await api.patch(f"/api/v1/orders/{order_id}/address", json={"city": "Chicago"},
                          headers={"Idempotency-Key": f"addr-{order_id}"})
        assert fixed.status_code == 200 and fixed.json()["outcome"] == "updated"
        retried = await api.post(f"/api/v1/orders/{order_id}/retry")
        body = retried.json()
        assert retried.status_code == 200 and body["order"]["status"] == "ready_to_place"
        assert body["order"]["timeline"][-1]["actor"] == "admin:olga"
        again = await api.post(f"/api/v1/orders/{order_id}/retry")
        assert again.status_code == 409 and again.json()["outcome"] == "skipped"
    # No worker runs here: the admin service's own outbox relay publishes the order.ready.
    published = await _wait_until_published(admin_pool, order_id)
    assert published is not None, "the admin service did not publish the retried order"


async def _wait_until_published(pool: asyncpg.Pool, order_id: int) -> object:
    deadline = asyncio.get_running_loop().time() + 20
    while asyncio.get_running_loop().time() < deadline:
        published = await pool.fetchval(
            "SELECT published_at FROM outbox WHERE convert_from(value, 'UTF8')::jsonb"
            " ->> 'order_id' = $1 ORDER BY id DESC LIMIT 1", str(order_id))
        if published is not None:
            return published
        await asyncio.sleep(0.2)
    return None


async def test_a_viewer_is_refused_and_no_token_is_401(admin: AdminServer, seeded) -> None:
    async with admin.client(admin.viewer_token) as api:
        assert (await api.get(f"/api/v1/orders/{seeded['ready']}")).status_code == 200
        refused = await api.post(f"/api/v1/orders/{seeded['ready']}/place")
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    async with admin.client() as anonymous:
        assert (await anonymous.get("/api/v1/orders")).status_code == 401
        assert (await anonymous.get("/orders", follow_redirects=False)).status_code == 303


async def test_bad_input_over_http_is_4xx_with_a_reason(admin: AdminServer) -> None:
    async with admin.client(admin.operator_token) as api:
        for params in ({"tab": "lost"}, {"from": "last tuesday"}, {"limit": "-5"}):
            response = await api.get("/api/v1/orders", params=params)
            assert response.status_code == 422 and response.json()["error"]["fields"]
        big = await api.patch("/api/v1/orders/1/address", content=b"x" * 10_000_000,
                        headers={"content-type": "application/json"})
        assert big.status_code == 413
        assert (await api.get("/api/v1/orders/987654321")).status_code == 404


async def test_billing_reads_the_sandbox_balance(admin: AdminServer) -> None:
    async with admin.client(admin.viewer_token) as api:
        billing = (await api.get("/api/v1/billing")).json()
    assert billing["sunsky_error"] is None and float(billing["balance"]) > 0


async def test_postgresql_away_is_a_visible_503_not_a_crash(admin: AdminServer,
                                                      tmp_path: Path) -> None:
    env = {**admin.env, "DATABASE_URL": f"postgresql://postgres@127.0.0.1:{free_port()}/x"}
    with start_admin(env, tmp_path, "admin-no-db") as (url, _):
        import httpx

        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            response = await http.get("/api/v1/orders", headers={
                "authorization": f"Bearer {admin.operator_token}"})
            page = await http.get("/orders")
            login = await http.get("/login")
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "database_unavailable"
        assert page.status_code == 503 and "PostgreSQL did not answer" in page.text
        assert login.status_code == 200  # the console itself still serves its login


async def test_schemathesis_finds_no_server_error(admin: AdminServer, seeded) -> None:
    """Every operation of /api/v1/openapi.json with generated input, as an operator (in a
    thread: the sandbox answers from this event loop)."""
    failures = await asyncio.to_thread(_schemathesis, admin)
    assert failures == [], "\n".join(failures)


def _schemathesis(admin: AdminServer) -> list[str]:
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings
    from schemathesis.checks import not_a_server_error

    schema = schemathesis.openapi.from_url(f"{admin.url}/api/v1/openapi.json")
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()

        # 12 generated requests per operation: about 30 s here (25 took 70 s on this machine)
        @settings(max_examples=12, deadline=None, phases=[Phase.generate], database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def check(case: schemathesis.Case) -> None:
            case.headers = {**(case.headers or {}),
                            "Authorization": f"Bearer {admin.operator_token}"}
            response = case.call()
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path}: "
                                f"{response.status_code} {response.text[:300]}")
            case.validate_response(response, checks=[not_a_server_error])

        try:
            check()
        except Exception as exc:  # collected below with the others
            failures.append(f"{operation.label}: {str(exc)[:500]}")
    return failures


