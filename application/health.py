"""The Health page: each worker's last heartbeat, the outbox backlog, dead-letter counts.

Each part is read on its own; PostgreSQL or the broker being away shows as that part's error,
not as a broken page.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from application.context import AdminContext
from shared.db.admin import Heartbeat, OutboxBacklog
from shared.settings import ALL_TOPICS, DLQ_SUFFIX

# ``dropship worker NAME`` for every NAME (a unit test keeps this equal to cli.worker_cmd).
EXPECTED_SERVICES = ("invoice-listener", "placer", "retrier", "tracker", "notifier")
DEAD_LETTER_TOPICS = tuple(t for t in ALL_TOPICS if t.endswith(DLQ_SUFFIX))
# A process that missed this many beats in a row counts as gone.
MISSED_BEATS = 3

TopicSizes = Callable[[Sequence[str]], Awaitable[dict[str, int]]]


@dataclass(frozen=True)
class ServiceHealth:
    service: str
    alive: int  # processes beating
    last_beat: datetime | None
    processes: list[Heartbeat]


@dataclass(frozen=True)
class Health:
    services: list[ServiceHealth] = field(default_factory=list)
    outbox: OutboxBacklog | None = None
    database_error: str | None = None
    dead_letters: dict[str, int] = field(default_factory=dict)
    broker_error: str | None = None


def problem(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".splitlines()[0][:300]


async def health(ctx: AdminContext, topic_sizes: TopicSizes) -> Health:
    services, outbox, db_error = await _database_part(ctx)
    try:
        sizes = await topic_sizes([ctx.settings.topic(t) for t in DEAD_LETTER_TOPICS])
        dead = {t: sizes.get(ctx.settings.topic(t), 0) for t in DEAD_LETTER_TOPICS}
        broker_error = None
    except Exception as exc:  # broker away or refusing: that part of the page says so
        dead, broker_error = {}, problem(exc)
    return Health(services, outbox, db_error, dead, broker_error)


async def _database_part(ctx: AdminContext
                         ) -> tuple[list[ServiceHealth], OutboxBacklog | None, str | None]:
    try:
        async with ctx.uow() as uow:
            beats = await uow.health.heartbeats()
            outbox = await uow.health.outbox_backlog()
    except Exception as exc:  # PostgreSQL away: that part of the page says so
        return [], None, problem(exc)
    return summarise(beats, ctx.clock(), ctx.settings.heartbeat_seconds), outbox, None


def summarise(beats: list[Heartbeat], now: datetime, interval: float) -> list[ServiceHealth]:
    cutoff = now - timedelta(seconds=interval * MISSED_BEATS)
    names = list(EXPECTED_SERVICES) + sorted({b.service for b in beats} - set(EXPECTED_SERVICES))
    result = []
    for name in names:
        mine = [b for b in beats if b.service == name]
        last = max((b.beat_at for b in mine), default=None)
        result.append(ServiceHealth(name, sum(b.beat_at >= cutoff for b in mine), last, mine))
    return result
