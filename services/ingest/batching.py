"""Group commit: events that arrive together are claimed in one ledger transaction and
published in one go, each still answered on its own.

Per event, a transaction of its own cost three PostgreSQL round trips plus the pool's reset,
and on this project's VMs each socket send costs about 0.4 ms (bench/ingest.py, docs/
BENCHMARKS.md). So requests queue here; a group starts at once when fewer than
``MAX_IN_FLIGHT`` groups are running (an idle ingest answers a lone event without waiting),
and takes everything queued meanwhile, up to ``MAX_GROUP``. For each group:

1. claim every webhook-id in one transaction (``shared.db.ledger``): fresh, duplicate, reused;
2. publish the fresh ones, each on its own future, all within INGEST_PUBLISH_TIMEOUT_SECONDS;
3. confirm the ones the broker acknowledged (the others are forgotten) and commit;
4. answer each request: accepted, duplicate, reused, or broker/database unavailable.

A webhook-id queued twice goes into one group and waits for the next: there, its claim waits
for the first to commit and finds it taken (the ledger's rule for concurrent duplicates). A
bug (anything but the database or broker being unreachable) fails the group's requests with
the exception: the HTTP layer answers 500 and nothing was remembered.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

import asyncpg
from aiokafka.errors import KafkaError

from shared.db.ledger import Claim, IngestLedger, LedgerEntry
from shared.messaging.emit import H_MESSAGE_ID, H_TYPE
from shared.messaging.publisher import Publisher
from shared.settings import Settings

logger = logging.getLogger(__name__)

MAX_GROUP = 256
MAX_IN_FLIGHT = 4
Outcome = Literal["accepted", "duplicate", "reused", "broker_unavailable",
                  "database_unavailable"]
DATABASE_DOWN: tuple[type[BaseException], ...] = (
    OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError, asyncpg.TooManyConnectionsError)


@dataclass
class _Pending:
    entry: LedgerEntry
    body: bytes
    answer: asyncio.Future[Outcome] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future())


class GroupCommit:
    def __init__(self, settings: Settings, ledger: IngestLedger, publisher: Publisher, *,
                 clock: Callable[[], float]) -> None:
        self._settings, self._ledger, self._publisher, self._clock = (settings, ledger,
                                                                      publisher, clock)
        self._retention = timedelta(seconds=settings.ingest_dedup_retention_seconds)
        self._queue: deque[_Pending] = deque()
        self._running: set[asyncio.Task[None]] = set()

    async def submit(self, entry: LedgerEntry, body: bytes) -> Outcome:
        pending = _Pending(entry, body)
        self._queue.append(pending)
        self._start_groups()
        return await pending.answer

    async def drain(self) -> None:
        """Wait for the groups running now (at shutdown, after the last request came in)."""
        while self._running:
            await asyncio.gather(*self._running, return_exceptions=True)

    def _start_groups(self) -> None:
        while self._queue and len(self._running) < MAX_IN_FLIGHT:
            task = asyncio.create_task(self._run(self._take()), name="ingest-group")
            self._running.add(task)
            task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        self._start_groups()

    def _take(self) -> list[_Pending]:
        group: dict[str, _Pending] = {}
        later: list[_Pending] = []
        while self._queue and len(group) < MAX_GROUP:
            pending = self._queue.popleft()
            if pending.entry.webhook_id in group:
                later.append(pending)  # a duplicate of one in this group: the next group
            else:
                group[pending.entry.webhook_id] = pending
        self._queue.extendleft(reversed(later))
        return list(group.values())

    async def _run(self, group: list[_Pending]) -> None:
        try:
            outcomes = await self._commit(group)
        except DATABASE_DOWN as exc:
            logger.error("ingest: the database is unreachable (%r): %d event(s) answered 503",
                         exc, len(group))
            outcomes = dict.fromkeys((p.entry.webhook_id for p in group), "database_unavailable")
        except Exception as exc:  # a bug: each request answers 500 with it
            for pending in group:
                if not pending.answer.done():
                    pending.answer.set_exception(exc)
            return
        for pending in group:
            if not pending.answer.done():  # its request may have gone (client hung up)
                pending.answer.set_result(outcomes[pending.entry.webhook_id])

    async def _commit(self, group: list[_Pending]) -> dict[str, Outcome]:
        now = datetime.fromtimestamp(self._clock(), UTC)
        entries = [p.entry for p in group]
        async with self._ledger.claim(entries, now=now, retention=self._retention) as claim:
            published = await self._publish([p for p in group
                                             if p.entry.webhook_id in claim.fresh])
            await _remember(claim, published)
        return {p.entry.webhook_id: _outcome(p.entry.webhook_id, claim, published)
                for p in group}

    async def _publish(self, fresh: list[_Pending]) -> set[str]:
        """The ids the broker acknowledged within the publish timeout."""
        if not fresh:
            return set()
        sends = {asyncio.ensure_future(self._send(p)): p.entry.webhook_id for p in fresh}
        timeout = self._settings.ingest_publish_timeout_seconds
        done, late = await asyncio.wait(sends, timeout=timeout)
        for send in late:
            send.cancel()
        failed = [e for e in (s.exception() for s in done) if e is not None]
        if failed or late:
            logger.error("ingest: the broker did not acknowledge %d of %d event(s) (%r)",
                         len(failed) + len(late), len(fresh),
                         failed[0] if failed else "no answer in time")
        unexpected = [e for e in failed if not isinstance(e, KafkaError | OSError)]
        if unexpected:
            raise unexpected[0]
        return {sends[s] for s in done if s.exception() is None}

    async def _send(self, pending: _Pending) -> None:
        entry = pending.entry
        headers = [(H_MESSAGE_ID, entry.webhook_id.encode()), (H_TYPE, entry.event_type.encode())]
        await self._publisher.publish(self._settings.topic(entry.event_type), entry.invoice_id,
                                      pending.body, headers)


async def _remember(claim: Claim, published: set[str]) -> None:
    """The records are on the broker: a failed commit costs a possible second copy on the
    sender's retry (dropped downstream by event_id), so they are still answered 202."""
    try:
        await claim.confirm(published)
    except DATABASE_DOWN as exc:
        if published:
            logger.error("ingest published %d event(s) but could not record their webhook ids "
                         "(%r): a re-send would be published again", len(published), exc)
        else:
            raise


def _outcome(webhook_id: str, claim: Claim, published: set[str]) -> Outcome:
    if webhook_id in published:
        return "accepted"
    if webhook_id in claim.fresh:
        return "broker_unavailable"
    return "reused" if webhook_id in claim.reused else "duplicate"
