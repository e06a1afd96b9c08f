"""What admin commands share: settings, a database session, an outbox flush, clean errors."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from datetime import UTC, datetime
from typing import Any, NoReturn, TypeVar

import asyncpg
import click
from aiokafka.errors import KafkaError

from shared.db.connect import DatabaseUnavailable, database_url
from shared.db.migrate import migrate
from shared.db.pg import PgUnitOfWork
from shared.db.pool import create_pool
from shared.db.repository import UnitOfWork
from shared.messaging.outbox import OutboxRelay
from shared.messaging.publisher import KafkaPublisher
from shared.messaging.topics import BrokerUnavailable
from shared.settings import Settings, load_settings

logger = logging.getLogger(__name__)
T = TypeVar("T")


def fail(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    raise SystemExit(1)


# What an admin command can meet when PostgreSQL or the broker is down or refuses.
_INFRASTRUCTURE = (OSError, ConnectionError, DatabaseUnavailable, BrokerUnavailable,
                   asyncpg.PostgresError, asyncpg.InterfaceError, KafkaError)


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run an admin coroutine; infrastructure failures become one clear line and exit 1."""
    try:
        return asyncio.run(coro)
    except _INFRASTRUCTURE as exc:
        fail(f"{type(exc).__name__}: {exc}".splitlines()[0])


def as_utc(moment: datetime | None) -> datetime | None:
    """Command-line times are UTC (click gives naive datetimes; asyncpg would read them as
    the host's local time)."""
    return moment.replace(tzinfo=UTC) if moment and moment.tzinfo is None else moment


class AdminSession:
    def __init__(self, settings: Settings, pool: Any) -> None:
        self.settings, self.pool = settings, pool

    def uow(self) -> UnitOfWork:
        return PgUnitOfWork(self.pool)

    async def flush_outbox(self) -> int:
        """Publish what this command queued; a running service's relay would do it too."""
        publisher = KafkaPublisher(self.settings.kafka_bootstrap_servers,
                                   client_id="dropship-admin")
        try:
            return await asyncio.wait_for(OutboxRelay(self.pool, publisher).flush(), 20)
        except Exception as exc:
            click.echo(f"warning: broker unreachable ({exc!r}); the message stays queued in the "
                       "outbox and any running service publishes it", err=True)
            return 0
        finally:
            with contextlib.suppress(Exception):
                await publisher.stop()


@contextlib.asynccontextmanager
async def admin_session(settings: Settings | None = None) -> AsyncIterator[AdminSession]:
    settings = settings or load_settings()
    url = await database_url(settings)
    pool = await create_pool(url, settings.database_schema, max_size=2)
    try:
        await migrate(pool, settings.database_schema)
        yield AdminSession(settings, pool)
    finally:
        await pool.close()


def with_session(body: Callable[[AdminSession], Coroutine[Any, Any, T]]) -> T:
    async def main() -> T:
        async with admin_session() as session:
            return await body(session)

    return run(main())
