"""The ingest process (``dropship ingest``): Perfex's signed events in, Kafka records out.

Most Perfex hosts are shared PHP hosting without a Kafka client, so the module POSTs each
event to ``/v1/events`` and this process publishes it (``handlers.py`` says how each request
ends). Composition root: ``IngestService`` builds the pool, the ledger, the producer and the
web server on ``start()``, never at import; tests pass a fake ledger, publisher or clock.

The broker may be down when the ingest starts or at any time after: requests then get 503 with
``Retry-After`` and the module's outbox keeps the events; nothing waits at start-up. PostgreSQL
must answer at start-up (migrations). Accepted webhook ids older than
``INGEST_DEDUP_RETENTION_SECONDS`` are purged once an hour. ``serve()`` runs until SIGTERM,
SIGINT or SIGHUP, then stops taking connections, lets requests in flight finish (at most
``SHUTDOWN_SECONDS``), and closes the producer and the pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import asyncpg
from aiohttp import web

from services.ingest.handlers import Ingest, signing_keys
from services.ingest.http import EVENTS_PATH, build_web_app
from shared.db.connect import database_url
from shared.db.ledger import IngestLedger
from shared.db.migrate import migrate
from shared.db.pg.ledger import PgIngestLedger
from shared.db.pool import create_pool
from shared.messaging.publisher import KafkaPublisher, Publisher
from shared.messaging.topics import wait_for_broker
from shared.observability.server import OpsServer, pool_check
from shared.settings import Settings, redact_url

logger = logging.getLogger(__name__)

SERVICE = "ingest"
PURGE_EVERY_SECONDS = 3600.0
SHUTDOWN_SECONDS = 5.0
READY_CHECK_SECONDS = 2.0


def check_settings(settings: Settings) -> None:
    """Raises ``ConfigurationError`` (one line) when the ingest cannot run."""
    signing_keys(settings)


class IngestService:
    def __init__(self, settings: Settings, *, ledger: IngestLedger | None = None,
                 publisher: Publisher | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        check_settings(settings)
        self.settings, self._ledger, self._publisher, self._clock = (settings, ledger,
                                                                     publisher, clock)
        self._pool: asyncpg.Pool | None = None
        self._kafka: KafkaPublisher | None = None
        self._runner: web.AppRunner | None = None
        self._ingest: Ingest | None = None
        self._purge_task: asyncio.Task[None] | None = None
        self.url = ""

    async def start(self, host: str, port: int) -> str:
        """Serve on ``host:port`` (0: any free port); returns the base URL."""
        ledger, publisher = self._ledger or await self._pg_ledger(), await self._producer()
        ingest = self._ingest = Ingest(self.settings, ledger, publisher, clock=self._clock)
        self._runner = web.AppRunner(build_web_app(ingest, self.ready), access_log=None,
                                     shutdown_timeout=SHUTDOWN_SECONDS, lingering_time=2.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        bound = self._runner.addresses[0][1]
        self.url = f"http://{host}:{bound}"
        self._purge_task = asyncio.create_task(self._purge_forever(ledger), name="ingest-purge")
        # dropship dev, the tests and operators wait for this line
        logger.info("ingest listening on %s%s", self.url, EVENTS_PATH)
        return self.url

    @property
    def pool(self) -> asyncpg.Pool | None:
        return self._pool

    async def _pg_ledger(self) -> IngestLedger:
        url = await database_url(self.settings)
        logger.info("ingest: database %s schema %s", redact_url(url),
                    self.settings.database_schema)
        self._pool = await create_pool(url, self.settings.database_schema)
        await migrate(self._pool, self.settings.database_schema)
        return PgIngestLedger(self._pool)

    async def _producer(self) -> Publisher:
        if self._publisher is not None:
            return self._publisher
        timeout = self.settings.ingest_publish_timeout_seconds
        kafka = self._kafka = KafkaPublisher(
            self.settings.kafka_bootstrap_servers, client_id=self.settings.app_id(SERVICE),
            request_timeout_ms=int(timeout * 1000))
        try:
            async with asyncio.timeout(timeout):
                await kafka.start()
        except Exception as exc:  # the first publish tries again; until then requests get 503
            logger.warning("ingest: broker %s not reachable yet (%r): answering 503 until it is",
                           self.settings.kafka_bootstrap_servers, exc)
        return kafka

    async def ready(self) -> dict[str, str]:
        """Readiness: each dependency answers within ``READY_CHECK_SECONDS``."""
        return {"database": await self._check_database(), "broker": await self._check_broker()}

    async def _check_database(self) -> str:
        if self._pool is None:
            return "pass"  # a ledger given by a test
        try:
            await self._pool.fetchval("SELECT 1", timeout=READY_CHECK_SECONDS)
            return "pass"
        except Exception as exc:
            return f"fail: {type(exc).__name__}"

    async def _check_broker(self) -> str:
        if self._kafka is None:
            return "pass"  # a publisher given by a test
        try:
            await wait_for_broker(self.settings.kafka_bootstrap_servers, READY_CHECK_SECONDS)
            return "pass"
        except Exception as exc:
            return f"fail: {type(exc).__name__}"

    async def _purge_forever(self, ledger: IngestLedger) -> None:
        retention = timedelta(seconds=self.settings.ingest_dedup_retention_seconds)
        while True:
            try:
                before = datetime.fromtimestamp(self._clock(), UTC) - retention
                purged = await ledger.purge(before)
                if purged:
                    logger.info("ingest: forgot %d webhook ids older than %s", purged, retention)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.warning("ingest: purging old webhook ids failed (%r); next try in %.0f s",
                               exc, PURGE_EVERY_SECONDS)
            await asyncio.sleep(PURGE_EVERY_SECONDS)

    async def stop(self) -> None:
        if self._purge_task is not None:
            self._purge_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._purge_task
        if self._runner is not None:
            await self._runner.cleanup()  # stops listening, lets requests in flight finish
            self._runner = None
        if self._ingest is not None:
            await self._ingest.drain()  # groups whose requests have gone still commit
        if self._kafka is not None:
            await self._kafka.stop()
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
        logger.info("ingest stopped")


async def serve(settings: Settings, host: str, port: int) -> None:
    """Run the ingest until SIGTERM, SIGINT or SIGHUP."""
    service = IngestService(settings)
    ops = OpsServer(SERVICE, settings.metrics_host, settings.metrics_port,
                    checks={"database": pool_check(lambda: service.pool)})
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        loop.add_signal_handler(signum, stop.set)
    try:
        if settings.metrics_port:
            await ops.start()
        await service.start(host, port)
        await stop.wait()
        logger.info("ingest: stop signal received")
    finally:
        await service.stop()
        await ops.stop()
