"""What the admin commands share: settings, an admin context, clean one-line errors.

Commands parse their arguments, call one ``application`` use case inside ``with_context``, and
print the result; no business rule lives here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any, NoReturn, TypeVar

import asyncpg
import click
from aiokafka.errors import KafkaError

from application.context import AdminContext, admin_context
from shared.db.connect import DatabaseUnavailable
from shared.messaging.topics import BrokerUnavailable
from shared.settings import load_settings

T = TypeVar("T")

# Who acts, as the order history and the settings record it.
ACTOR = "admin"
SETTINGS_ACTOR = "admin-cli"


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


def warn(message: str) -> None:
    click.echo(f"warning: {message}", err=True)


def with_context(body: Callable[[AdminContext], Coroutine[Any, Any, T]]) -> T:
    """Run ``body`` with a real admin context built from the settings."""
    async def main() -> T:
        async with admin_context(load_settings(), warn=warn) as ctx:
            return await body(ctx)

    return run(main())
