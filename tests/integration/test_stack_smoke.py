"""The stack itself works: broker round trip, group offsets, pool + schema, migrations, CLI."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from devtools import postgres as postgres_stack
from devtools.broker import BrokerPortInUse, EmbeddedBroker, free_port, kafka_api_answers
from shared.db import connect
from shared.db.migrate import MigrationChecksumMismatch, list_migrations, migrate
from shared.db.pool import create_pool
from shared.messaging.topics import ensure_topics, list_topics
from shared.settings import Settings
from tests.fixtures.stack import drop_schema

pytestmark = pytest.mark.integration

CLI = [sys.executable, "-c", "from cli.main import cli; cli()"]
# Tansu delays a group join by about half the session timeout, and a re-join after a member
# left by about the old member's whole session: keep it short in tests.
FAST_GROUP = {"session_timeout_ms": 1000, "heartbeat_interval_ms": 200}


def fresh(label: str) -> str:
    return f"{label}-{secrets.token_hex(3)}"


@pytest.fixture
def listening_socket() -> Iterator[int]:
    """A port some other program listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


# --- broker -----------------------------------------------------------------------------------


async def single_partition_topic(settings: Settings, label: str) -> str:
    one_partition = settings.model_copy(update={"topic_partitions": 1})
    name = fresh(label)
    await ensure_topics(one_partition, [name])
    return settings.topic(name)


async def test_a_message_goes_through_the_broker(stack_settings: Settings) -> None:
    topic = await single_partition_topic(stack_settings, "smoke")
    producer = AIOKafkaProducer(bootstrap_servers=stack_settings.kafka_bootstrap_servers)
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=stack_settings.kafka_bootstrap_servers,
        group_id=stack_settings.app_id(fresh("smoke")),
        auto_offset_reset="earliest",
        **FAST_GROUP,
    )
    await producer.start()
    await consumer.start()
    try:
        await producer.send_and_wait(topic, b"hello", key=b"k1")
        message = await asyncio.wait_for(consumer.getone(), timeout=30)
    finally:
        await producer.stop()
        await consumer.stop()

    assert (message.key, message.value) == (b"k1", b"hello")


async def test_ensure_topics_is_idempotent(stack_settings: Settings) -> None:
    name = fresh("twice")
    await ensure_topics(stack_settings, [name])
    await ensure_topics(stack_settings, [name])

    assert stack_settings.topic(name) in await list_topics(stack_settings)


async def test_a_committed_offset_survives_a_new_consumer(stack_settings: Settings) -> None:
    topic = await single_partition_topic(stack_settings, "offsets")
    group = stack_settings.app_id(fresh("offsets"))
    await produce(stack_settings, topic, [b"m1", b"m2", b"m3"])

    first = await read_and_commit(stack_settings, topic, group, count=2)
    rest = await read_and_commit(stack_settings, topic, group, count=1)

    assert (first, rest) == ([b"m1", b"m2"], [b"m3"])


async def produce(settings: Settings, topic: str, values: list[bytes]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers)
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(topic, value)
    finally:
        await producer.stop()


async def read_and_commit(settings: Settings, topic: str, group: str, count: int) -> list[bytes]:
    """A fresh consumer in ``group`` resumes from the group's committed offset."""
    partition = TopicPartition(topic, 0)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    consumer.assign([partition])  # no join round: offsets are still the group's
    try:
        messages = [await asyncio.wait_for(consumer.getone(), timeout=30) for _ in range(count)]
        await consumer.commit({partition: messages[-1].offset + 1})
    finally:
        await consumer.stop()
    return [m.value for m in messages if m.value is not None]


# --- EmbeddedBroker -------------------------------------------------------------------------


def test_embedded_broker_refuses_a_taken_port(listening_socket: int) -> None:
    broker = EmbeddedBroker(port=listening_socket)

    with pytest.raises(BrokerPortInUse, match=f"port {listening_socket} .* already in use"):
        broker.start()
    assert not broker.is_running


async def test_embedded_broker_restarts_empty_on_the_same_port() -> None:
    with EmbeddedBroker(port=free_port()) as broker:
        settings = Settings(kafka_bootstrap_servers=broker.bootstrap)
        await ensure_topics(settings, ["before.restart"])

        await asyncio.to_thread(broker.restart)

        assert broker.is_running
        assert await list_topics(settings) == []
        await asyncio.to_thread(broker.kill)
        assert not kafka_api_answers("127.0.0.1", broker.port)
        await asyncio.to_thread(broker.start)
        assert kafka_api_answers("127.0.0.1", broker.port)
    assert not broker.is_running


# --- PostgreSQL -------------------------------------------------------------------------------


@pytest_asyncio.fixture(loop_scope="session")
async def scratch_schema(stack_settings: Settings) -> AsyncIterator[str]:
    """A schema of its own for one test, dropped afterwards."""
    assert stack_settings.database_url is not None
    schema = f"{stack_settings.database_schema}_{secrets.token_hex(3)}"
    yield schema
    await drop_schema(stack_settings.database_url, schema)


async def test_pool_connections_use_the_schema(
    stack_settings: Settings, scratch_schema: str
) -> None:
    assert stack_settings.database_url is not None
    pool = await create_pool(stack_settings.database_url, scratch_schema, max_size=2)
    try:
        async with pool.acquire() as connection:
            one = await connection.fetchval("select 1")
            current = await connection.fetchval("select current_schema()")
            document = await connection.fetchval("select $1::jsonb", {"a": [1, 2]})
    finally:
        await pool.close()

    assert (one, current, document) == (1, scratch_schema, {"a": [1, 2]})


def write_migrations(directory: Path) -> Path:
    directory.mkdir()
    (directory / "0001_widgets.sql").write_text("CREATE TABLE widgets (id int PRIMARY KEY);")
    (directory / "0002_seed.sql").write_text("INSERT INTO widgets VALUES (1), (2);")
    return directory


async def test_migrate_applies_each_file_once(
    stack_settings: Settings, scratch_schema: str, tmp_path: Path
) -> None:
    assert stack_settings.database_url is not None
    migrations = write_migrations(tmp_path / "migrations")
    pool = await create_pool(stack_settings.database_url, scratch_schema, max_size=3)
    try:
        concurrent = await asyncio.gather(
            migrate(pool, scratch_schema, migrations), migrate(pool, scratch_schema, migrations)
        )
        again = await migrate(pool, scratch_schema, migrations)
        rows = await pool.fetchval("select count(*) from widgets")
    finally:
        await pool.close()

    assert sorted(concurrent) == [[], ["0001_widgets", "0002_seed"]]
    assert (again, rows) == ([], 2)


async def test_migrate_refuses_an_edited_migration(
    stack_settings: Settings, scratch_schema: str, tmp_path: Path
) -> None:
    assert stack_settings.database_url is not None
    migrations = write_migrations(tmp_path / "migrations")
    connection = await asyncpg.connect(stack_settings.database_url)
    try:
        await migrate(connection, scratch_schema, migrations)
        (migrations / "0002_seed.sql").write_text("INSERT INTO widgets VALUES (3);")
        with pytest.raises(MigrationChecksumMismatch, match="0002_seed"):
            await migrate(connection, scratch_schema, migrations)
        recorded = await connection.fetchval(
            f'select count(*) from "{scratch_schema}".schema_migrations'
        )
    finally:
        await connection.close()

    assert recorded == 2


async def test_db_pool_fixture_is_migrated(db_pool: asyncpg.Pool, stack_settings: Settings) -> None:
    versions = await db_pool.fetch("select version from schema_migrations order by version")
    schema = await db_pool.fetchval("select current_schema()")

    assert schema == stack_settings.database_schema
    assert [r["version"] for r in versions] == sorted(r["version"] for r in versions)


# --- dropship broker CLI -----------------------------------------------------------------------


async def test_cli_broker_listens_and_stops_on_sigterm() -> None:
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        *CLI, "broker", "--port", str(port),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), timeout=30)
        assert line.decode().strip() == (
            f"Kafka-compatible broker (Tansu, in-memory) listening on 127.0.0.1:{port}"
        )
        assert kafka_api_answers("127.0.0.1", port)
        process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), timeout=15)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()

    assert code == 0
    assert not kafka_api_answers("127.0.0.1", port)


async def test_cli_broker_exits_1_when_the_port_is_taken(listening_socket: int) -> None:
    process = await asyncio.create_subprocess_exec(
        *CLI, "broker", "--port", str(listening_socket),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=30)

    assert process.returncode == 1
    assert stdout == b""
    last_line = stderr.decode().strip().splitlines()[-1]
    assert last_line.startswith("error: port ") and "already in use" in last_line


async def test_cli_migrate_applies_then_reports_up_to_date(
    stack_settings: Settings, scratch_schema: str
) -> None:
    assert stack_settings.database_url is not None
    env = {**os.environ, "DATABASE_URL": stack_settings.database_url}
    env["DATABASE_SCHEMA"] = scratch_schema
    expected = [f"applied {m.name}" for m in list_migrations()]

    first = await run_cli(env, "migrate")
    second = await run_cli(env, "migrate")

    assert first.splitlines() == (expected or [f"schema {scratch_schema}: up to date"])
    assert second.splitlines() == [f"schema {scratch_schema}: up to date"]


async def run_cli(env: dict[str, str], *args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        *CLI, *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, stderr.decode()
    return stdout.decode()


# --- PostgreSQL discovery -------------------------------------------------------------------


async def test_an_unreachable_database_url_fails_clearly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(connect, "EXPLICIT_URL_WAIT_SECONDS", 0.5)
    url = f"postgresql://app:secret@127.0.0.1:{free_port()}/app"

    with pytest.raises(postgres_stack.DatabaseUnavailable) as failure:
        await postgres_stack.resolve_database_url(Settings(database_url=url))

    assert "did not answer" in str(failure.value)
    assert "secret" not in str(failure.value)


async def test_falls_back_to_an_embedded_postgres(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(postgres_stack, "LOCAL_URL", f"postgresql://x@127.0.0.1:{free_port()}/x")
    settings = Settings(database_url=None, state_dir=str(tmp_path / "state"))
    data_dir = tmp_path / "state" / "pgdata"

    url = await postgres_stack.resolve_database_url(settings)
    try:
        answer = await postgres_stack.probe(url, 5)
    finally:
        await asyncio.to_thread(postgres_stack.stop_embedded_postgres, data_dir)

    assert answer is None
    assert str(data_dir) in url
