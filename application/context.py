"""What every admin use case works with, and how a surface gets one.

``AdminContext`` is plain data: the settings, a unit-of-work factory, the SUNSKY port, a
publisher (replays of dead-letter topics), the outbox flush and a clock. ``admin_context`` builds
the real ones from ``Settings`` (``DATABASE_URL`` as given, migrations applied) and closes them
again; tests build ``AdminContext`` from fakes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

import asyncpg

from shared.db.connect import database_url
from shared.db.migrate import migrate
from shared.db.pg import PgUnitOfWork
from shared.db.pg.budget import call_budget
from shared.db.pool import create_pool
from shared.db.repository import UnitOfWork
from shared.messaging.emit import utcnow
from shared.messaging.outbox import OutboxRelay
from shared.messaging.publisher import KafkaPublisher, Publisher
from shared.messaging.topics import TopicKeeper
from shared.settings import Settings
from shared.sunsky.budget import Priority
from shared.sunsky.client import SunskyClient
from shared.sunsky.port import Sunsky

logger = logging.getLogger(__name__)

FLUSH_SECONDS = 20.0


def _ignore(message: str) -> None:
    logger.warning("%s", message)


@dataclass
class AdminContext:
    settings: Settings
    uow: Callable[[], UnitOfWork]
    sunsky: Sunsky
    publisher: Publisher
    # Publish what the use case queued now (a running service's relay would do it too).
    flush: Callable[[], Awaitable[int]]
    clock: Callable[[], datetime] = utcnow
    # How a use case tells the person something went half-way (the CLI prints it).
    warn: Callable[[str], None] = field(default=_ignore)

    async def publish_queued(self) -> int:
        """Flush the outbox; when the broker is down the messages stay queued, with a warning."""
        try:
            return await asyncio.wait_for(self.flush(), FLUSH_SECONDS)
        except Exception as exc:
            self.warn(f"broker unreachable ({exc!r}); the message stays queued in the outbox "
                      "and any running service publishes it")
            return 0


@contextlib.asynccontextmanager
async def admin_context(settings: Settings, *, client_id: str = "dropship-admin",
                        warn: Callable[[str], None] = _ignore) -> AsyncIterator[AdminContext]:
    """The real context: one small pool, a lazily started publisher, a SUNSKY client."""
    pool = await create_pool(await database_url(settings), settings.database_schema, max_size=2)
    publisher = KafkaPublisher(settings.kafka_bootstrap_servers, client_id=client_id)
    sunsky = SunskyClient.from_settings(settings, budget=call_budget(settings, pool),
                                        priority=Priority.ADMIN)
    try:
        await migrate(pool, settings.database_schema)
        uow = _uow_factory(pool)
        relay = OutboxRelay(uow, publisher, max_attempts=settings.outbox_max_attempts,
                            heal=TopicKeeper(settings).ensure)
        yield AdminContext(settings, uow, sunsky, publisher, relay.flush, warn=warn)
    finally:
        for close in (sunsky.aclose, publisher.stop, pool.close):
            with contextlib.suppress(Exception):
                await close()


def _uow_factory(pool: asyncpg.Pool) -> Callable[[], UnitOfWork]:
    return lambda: PgUnitOfWork(pool)
