"""The composition root every service shares (STYLE.md point 5).

``Runtime`` builds the real pool, publisher and outbox relay on ``start()``, never at import
time, and (when asked) the SUNSKY client when it is built, so handlers are wired with a typed
``Sunsky`` before the event loop runs (the client opens no connection until its first call).
Tests pass fakes for any of them. The database is ``DATABASE_URL``, as given: the development
fallbacks are ``devtools``'s. Nothing here knows a service's business rules.

Besides the relay, every service runs three background jobs here: its heartbeat, the topic
keeper (missing topics re-created every ``TOPIC_CHECK_SECONDS``) and housekeeping (old sent
outbox rows and processed ids pruned every ``HOUSEKEEPING_INTERVAL_SECONDS``). ``stop()`` is
bounded: a final outbox flush gets ``STOP_FLUSH_SECONDS`` (rows it could not publish stay
queued for the next process), so a worker stops promptly whether the broker answers or not.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import asyncpg

from shared.db.connect import database_url
from shared.db.housekeeping import Housekeeper
from shared.db.migrate import migrate
from shared.db.pg import PgUnitOfWork
from shared.db.pg.budget import attach_budget
from shared.db.pool import create_pool
from shared.db.repository import UnitOfWork
from shared.heartbeat import Heartbeats
from shared.messaging.deadletter import DeadLetters
from shared.messaging.emit import utcnow
from shared.messaging.outbox import OutboxRelay
from shared.messaging.publisher import KafkaPublisher, Publisher
from shared.messaging.topics import TopicKeeper
from shared.settings import Settings, redact_url
from shared.sunsky.budget import CallBudget, Priority
from shared.sunsky.client import SunskyClient
from shared.sunsky.port import Sunsky

logger = logging.getLogger(__name__)

STOP_FLUSH_SECONDS = 3.0
POOL_CLOSE_SECONDS = 3.0  # then the pool is terminated: within the worker's stop deadline


class Runtime:
    def __init__(self, settings: Settings, service: str, *,
                 uow_factory: Callable[[], UnitOfWork] | None = None,
                 publisher: Publisher | None = None, sunsky: Sunsky | None = None,
                 needs_sunsky: bool = False,
                 sunsky_priority: Priority = Priority.PLACEMENT) -> None:
        self.settings, self.service = settings, service
        self._uow_factory, self._publisher = uow_factory, publisher
        self.pool: asyncpg.Pool | None = None
        self.relay: OutboxRelay | None = None
        self._owned: list[Any] = []
        self._tasks: list[asyncio.Task[None]] = []
        self.keeper = TopicKeeper(settings)
        self._sunsky = sunsky
        # The account's call budget: its store comes with the pool (``start()``).
        self.budget = CallBudget.from_settings(settings)
        if needs_sunsky and sunsky is None:
            client = SunskyClient.from_settings(settings, budget=self.budget,
                                                priority=sunsky_priority)
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
        attach_budget(self.budget, pool, self.settings)
        uow: Callable[[], UnitOfWork] = lambda: PgUnitOfWork(pool)  # noqa: E731
        self._uow_factory = uow
        settings = self.settings
        self.relay = OutboxRelay(uow, self.publisher, max_attempts=settings.outbox_max_attempts,
                                 heal=self.keeper.ensure)
        housekeeper = Housekeeper(settings, uow, utcnow)
        self._background(self.relay.run(), "outbox")
        self._background(every(settings.topic_check_seconds, self.keeper.ensure, "topic check"),
                         "topics")
        self._background(every(settings.housekeeping_interval_seconds, housekeeper.run_once,
                               "housekeeping"), "housekeeping")
        beats = Heartbeats(uow, self.service, interval=settings.heartbeat_seconds)
        self._background(beats.run(), "heartbeat")

    def _background(self, job: Coroutine[Any, Any, None], name: str) -> None:
        self._tasks.append(asyncio.create_task(job, name=f"{self.service}-{name}"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        if self.relay is not None:
            try:  # what this process queued last; the next relay sends what this one cannot
                async with asyncio.timeout(STOP_FLUSH_SECONDS):
                    await self.relay.flush()
            except Exception as exc:
                logger.warning("%s: outbox rows left for the next relay (%r)", self.service, exc)
        for resource in reversed(self._owned):
            with contextlib.suppress(Exception):
                await _close(resource)
        self._owned.clear()
        if self.pool is not None:
            try:  # close() waits for every connection: an agent mid-message may still hold one
                async with asyncio.timeout(POOL_CLOSE_SECONDS):  # not wait_for: see outbox.py
                    await self.pool.close()
            except TimeoutError:
                logger.warning("%s: PostgreSQL connections still in use after %.0fs: closed "
                               "(their transactions roll back)", self.service, POOL_CLOSE_SECONDS)
                self.pool.terminate()
            self.pool = None


async def every(interval: float, job: Callable[[], Awaitable[Any]], name: str) -> None:
    """Run ``job`` now and then every ``interval`` seconds until cancelled; a failing run is
    logged and the next one tries again."""
    while True:
        try:
            await job()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            logger.warning("%s failed (%r); next try in %.0fs", name, exc, interval)
        await asyncio.sleep(interval)


async def _close(resource: Any) -> None:
    if hasattr(resource, "aclose"):
        await resource.aclose()
    elif hasattr(resource, "stop"):
        await resource.stop()
