"""Transactional outbox relay (streaming-pitfalls.md section 6).

Handlers write outgoing messages into ``outbox`` in the same transaction as the state change;
this relay publishes due rows and marks them sent. Every process runs a relay, but an advisory
lock lets one publish at a time, in id order: two relays working side by side could publish
``order.delivered`` before the ``order.shipped`` another one still holds. (Writes for one order
are serialised by its row lock, so id order is that order's event order.) A crash between
publish and mark re-publishes: consumers dedupe.

Rows of one key (one order, one invoice) are published one after the other, and a row that
fails stops its key's chain there; other keys carry on. What happens to a failed row:

==================================  ==============================================================
the broker is unreachable           nothing is counted; the whole flush is tried again later
(nothing published, and ``heal``
cannot reach it either)
the broker answered, the row failed one attempt counted; retried after a growing delay
                                    (``RETRY_DELAYS``); parked after ``max_attempts``
it can never succeed (too large,    parked at once
an invalid topic name)
==================================  ==============================================================

A row waiting for its retry or parked holds back the unsent rows of its key (and only those),
so an order's events never change order; ``dropship outbox list`` shows parked rows and
``dropship outbox retry`` gives them a fresh set of attempts. ``heal`` (the service's topic
keeper) is asked to re-create missing topics when a publish failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Collection
from datetime import datetime, timedelta

from aiokafka.errors import (
    InvalidTopicError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
)

from shared.db.repository import OutboxRow, UnitOfWork
from shared.messaging.emit import utcnow
from shared.messaging.publisher import Publisher

logger = logging.getLogger(__name__)

BUSY_PAUSE = 0.02
BUSY_RETRIES = 50
LOCK = "outbox"
DEFAULT_MAX_ATTEMPTS = 10
# Seconds before attempt n + 1 (the last one repeats): about 4 minutes in all before parking.
RETRY_DELAYS = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0)
# Errors no retry can fix: the row is parked at once.
HOPELESS: tuple[type[BaseException], ...] = (MessageSizeTooLargeError, RecordListTooLargeError,
                                             InvalidTopicError)

Heal = Callable[[Collection[str]], Awaitable[object]]
Failures = dict[int, tuple[OutboxRow, BaseException]]


class BrokerUnreachable(ConnectionError):
    """Nothing could be published and the broker did not answer: an outage, not a bad row."""


class OutboxRelay:
    def __init__(self, uow: Callable[[], UnitOfWork], publisher: Publisher, *,
                 batch: int = 500, interval: float = 1.0,
                 max_attempts: int = DEFAULT_MAX_ATTEMPTS, heal: Heal | None = None,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self._uow, self._publisher = uow, publisher
        self._batch, self._interval, self._max_attempts = batch, interval, max_attempts
        self._heal, self._clock = heal, clock
        self._wake = asyncio.Event()

    def nudge(self) -> None:
        """Ask the running relay to flush now (handlers call it after a commit)."""
        self._wake.set()

    async def flush(self) -> int:
        """Publish due rows; returns how many were sent. ``BrokerUnreachable`` in an outage."""
        sent, busy_waits = 0, 0
        while True:
            batch = await self._flush_batch()
            if batch is None:  # another relay is publishing; it may not see our newest rows
                busy_waits += 1
                if busy_waits > BUSY_RETRIES:
                    return sent
                await asyncio.sleep(BUSY_PAUSE)
                continue
            taken, published = batch
            sent += published
            if taken < self._batch:
                return sent

    async def _flush_batch(self) -> tuple[int, int] | None:
        """One batch: (rows taken, rows sent), or None when another relay holds the lock."""
        async with self._uow() as uow:
            if not await uow.locks.try_lock(LOCK):
                return None
            rows = await uow.outbox.pending(self._clock(), self._batch)
            if not rows:
                return 0, 0
            failures, held = await self._publish(rows)
            sent = [row.id for row in rows if row.id not in failures and row.id not in held]
            await uow.outbox.mark_sent(sent, self._clock())
            outage = None
            if failures and not sent:
                outage = await self._outage(failures)
            if outage is None:
                for row, exc in failures.values():
                    await self._record_failure(uow, row, exc)
            await uow.commit()
        if outage is not None:
            raise BrokerUnreachable(f"broker unreachable: {outage!r}") from outage
        return len(rows), len(sent)

    async def _publish(self, rows: list[OutboxRow]) -> tuple[Failures, set[int]]:
        """Each key's rows in id order, keys side by side; a key stops at its first failure.
        Returns the failed rows and the ones held behind them (neither sent nor counted: they
        stay pending and go after it, never before)."""
        chains: dict[object, list[OutboxRow]] = {}
        for row in rows:
            chains.setdefault(row.key if row.key is not None else ("row", row.id), []).append(row)
        failures: Failures = {}
        held: set[int] = set()

        async def publish_chain(chain: list[OutboxRow]) -> None:
            for n, row in enumerate(chain):
                try:
                    await self._publisher.publish(row.topic, row.key, row.value, row.headers)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    failures[row.id] = (row, exc)
                    held.update(r.id for r in chain[n + 1:])
                    return

        await asyncio.gather(*(publish_chain(chain) for chain in chains.values()))
        return failures, held

    async def _outage(self, failures: Failures) -> BaseException | None:
        """The error of an outage, or None when the broker answered (the rows are to blame)."""
        first = next(iter(failures.values()))[1]
        if isinstance(first, HOPELESS):
            return None
        if self._heal is None:
            return first
        try:
            await self._heal({row.topic for row, _ in failures.values()})
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            return exc
        return None

    async def _record_failure(self, uow: UnitOfWork, row: OutboxRow,
                              exc: BaseException) -> None:
        now, attempt = self._clock(), row.attempts + 1
        park = isinstance(exc, HOPELESS) or attempt >= self._max_attempts
        delay = RETRY_DELAYS[min(attempt, len(RETRY_DELAYS)) - 1]
        await uow.outbox.record_failure(
            row.id, f"{type(exc).__name__}: {exc}", parked_at=now if park else None,
            retry_at=None if park else now + timedelta(seconds=delay))
        where = f"outbox row {row.id} ({row.topic} key={row.key})"
        if park:
            logger.error("%s parked after %d attempt(s): %r; the rows of its key wait behind "
                         "it: see `dropship outbox list`, re-send with `dropship outbox retry "
                         "%d`", where, attempt, exc, row.id)
        else:
            logger.warning("%s failed (attempt %d of %d): %r; next try in %.0fs", where,
                           attempt, self._max_attempts, exc, delay)

    async def run(self) -> None:
        """Flush on every nudge, and at least every ``interval`` seconds, until cancelled."""
        while True:
            # not asyncio.wait_for: in 3.11 it loses a cancel that comes with a nudge (a commit
            # just before a stop), and the relay would then run on past the stop
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._interval):
                    await self._wake.wait()
            self._wake.clear()
            try:
                await self.flush()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # broker or DB down: rows stay pending, try again later
                logger.warning("outbox relay: publish failed, will retry: %r", exc)
                await asyncio.sleep(self._interval)
