"""``dropship outbox list|retry`` and the parked count in ``dropship orders list``, as a person
runs them: real processes against the real PostgreSQL and broker."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from aiokafka import AIOKafkaConsumer

from shared.db.migrate import migrate
from shared.db.pool import create_pool
from shared.messaging.topics import ensure_topics
from shared.settings import Settings
from tests.fixtures.stack import drop_schema

pytestmark = [pytest.mark.integration]


@pytest_asyncio.fixture(loop_scope="session")
async def settings(stack_settings: Settings) -> AsyncIterator[Settings]:
    n = uuid.uuid4().hex[:8]
    fresh = stack_settings.model_copy(update={
        "database_schema": f"{stack_settings.database_schema}_ob{n}",
        "topic_prefix": f"{stack_settings.topic_prefix}ob{n}.", "topic_partitions": 1})
    yield fresh
    assert fresh.database_url is not None
    await drop_schema(fresh.database_url, fresh.database_schema)


async def dropship(settings: Settings, *args: str) -> tuple[str, str]:
    env = {**os.environ, "DATABASE_URL": settings.database_url or "",
           "DATABASE_SCHEMA": settings.database_schema, "TOPIC_PREFIX": settings.topic_prefix,
           "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cli.main", *args, env=env, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    return out.decode(), err.decode()


async def test_a_person_sees_a_parked_message_and_resends_it(settings: Settings) -> None:
    assert settings.database_url is not None
    await ensure_topics(settings, ["order.shipped"])
    topic = settings.topic("order.shipped")
    pool = await create_pool(settings.database_url, settings.database_schema)
    try:
        await migrate(pool, settings.database_schema)
        row_id = await pool.fetchval(
            "INSERT INTO outbox (topic, key, value, attempts, last_error, parked_at) VALUES"
            " ($1, '42', 'shipped', 10, 'TopicAuthorizationFailedError: not allowed', now())"
            " RETURNING id", topic)
        await pool.execute("INSERT INTO outbox (topic, key, value) VALUES ($1, '42', 'later')",
                           topic)
        listed, _ = await dropship(settings, "outbox", "list")
        assert "2 message(s) not published yet, 1 parked" in listed
        [line] = [line for line in listed.splitlines() if line.strip().startswith(str(row_id))]
        assert topic[:28] in line and "TopicAuthorizationFailed" in line and " 1 " in line
        _, warned = await dropship(settings, "orders", "list")
        assert "1 outgoing message(s) parked" in warned and "dropship outbox list" in warned

        out, _ = await dropship(settings, "outbox", "retry", str(row_id), "999999")
        assert "outbox row 999999: not parked" in out
        assert "1 parked message(s) released, 2 published now" in out
        assert await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0
    finally:
        await pool.close()
    assert await read_values(settings, topic, 2) == [b"shipped", b"later"]  # in their order


async def read_values(settings: Settings, topic: str, expect: int) -> list[bytes]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=settings.kafka_bootstrap_servers,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    values: list[bytes] = []
    try:
        async with asyncio.timeout(30):
            while len(values) < expect:
                batch = await consumer.getmany(timeout_ms=500)
                values += [r.value for rs in batch.values() for r in rs]
    finally:
        await consumer.stop()
    return values
