"""End-to-end tier: whole services as processes against the real broker, PostgreSQL and the
SUNSKY sandbox over HTTP. ``pipeline`` gives each test its own topics, groups and schema.

The sandbox runs with siteNumber de-duplication off unless a test asks for it: SUNSKY's own
de-duplication is unconfirmed, so the one-order guarantee must hold without it, and a sandbox
refusing a reused siteNumber would hide the very duplicate a test looks for. Exactly-once is
counted where a breach would show: the createOrder requests the sandbox received that created
an order (``creates_per_site``), not what our database believes.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import asyncpg
import pytest_asyncio
from aiokafka import AIOKafkaConsumer, TopicPartition

from devtools.supervisor import Supervisor, dropship_argv
from sandbox.runner import RunningSandbox
from shared.db.migrate import migrate
from shared.db.pool import create_pool
from shared.messaging.publisher import KafkaPublisher
from shared.messaging.topics import ensure_topics
from shared.settings import Settings
from tests.fixtures.stack import drop_schema

_counter = itertools.count(1)
READY_LINE = "assigned partitions:"
CREATE = "order!createOrder.do"
# Request-log outcomes of a createOrder that created the order at the sandbox (a dropped
# response took effect too: only the answer was lost).
TOOK_EFFECT = frozenset({"success", "fault:drop_response"})


class Pipeline:
    """Services as processes, plus what a test needs to drive and observe them."""

    def __init__(self, settings: Settings, sandbox: RunningSandbox, pool: asyncpg.Pool,
                 log_dir: Path, extra_env: dict[str, str]) -> None:
        self.settings, self.sandbox, self.pool, self.log_dir = settings, sandbox, pool, log_dir
        self.env = {
            "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
            "DATABASE_URL": settings.database_url or "",
            "DATABASE_SCHEMA": settings.database_schema,
            "TOPIC_PREFIX": settings.topic_prefix, "GROUP_PREFIX": settings.group_prefix,
            "TOPIC_PARTITIONS": str(settings.topic_partitions),
            "SUNSKY_BASE_URL": sandbox.base_url, "SUNSKY_API_KEY": sandbox.config.api_key,
            "SUNSKY_API_SECRET": sandbox.config.api_secret, "SUNSKY_ACCOUNT_CALLS_PER_SECOND": "0",
            "STATE_DIR": str(log_dir / "state"), "LOG_LEVEL": "INFO",
            # Tansu ignores LeaveGroup: short sessions keep joins and take-overs quick.
            "KAFKA_SESSION_TIMEOUT_SECONDS": "2", **extra_env,
        }
        self.supervisor = Supervisor(self.env, log_dir=log_dir)
        self.publisher = KafkaPublisher(settings.kafka_bootstrap_servers, client_id="e2e-test")

    async def start(self, name: str, service: str | None = None, timeout: float = 60,
                    env: dict[str, str] | None = None) -> None:
        """Start ``dropship worker SERVICE`` as process NAME (``env`` on top of the pipeline's);
        wait until it consumes."""
        child = self.supervisor.start(name, dropship_argv("worker", service or name), env)
        await self.wait_for_log(name, READY_LINE, timeout=timeout)
        assert child.alive, self.log(name)

    def log(self, name: str) -> str:
        path = self.log_dir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    async def wait_for_log(self, name: str, text: str, *, timeout: float = 60,
                           after: int = 0) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.log(name)[after:]:
            assert self.supervisor.children[name].alive, f"{name} died:\n{self.log(name)[-3000:]}"
            assert time.monotonic() < deadline, f"{name}: no {text!r}:\n{self.log(name)[-3000:]}"
            await asyncio.sleep(0.2)

    async def publish(self, topic: str, key: str | None, value: bytes) -> None:
        await self.publisher.publish(self.settings.topic(topic), key, value)

    async def publish_many(self, records: list[tuple[str, str | None, bytes]]) -> None:
        await self.publisher.publish_many(
            [(self.settings.topic(t), k, v, []) for t, k, v in records])

    async def statuses(self) -> dict[str, str]:
        rows = await self.pool.fetch("SELECT invoice_id, status FROM orders")
        return {r["invoice_id"]: r["status"] for r in rows}

    async def eventually(self, check: Callable[[], Awaitable[Any]], *, timeout: float = 60,
                         what: str = "condition") -> Any:
        deadline = time.monotonic() + timeout
        while True:
            result = await check()
            if result:
                return result
            assert time.monotonic() < deadline, f"timed out waiting for {what}: {result!r}"
            await asyncio.sleep(0.3)

    async def read_topic(self, topic: str, *, expect: int, timeout: float = 30) -> list[Any]:
        """Every record on ``topic`` (from the start), waiting until ``expect`` arrived."""
        consumer = AIOKafkaConsumer(self.settings.topic(topic),
                                    bootstrap_servers=self.settings.kafka_bootstrap_servers,
                                    auto_offset_reset="earliest", enable_auto_commit=False)
        await consumer.start()
        records: list[Any] = []
        try:
            deadline = time.monotonic() + timeout
            while len(records) < expect and time.monotonic() < deadline:
                batch = await consumer.getmany(timeout_ms=500)
                records += [r for rs in batch.values() for r in rs]
        finally:
            await consumer.stop()
        return records

    async def last_offsets(self, topic: str) -> dict[int, int]:
        """Partition -> the offset after the last record now on ``topic`` (read to the end:
        Tansu's end offsets are wrong for multi-record batches)."""
        consumer = AIOKafkaConsumer(self.settings.topic(topic),
                                    bootstrap_servers=self.settings.kafka_bootstrap_servers,
                                    auto_offset_reset="earliest", enable_auto_commit=False)
        await consumer.start()
        ends: dict[int, int] = {}
        try:
            while batch := await consumer.getmany(timeout_ms=1000):
                for tp, records in batch.items():
                    ends[tp.partition] = records[-1].offset + 1
        finally:
            await consumer.stop()
        return ends

    async def committed(self, service: str, topic: str, partitions: Iterable[int]
                        ) -> dict[int, int]:
        """The offsets ``service``'s consumer group committed (-1: none yet). Read in assign
        mode, so the group sees no new member and does not rebalance."""
        consumer = AIOKafkaConsumer(bootstrap_servers=self.settings.kafka_bootstrap_servers,
                                    group_id=self.settings.app_id(service),
                                    enable_auto_commit=False)
        await consumer.start()
        try:
            name = self.settings.topic(topic)
            return {p: (await consumer.committed(TopicPartition(name, p))) or -1
                    for p in partitions}
        finally:
            await consumer.stop()

    async def consumed(self, service: str, topic: str, *, timeout: float = 60) -> None:
        """Wait until ``service`` has committed past every message on ``topic`` now, after
        the outbox is drained: the observable end of whatever those messages caused (instead
        of sleeping before asserting that something did not happen)."""
        await self.eventually(self.outbox_drained, timeout=timeout, what="outbox drained")
        targets = await self.last_offsets(topic)

        async def passed() -> bool:
            done = await self.committed(service, topic, targets)
            return all(done[p] >= end for p, end in targets.items())

        await self.eventually(passed, timeout=timeout, what=f"{service} consumed {topic}")

    async def outbox_drained(self) -> bool:
        return not await self.pool.fetchval(
            "SELECT count(*) FROM outbox WHERE published_at IS NULL")

    async def sunsky_requests(self, path: str) -> list[dict[str, Any]]:
        import httpx

        async with httpx.AsyncClient(base_url=self.sandbox.base_url) as client:
            response = await client.get("/_sandbox/requests", params={"path": path})
            return list(response.json()["requests"])

    async def creates_per_site(self) -> Counter[str]:
        """createOrder requests that created an order at the sandbox, per siteNumber."""
        return Counter(r["params"].get("siteNumber", "") for r in await self.sunsky_requests(CREATE)
                       if r["outcome"] in TOOK_EFFECT)

    async def assert_one_sunsky_order_each(self, invoices: Sequence[int | str]) -> None:
        """Each invoice's order was created at SUNSKY by exactly one createOrder request, and
        our order records that SUNSKY order."""
        rows = await self.pool.fetch(
            "SELECT site_number, sunsky_order_number FROM orders WHERE invoice_id = ANY($1)",
            [str(i) for i in invoices])
        assert len(rows) == len(invoices)
        creates = await self.creates_per_site()
        assert {r["site_number"]: creates[r["site_number"]] for r in rows} == {
            r["site_number"]: 1 for r in rows}, creates
        numbers = {o["siteNumber"]: o["number"] for o in await self.sandbox_get_orders()}
        assert all(numbers[r["site_number"]] == r["sunsky_order_number"] for r in rows)

    async def sandbox_get_orders(self) -> list[dict[str, Any]]:
        import httpx

        async with httpx.AsyncClient(base_url=self.sandbox.base_url) as client:
            response = await client.get("/_sandbox/orders")
            return list(response.json()["orders"])

    async def sandbox_get(self, route: str) -> Any:
        import httpx

        async with httpx.AsyncClient(base_url=self.sandbox.base_url) as client:
            response = await client.get(route)
            response.raise_for_status()
            return response.json()

    async def sandbox_post(self, route: str, body: dict[str, Any]) -> Any:
        import httpx

        async with httpx.AsyncClient(base_url=self.sandbox.base_url) as client:
            response = await client.post(route, json=body)
            response.raise_for_status()
            return response.json()


@pytest_asyncio.fixture(loop_scope="session")
async def pipeline_factory(stack_settings: Settings, sandbox: RunningSandbox,
                           tmp_path: Path) -> AsyncIterator[Callable[..., Awaitable[Pipeline]]]:
    made: list[Pipeline] = []

    async def make(partitions: int = 4, dedupe: bool = False, *, bootstrap: str | None = None,
                   **env: str) -> Pipeline:
        n = next(_counter)
        base = stack_settings.database_schema
        settings = stack_settings.model_copy(update={
            "database_schema": f"{base}_e{n}",
            "topic_prefix": f"{stack_settings.topic_prefix}e{n}.",
            "group_prefix": f"{stack_settings.group_prefix}e{n}", "topic_partitions": partitions,
            "kafka_bootstrap_servers": bootstrap or stack_settings.kafka_bootstrap_servers})
        assert settings.database_url is not None
        pool = await create_pool(settings.database_url, settings.database_schema)
        await migrate(pool, settings.database_schema)
        await ensure_topics(settings)
        pipeline = Pipeline(settings, sandbox, pool, tmp_path / f"p{n}", env)
        pipeline.log_dir.mkdir(parents=True, exist_ok=True)
        await pipeline.sandbox_post("/_sandbox/dedupe", {"dedupe": dedupe})
        await pipeline.publisher.start()
        made.append(pipeline)
        return pipeline

    yield make
    for pipeline in made:
        pipeline.supervisor.stop_all()
        await pipeline.publisher.stop()
        await pipeline.pool.close()
        assert pipeline.settings.database_url is not None
        await drop_schema(pipeline.settings.database_url, pipeline.settings.database_schema)
