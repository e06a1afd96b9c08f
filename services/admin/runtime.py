"""The admin service's composition root (STYLE.md point 5), built on first use.

The pool, the SUNSKY client, the publisher and an outbox relay (so a command's messages leave
without the HTTP answer waiting on the broker) come up when the first request needs them, not
at start-up: with PostgreSQL away the console still starts, serves its pages and says why it
cannot read orders, and connects once PostgreSQL answers. Tests pass a ready ``AdminContext``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import asyncpg

from application.context import AdminContext
from shared.db.connect import DatabaseUnavailable
from shared.db.migrate import migrate
from shared.db.pg import PgUnitOfWork
from shared.db.pool import create_pool
from shared.messaging.outbox import OutboxRelay
from shared.messaging.publisher import KafkaPublisher
from shared.messaging.topics import TopicKeeper
from shared.settings import Settings, redact_url
from shared.sunsky.client import SunskyClient

logger = logging.getLogger(__name__)

CONNECT_SECONDS = 5.0
POOL_SIZE = 5
# Plan every list query for its own values: a generic plan for "status = $1" cannot know that
# one status is 70% of the orders and another 0.1%, and picks one plan for both.
PLANNING = {"plan_cache_mode": "force_custom_plan"}


class AdminRuntime:
    def __init__(self, settings: Settings, *, context: AdminContext | None = None) -> None:
        self.settings = settings
        self._context = context
        self._lock = asyncio.Lock()
        self._owned: list[Any] = []
        self._relay_task: asyncio.Task[None] | None = None
        self._pool: asyncpg.Pool | None = None

    async def context(self) -> AdminContext:
        """The admin context; ``DatabaseUnavailable`` while PostgreSQL does not answer."""
        if self._context is not None:
            return self._context
        async with self._lock:
            if self._context is None:
                self._context = await self._build()
        return self._context

    async def _build(self) -> AdminContext:
        url = self.settings.database_url
        if not url:
            raise DatabaseUnavailable("DATABASE_URL is not set")
        try:
            pool = await asyncio.wait_for(
                create_pool(url, self.settings.database_schema, max_size=POOL_SIZE,
                            server_settings=PLANNING),
                CONNECT_SECONDS)
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise DatabaseUnavailable(f"PostgreSQL at {redact_url(url)} did not answer: "
                                      f"{type(exc).__name__}: {exc}") from exc
        self._owned.append(pool)
        self._pool = pool
        await migrate(pool, self.settings.database_schema)
        publisher = KafkaPublisher(self.settings.kafka_bootstrap_servers,
                                   client_id=self.settings.app_id("admin"))
        sunsky = SunskyClient.from_settings(self.settings)
        self._owned += [publisher, sunsky]
        relay = OutboxRelay(lambda: PgUnitOfWork(pool), publisher,
                            max_attempts=self.settings.outbox_max_attempts,
                            heal=TopicKeeper(self.settings).ensure)
        self._relay_task = asyncio.create_task(relay.run(), name="admin-outbox")

        async def nudge() -> int:
            relay.nudge()  # the relay task publishes; the answer does not wait on the broker
            return 0

        logger.info("admin: database %s schema %s", redact_url(url),
                    self.settings.database_schema)
        return AdminContext(self.settings, lambda: PgUnitOfWork(pool), sunsky, publisher, nudge)

    async def database_check(self) -> str:
        """Readiness: PostgreSQL answers (connecting first if no request has yet)."""
        try:
            await self.context()
        except DatabaseUnavailable as exc:
            return f"fail: {str(exc).splitlines()[0][:200]}"
        if self._pool is not None:
            await self._pool.fetchval("SELECT 1")
        return "pass"

    async def stop(self) -> None:
        if self._relay_task is not None:
            self._relay_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._relay_task
        for resource in reversed(self._owned):
            with contextlib.suppress(Exception):
                close = getattr(resource, "aclose", None) or getattr(resource, "stop", None) \
                    or resource.close
                await close()
        self._owned.clear()
