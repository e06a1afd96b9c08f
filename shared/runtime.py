"""The composition root every service shares (STYLE.md point 5).

``Runtime`` builds the real pool, publisher and outbox relay on ``start()``, never at import
time, and (when asked) the SUNSKY client when it is built, so handlers are wired with a typed
``Sunsky`` before the event loop runs (the client opens no connection until its first call).
Tests pass fakes for any of them. The database is ``DATABASE_URL``, as given: the development
fallbacks are ``devtools``'s. Nothing here knows a service's business rules.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import asyncpg

from shared.db.connect import database_url
from shared.db.migrate import migrate
from shared.db.pg import PgUnitOfWork
from shared.db.pool import create_pool
from shared.db.repository import UnitOfWork
from shared.heartbeat import Heartbeats
from shared.messaging.deadletter import DeadLetters
from shared.messaging.outbox import OutboxRelay
from shared.messaging.publisher import KafkaPublisher, Publisher
from shared.settings import Settings, redact_url
from shared.sunsky.client import SunskyClient
from shared.sunsky.port import Sunsky

logger = logging.getLogger(__name__)


class Runtime:
    def __init__(self, settings: Settings, service: str, *,
                 uow_factory: Callable[[], UnitOfWork] | None = None,
                 publisher: Publisher | None = None, sunsky: Sunsky | None = None,
                 needs_sunsky: bool = False) -> None:
        self.settings, self.service = settings, service
        self._uow_factory, self._publisher = uow_factory, publisher
        self.pool: asyncpg.Pool | None = None
        self.relay: OutboxRelay | None = None
        self._owned: list[Any] = []
        self._relay_task: asyncio.Task[None] | None = None
        self._beat_task: asyncio.Task[None] | None = None
        self._sunsky = sunsky
        if needs_sunsky and sunsky is None:
            client = SunskyClient.from_settings(settings)
            self._sunsky = client
            self._owned.append(client)

    # --- what handlers use ----------------------------------------------------------------
    def uow(self) -> UnitOfWork:
        assert self._uow_factory is not None, "Runtime.start() first"
        return self._uow_factory()

    @property
    def publisher(self) -> Publisher:
        assert self._publisher is not None, "Runtime.start() first"
        return self._publisher

    @property
    def sunsky(self) -> Sunsky:
        assert self._sunsky is not None, "this service was built without a SUNSKY client"
        return self._sunsky

    @property
    def dead_letters(self) -> DeadLetters:
        return DeadLetters(self.publisher, self.service)

    def committed(self) -> None:
        """A unit of work committed: let the relay publish its outbox rows now."""
        if self.relay is not None:
            self.relay.nudge()

    # --- lifecycle ------------------------------------------------------------------------
    async def start(self) -> None:
        if self._publisher is None:
            kafka = KafkaPublisher(self.settings.kafka_bootstrap_servers,
                                   client_id=self.settings.app_id(self.service))
            await kafka.start()
            self._publisher = kafka
            self._owned.append(kafka)
        if self._uow_factory is None:
            await self._start_database()
        logger.info("%s runtime started", self.service)

    async def _start_database(self) -> None:
        url = await database_url(self.settings)
        logger.info("%s: database %s schema %s", self.service, redact_url(url),
                    self.settings.database_schema)
        pool = await create_pool(url, self.settings.database_schema)
        self.pool = pool
        await migrate(pool, self.settings.database_schema)
        self._uow_factory = lambda: PgUnitOfWork(pool)
        self.relay = OutboxRelay(pool, self.publisher)
        self._relay_task = asyncio.create_task(self.relay.run(), name=f"{self.service}-outbox")
        beats = Heartbeats(self._uow_factory, self.service,
                           interval=self.settings.heartbeat_seconds)
        self._beat_task = asyncio.create_task(beats.run(), name=f"{self.service}-heartbeat")

    async def stop(self) -> None:
        if self._beat_task is not None:
            self._beat_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._beat_task
            self._beat_task = None
        if self._relay_task is not None:
            self._relay_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._relay_task
            self._relay_task = None
        if self.relay is not None:
            with contextlib.suppress(Exception):
                await self.relay.flush()
        for resource in reversed(self._owned):
            with contextlib.suppress(Exception):
                await _close(resource)
        self._owned.clear()
        if self.pool is not None:
            await self.pool.close()
            self.pool = None


async def _close(resource: Any) -> None:
    if hasattr(resource, "aclose"):
        await resource.aclose()
    elif hasattr(resource, "stop"):
        await resource.stop()
