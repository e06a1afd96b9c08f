"""One contract suite for the ingest's ledger of webhook ids, run against the fake and
PostgreSQL (STYLE.md point 14): the waiting the unit tests rely on is the adapter's too."""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from shared.db.ledger import IngestLedger, LedgerEntry
from shared.db.pg.ledger import PgIngestLedger
from tests.fakes import FakeIngestLedger

pytestmark = [pytest.mark.integration]
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
WEEK = timedelta(days=7)


class Subject:
    def __init__(self, ledger: IngestLedger, waiting: Callable[[], Awaitable[int]]) -> None:
        self.ledger, self.waiting = ledger, waiting

    async def until_one_waits(self, timeout: float = 10) -> None:
        """Until a second claim is observably queued behind the open one (no fixed sleep)."""
        deadline = time.monotonic() + timeout
        while await self.waiting() < 1:
            assert time.monotonic() < deadline, "the second claim never waited"
            await asyncio.sleep(0.01)


@pytest.fixture(params=["fake", "postgres"])
def subject(request: Any, db_pool: asyncpg.Pool) -> Subject:
    if request.param == "fake":
        fake = FakeIngestLedger()

        async def fake_waiting() -> int:
            return fake.waiting

        return Subject(fake, fake_waiting)

    async def pg_waiting() -> int:
        return int(await db_pool.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
            " AND query LIKE '%INSERT INTO ingest_webhooks%' AND datname = current_database()"))

    return Subject(PgIngestLedger(db_pool), pg_waiting)


def entry(webhook_id: str | None = None, body: bytes = b"{}") -> LedgerEntry:
    return LedgerEntry(webhook_id or uuid.uuid4().hex, "invoice.paid", "42",
                       hashlib.sha256(body).digest())


async def claim_once(ledger: IngestLedger, item: LedgerEntry, *, now: datetime = NOW,
                     confirm: bool = True) -> tuple[bool, bool]:
    async with ledger.claim(item, now=now, retention=WEEK) as claim:
        if claim.fresh and confirm:
            await claim.confirm()
        return claim.fresh, claim.same_body


async def test_a_confirmed_id_is_taken_and_an_unconfirmed_one_is_not(subject: Subject) -> None:
    kept, dropped = entry(), entry()
    assert await claim_once(subject.ledger, kept) == (True, True)
    assert await claim_once(subject.ledger, dropped, confirm=False) == (True, True)

    assert await claim_once(subject.ledger, kept) == (False, True)
    assert await claim_once(subject.ledger, dropped) == (True, True)


async def test_a_claim_that_raises_leaves_nothing_behind(subject: Subject) -> None:
    item = entry()
    with pytest.raises(ConnectionError):
        async with subject.ledger.claim(item, now=NOW, retention=WEEK):
            raise ConnectionError("broker down")
    assert await claim_once(subject.ledger, item) == (True, True)


async def test_a_reused_id_with_another_body_is_told_apart(subject: Subject) -> None:
    item = entry(body=b'{"a": 1}')
    await claim_once(subject.ledger, item)
    assert await claim_once(subject.ledger, entry(item.webhook_id, b'{"a": 2}')) == (False, False)


async def test_an_id_older_than_the_retention_is_new_again_and_purged(subject: Subject) -> None:
    old, recent = entry(), entry()
    await claim_once(subject.ledger, old, now=NOW - WEEK - timedelta(seconds=1))
    await claim_once(subject.ledger, recent, now=NOW - timedelta(days=1))

    assert await claim_once(subject.ledger, recent, confirm=False) == (False, True)
    assert await claim_once(subject.ledger, old, confirm=False) == (True, True)
    # far enough back that other tests' rows (stamped NOW) stay
    assert await subject.ledger.purge(NOW - WEEK) == 1
    assert await claim_once(subject.ledger, recent, confirm=False) == (False, True)


@pytest.mark.parametrize("first_confirms", [True, False], ids=["first confirms",
                                                              "first rolls back"])
async def test_a_concurrent_duplicate_waits_for_the_open_claim(subject: Subject,
                                                               first_confirms: bool) -> None:
    item = entry()
    async with subject.ledger.claim(item, now=NOW, retention=WEEK) as first:
        assert first.fresh
        second = asyncio.create_task(claim_once(subject.ledger, item))
        await subject.until_one_waits()
        assert not second.done()
        if first_confirms:
            await first.confirm()
    # exactly one of the two is fresh: the second only when the first left nothing
    assert await asyncio.wait_for(second, 10) == (not first_confirms, True)
