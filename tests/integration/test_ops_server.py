"""The operations listener over real HTTP: /readyz fails with the failing check, /livez fails
when the loop heartbeat is stale or the service's loop ended, and every metric, each touched
once, passes ``promtool check metrics``."""

from __future__ import annotations

import time

import pytest

from shared.observability import metrics
from shared.observability.server import OpsServer
from tests.fixtures.observability import promtool_check_metrics, sample, scrape

pytestmark = [pytest.mark.integration]


async def passing() -> str:
    return "pass"


async def failing() -> str:
    raise ConnectionRefusedError("PostgreSQL went away")


async def hanging() -> str:
    import asyncio

    await asyncio.sleep(60)
    return "pass"


async def test_readyz_answers_503_naming_each_failing_check() -> None:
    server = OpsServer("test", "127.0.0.1", 0, checks={"consumer": passing, "database": failing,
                                                       "slow": hanging})
    await server.start()
    try:
        text, live, ready = await scrape(server.url)
        assert live.status_code == 200
        assert ready.status_code == 503
        assert ready.headers["content-type"].startswith("application/health+json")
        assert ready.json() == {"status": "fail", "checks": {
            "consumer": "pass", "database": "fail: ConnectionRefusedError",
            "slow": "fail: no answer within 2s"}}
        assert sample(text, "sunsky_dropship_ready") == 0
    finally:
        await server.stop()


async def test_livez_fails_when_the_loop_heartbeat_is_stale_or_the_loop_ended() -> None:
    running = [True]
    server = OpsServer("test", "127.0.0.1", 0, checks={"database": passing},
                       alive=lambda: running[0])
    await server.start()
    try:
        _, live, ready = await scrape(server.url)
        assert (live.status_code, ready.status_code) == (200, 200)
        server._last_tick = time.monotonic() - 30  # as after a loop blocked for 30 s
        _, live, _ = await scrape(server.url)
        assert live.status_code == 503 and "heartbeat" in live.json()["checks"]["loop"]
        server._last_tick = time.monotonic()
        running[0] = False
        _, live, _ = await scrape(server.url)
        assert live.status_code == 503 and "ended" in live.json()["checks"]["loop"]
    finally:
        await server.stop()


async def test_every_metric_touched_once_passes_promtool() -> None:
    token = metrics.message_started("test_agent", 1)
    metrics.message_finished("test_agent", 1, "order.ready", "done", token)
    metrics.message_started("test_agent", 2)  # still in flight: busy since
    metrics.sunsky_call("order!createOrder.do", "unknown_outcome", 0.2)
    metrics.budget_waited(0.4)
    metrics.balance_read(12.5)
    metrics.dead_lettered("order.ready", "schema_violation")
    metrics.orders_changed([(None, "ready_to_place", None), ("placing", "api_failed",
                                                             "BALANCE_NOT_ENOUGH")])
    metrics.ORDERS_STUCK.labels("placing").set(1)
    server = OpsServer("test", "127.0.0.1", 0)
    await server.start()
    try:
        text, _, _ = await scrape(server.url)
    finally:
        await server.stop()
        metrics.message_finished("test_agent", 2, "order.ready", "done", token)
    promtool_check_metrics(text)
    assert (sample(text, "sunsky_dropship_agent_busy_since_timestamp_seconds",
                   agent="test_agent") or 0) > 0
    assert sample(text, "sunsky_dropship_order_failures_total", code="BALANCE_NOT_ENOUGH")
    assert sample(text, "sunsky_dropship_sunsky_requests_total", endpoint="order!createOrder",
                  outcome="unknown_outcome")
    assert "_created" not in text
