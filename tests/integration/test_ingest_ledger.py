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


async def claim_once(ledger: IngestLedger, *items: LedgerEntry, now: datetime = NOW,
                     confirm: bool = True) -> tuple[set[str], set[str]]:
    """(fresh, reused) of one claim over ``items``; the fresh ones confirmed (or none)."""
    async with ledger.claim(items, now=now, retention=WEEK) as claim:
        await claim.confirm(claim.fresh if confirm else ())
        return set(claim.fresh), set(claim.reused)


async def test_a_confirmed_id_is_taken_and_an_unconfirmed_one_is_not(subject: Subject) -> None:
    kept, dropped = entry(), entry()
    assert await claim_once(subject.ledger, kept) == ({kept.webhook_id}, set())
    assert await claim_once(subject.ledger, dropped, confirm=False) == ({dropped.webhook_id},
                                                                       set())

    assert await claim_once(subject.ledger, kept, dropped) == ({dropped.webhook_id}, set())


async def test_only_the_ids_confirmed_are_remembered(subject: Subject) -> None:
    published, failed = entry(), entry()
    async with subject.ledger.claim([published, failed], now=NOW, retention=WEEK) as claim:
        assert claim.fresh == {published.webhook_id, failed.webhook_id}
        await claim.confirm([published.webhook_id])
    assert await claim_once(subject.ledger, published, failed, confirm=False) == (
        {failed.webhook_id}, set())


async def test_a_claim_that_raises_leaves_nothing_behind(subject: Subject) -> None:
    item = entry()
    with pytest.raises(ConnectionError):
        async with subject.ledger.claim([item], now=NOW, retention=WEEK):
            raise ConnectionError("broker down")
    assert await claim_once(subject.ledger, item) == ({item.webhook_id}, set())


async def test_a_reused_id_with_another_body_is_told_apart(subject: Subject) -> None:
    item = entry(body=b'{"a": 1}')
    await claim_once(subject.ledger, item)
    same, other = entry(item.webhook_id, b'{"a": 1}'), entry(item.webhook_id, b'{"a": 2}')
    assert await claim_once(subject.ledger, same) == (set(), set())
    assert await claim_once(subject.ledger, other) == (set(), {item.webhook_id})


async def test_an_id_older_than_the_retention_is_new_again_and_purged(subject: Subject) -> None:
    old, stale, recent = entry(), entry(), entry()
    for item, age in ((old, WEEK), (stale, WEEK), (recent, timedelta(days=1))):
        await claim_once(subject.ledger, item, now=NOW - age - timedelta(seconds=1))

    assert await claim_once(subject.ledger, recent, old, confirm=False) == ({old.webhook_id},
                                                                           set())
    # far enough back that other tests' rows (stamped NOW) stay; old went with its claim
    assert await subject.ledger.purge(NOW - WEEK) == 1
    assert await claim_once(subject.ledger, recent, stale, confirm=False) == (
        {stale.webhook_id}, set())


@pytest.mark.parametrize("first_confirms", [True, False], ids=["first confirms",
                                                              "first rolls back"])
async def test_a_concurrent_duplicate_waits_for_the_open_claim(subject: Subject,
                                                               first_confirms: bool) -> None:
    item, other = entry(), entry()
    async with subject.ledger.claim([item], now=NOW, retention=WEEK) as first:
        assert first.fresh == {item.webhook_id}
        second = asyncio.create_task(claim_once(subject.ledger, other, item))
        await subject.until_one_waits()
        assert not second.done()
        await first.confirm([item.webhook_id] if first_confirms else [])
    # exactly one claim has the id fresh: the second only when the first left nothing
    expected = {other.webhook_id} if first_confirms else {other.webhook_id, item.webhook_id}
    assert await asyncio.wait_for(second, 10) == (expected, set())


async def test_claims_sharing_ids_in_any_order_do_not_deadlock(subject: Subject) -> None:
    ids = [entry() for _ in range(20)]
    groups = [ids[i::3] + ids[::-1][:5] for i in range(3)]
    groups = [list({e.webhook_id: e for e in g}.values()) for g in groups]
    results = await asyncio.wait_for(asyncio.gather(*(claim_once(subject.ledger, *g)
                                                      for g in groups * 3)), 30)
    fresh = [i for found, _ in results for i in found]
    assert sorted(fresh) == sorted(e.webhook_id for e in ids)  # each id fresh exactly once
