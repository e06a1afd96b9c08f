"""Reaching the configured PostgreSQL (``DATABASE_URL``), or saying clearly why not.

Production code takes the URL it is given and never looks for another server: silently using
another database than the one configured would hide mistakes. The development fallbacks (a local
server, an embedded one) live in ``devtools.postgres`` and are chosen by ``dropship dev`` and the
test fixtures, which pass the URL they resolved on as ``DATABASE_URL``.
"""

from __future__ import annotations

import asyncio
import logging
import time

import asyncpg

from shared.settings import Settings, redact_url

logger = logging.getLogger(__name__)

EXPLICIT_URL_WAIT_SECONDS = 5.0


class DatabaseUnavailable(RuntimeError):
    """The configured PostgreSQL is not set or did not answer."""


async def probe(dsn: str, seconds: float) -> Exception | None:
    """Connect once and run ``select 1``. None when it worked, else the error."""
    try:
        connection = await asyncpg.connect(dsn, timeout=seconds)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        return exc
    try:
        await connection.fetchval("select 1", timeout=seconds)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        return exc
    finally:
        await connection.close()
    return None


async def database_url(settings: Settings) -> str:
    """``DATABASE_URL``, once it answers within ``EXPLICIT_URL_WAIT_SECONDS`` (a server may
    still be starting); else ``DatabaseUnavailable`` saying what to set."""
    url, wait_seconds = settings.database_url, EXPLICIT_URL_WAIT_SECONDS
    if not url:
        raise DatabaseUnavailable(
            "DATABASE_URL is not set: point it at your PostgreSQL (e.g. "
            "postgresql://postgres@127.0.0.1:5432/postgres), or run `dropship dev`, whose "
            "settings every dropship command in another terminal picks up")
    deadline = time.monotonic() + wait_seconds
    while True:
        error = await probe(url, max(0.5, deadline - time.monotonic()))
        if error is None:
            logger.info("PostgreSQL: DATABASE_URL %s", redact_url(url))
            return url
        if time.monotonic() >= deadline:
            raise DatabaseUnavailable(
                f"DATABASE_URL {redact_url(url)} did not answer within {wait_seconds:g}s: "
                f"{type(error).__name__}: {error}")
        await asyncio.sleep(0.25)
