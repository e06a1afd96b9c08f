"""``dropship broker|postgres|migrate|topics``: the local stack and one-shot set-up steps.

``broker`` and ``postgres`` run in the foreground until Ctrl-C or SIGTERM; ``migrate`` and
``topics`` are what docker-compose's one-shot services run before the workers start.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import NoReturn

import click

from shared.settings import Settings

logger = logging.getLogger(__name__)


@click.command()
@click.option("--port", default=9092, show_default=True, type=int, help="TCP port to listen on.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
def broker(port: int, host: str) -> None:
    """Run the embedded Kafka-compatible broker (Tansu, in-memory) in the foreground."""
    from shared.stack.broker import BrokerError, EmbeddedBroker

    embedded = EmbeddedBroker(port=port, host=host)
    try:
        embedded.start()
    except BrokerError as exc:
        _fail(str(exc).splitlines()[0])
    click.echo(f"Kafka-compatible broker (Tansu, in-memory) listening on {embedded.bootstrap}")
    try:
        signalled = _wait_for_stop_signal(lambda: embedded.is_running)
    finally:
        embedded.stop()
    if not signalled:
        _fail("the broker process exited unexpectedly")
    click.echo("broker stopped")


@click.command()
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="PostgreSQL data directory [default: STATE_DIR/pgdata].",
)
def postgres(data_dir: Path | None) -> None:
    """Run an embedded PostgreSQL in the foreground and print its URL."""
    from shared.stack.postgres import start_embedded_postgres, stop_embedded_postgres

    directory = data_dir or Path(Settings().state_dir) / "pgdata"
    url = start_embedded_postgres(directory)
    click.echo(f"Embedded PostgreSQL running (data in {directory}): {url}")
    click.echo(f"export DATABASE_URL='{url}'")
    try:
        _wait_for_stop_signal(lambda: True)
    finally:
        stop_embedded_postgres(directory)
    click.echo("PostgreSQL stopped")


@click.command()
def migrate() -> None:
    """Apply pending database migrations to DATABASE_SCHEMA."""
    from shared.db.migrate import MigrationError
    from shared.stack.postgres import DatabaseUnavailable

    settings = Settings()
    try:
        applied = asyncio.run(_migrate(settings))
    except (DatabaseUnavailable, MigrationError) as exc:
        _fail(str(exc))
    for name in applied:
        click.echo(f"applied {name}")
    if not applied:
        click.echo(f"schema {settings.database_schema}: up to date")


async def _migrate(settings: Settings) -> list[str]:
    from shared.db.migrate import migrate as apply_migrations
    from shared.db.pool import create_pool
    from shared.stack.postgres import resolve_database_url

    url = await resolve_database_url(settings)
    pool = await create_pool(url, settings.database_schema, max_size=1)
    try:
        return await apply_migrations(pool, settings.database_schema)
    finally:
        await pool.close()


@click.command()
@click.option("--list", "list_only", is_flag=True, help="List the topics instead of creating.")
def topics(list_only: bool) -> None:
    """Create every lifecycle topic on KAFKA_BOOTSTRAP_SERVERS (existing ones are kept)."""
    from aiokafka.errors import KafkaError

    from shared.messaging.topics import BrokerUnavailable, ensure_topics, list_topics

    settings = Settings()
    try:
        if list_only:
            for name in asyncio.run(list_topics(settings)):
                click.echo(name)
            return
        asyncio.run(ensure_topics(settings))
    except (BrokerUnavailable, KafkaError) as exc:
        _fail(str(exc))
    click.echo(
        f"topics ready on {settings.kafka_bootstrap_servers} "
        f"({settings.topic_partitions} partitions each)"
    )


def _wait_for_stop_signal(alive: Callable[[], bool]) -> bool:
    """Block until SIGINT/SIGTERM (returns True) or until ``alive()`` turns false (False).

    On Ctrl-C the terminal signals the child processes too; a child that dies of it at the same
    moment is a clean stop, hence the signal wins over ``alive()``.
    """
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        logger.info("Received %s, stopping", signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while alive() and not stop.wait(0.5):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return stop.wait(0.2)


def _fail(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    raise SystemExit(1)
