"""Which checks each worker's /readyz runs, and when the consumer counts as ready."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from shared.messaging.faust_app import make_app
from shared.settings import Settings


class WithDatabase:
    pool: Any = None

    async def start(self) -> None: ...
    async def stop(self) -> None: ...


class WithoutDatabase:  # the notifier: no PostgreSQL at all
    async def start(self) -> None: ...
    async def stop(self) -> None: ...


def settings(tmp_path: Path, port: int) -> Settings:
    return Settings(metrics_port=port, state_dir=str(tmp_path))


def test_no_listener_without_a_metrics_port(tmp_path: Path) -> None:
    assert make_app(settings(tmp_path, 0), "placer", WithDatabase()).ops is None


def test_a_worker_with_a_database_checks_it_and_its_consumer(tmp_path: Path) -> None:
    app = make_app(settings(tmp_path, 9100), "placer", WithDatabase())
    assert app.ops is not None and sorted(app.ops._checks) == ["consumer", "database"]
    other = make_app(settings(tmp_path, 9100), "notifier", WithoutDatabase())
    assert other.ops is not None and sorted(other.ops._checks) == ["consumer"]


def test_the_consumer_is_ready_between_an_assignment_and_the_next_rebalance(
        tmp_path: Path) -> None:
    app = make_app(settings(tmp_path, 9100), "placer", WithDatabase())
    ready = lambda: asyncio.run(app.consumer_ready())  # noqa: E731
    assert ready() == "fail: no partition assignment yet"
    app.assigned = True
    assert ready() == "pass"
    app.rebalancing = True
    assert ready() == "fail: rebalancing"


def test_the_database_check_fails_until_the_pool_exists(tmp_path: Path) -> None:
    resources = WithDatabase()
    app = make_app(settings(tmp_path, 9100), "placer", resources)
    assert app.ops is not None
    check = app.ops._checks["database"]
    assert asyncio.run(check()) == "fail: no database pool yet"

    class Pool:
        async def fetchval(self, sql: str) -> int:
            return 1

    resources.pool = Pool()
    assert asyncio.run(check()) == "pass"


def test_a_message_cancelled_with_its_partition_is_no_longer_in_flight() -> None:
    from prometheus_client import REGISTRY

    from shared.observability import metrics

    def busy_since() -> float | None:
        return REGISTRY.get_sample_value(
            "sunsky_dropship_agent_busy_since_timestamp_seconds", {"agent": "unit-revoked"})

    metrics.message_started("unit-revoked", 1)
    assert (busy_since() or 0) > 0
    metrics.message_abandoned("unit-revoked", 1)  # what the agent does when it is cancelled
    assert busy_since() == 0.0  # the stalled-consumer alert has nothing to fire on
