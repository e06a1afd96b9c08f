"""What every service runs beside its agents, against the real broker and PostgreSQL: the topic
keeper re-creates topics the broker lost, housekeeping prunes what grows without bound."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import pytest_asyncio
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.client import AIOKafkaClient

from shared.db.migrate import migrate
from shared.db.pool import create_pool
from shared.runtime import Runtime
from shared.settings import ALL_TOPICS, Settings
from tests.fixtures.stack import drop_schema

pytestmark = [pytest.mark.integration]
_runs = itertools.count(1)


@pytest_asyncio.fixture(loop_scope="session")
async def settings(stack_settings: Settings) -> AsyncIterator[Settings]:
    n = f"rt{next(_runs)}{uuid.uuid4().hex[:6]}"
    fresh = stack_settings.model_copy(update={
        "database_schema": f"{stack_settings.database_schema}_{n}",
        "topic_prefix": f"{stack_settings.topic_prefix}{n}.", "topic_partitions": 3,
        "topic_check_seconds": 0.2, "housekeeping_interval_seconds": 0.2,
        "housekeeping_retention_days": 1.0, "housekeeping_batch": 2})
    yield fresh
    assert fresh.database_url is not None
    await drop_schema(fresh.database_url, fresh.database_schema)


async def until(check: Callable[[], Awaitable[bool]], what: str, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        await asyncio.sleep(0.1)


async def partition_counts(bootstrap: str, prefix: str) -> dict[str, int]:
    """Topics with ``prefix`` and their partitions, from a metadata request for all topics
    (one naming topics would make Tansu auto-create them)."""
    client = AIOKafkaClient(bootstrap_servers=bootstrap)
    await client.bootstrap()
    try:
        metadata = await client.fetch_all_metadata()
    finally:
        await client.close()
    return {t: len(metadata.partitions_for_topic(t) or ()) for t in metadata.topics()
            if t.startswith(prefix)}


async def test_a_service_recreates_the_topics_the_broker_lost(settings: Settings) -> None:
    expected = {settings.topic(name): 3 for name in ALL_TOPICS}

    async def all_there() -> bool:
        return await partition_counts(settings.kafka_bootstrap_servers,
                                      settings.topic_prefix) == expected

    runtime = Runtime(settings, "keeper-test")
    await runtime.start()
    try:
        await until(all_there, "the service made its topics at start")
        lost = [settings.topic(name) for name in ALL_TOPICS[:4]]
        admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
        await admin.start()
        try:
            await admin.delete_topics(lost)
        finally:
            await admin.close()
        counts = await partition_counts(settings.kafka_bootstrap_servers, settings.topic_prefix)
        assert not set(lost) & set(counts)  # gone, for now
        await until(all_there, "the service re-created the lost topics, 3 partitions each")
    finally:
        await runtime.stop()


async def test_a_service_prunes_old_sent_rows_and_processed_ids(settings: Settings) -> None:
    assert settings.database_url is not None
    pool = await create_pool(settings.database_url, settings.database_schema)
    try:
        await migrate(pool, settings.database_schema)
        await pool.execute(
            "INSERT INTO outbox (topic, key, value, published_at, parked_at) VALUES"
            " ('t', 'old-1', 'v', now() - interval '3 days', NULL),"
            " ('t', 'old-2', 'v', now() - interval '2 days', NULL),"
            " ('t', 'old-3', 'v', now() - interval '2 days', NULL),"
            " ('t', 'recent', 'v', now() - interval '1 hour', NULL),"
            " ('t', 'parked', 'v', NULL, now() - interval '30 days')")
        await pool.execute(
            "INSERT INTO processed_messages (consumer, message_id, processed_at) VALUES"
            " ('c', 'old', now() - interval '3 days'), ('c', 'recent', now())")

        async def pruned() -> bool:
            return not await pool.fetchval("SELECT count(*) FROM outbox WHERE key LIKE 'old-%'")

        runtime = Runtime(settings, "housekeeping-test")
        await runtime.start()
        try:
            await until(pruned, "old sent rows deleted (3 rows, batches of 2)")
            await until(lambda: _gone(pool, "old"), "the old processed id forgotten")
        finally:
            await runtime.stop()
        assert sorted(r["key"] for r in await pool.fetch("SELECT key FROM outbox")) == [
            "parked", "recent"]
        assert [r["message_id"] for r in await pool.fetch(
            "SELECT message_id FROM processed_messages")] == ["recent"]
    finally:
        await pool.close()


async def _gone(pool, message_id: str) -> bool:
    return not await pool.fetchval(
        "SELECT count(*) FROM processed_messages WHERE message_id = $1", message_id)
