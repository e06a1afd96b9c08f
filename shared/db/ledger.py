"""The ingest's ledger of accepted webhook ids (port; adapter ``shared.db.pg.ledger``, fake
``tests.fakes.FakeIngestLedger``, one contract suite: tests/integration/test_ingest_ledger.py).

``claim`` is how the ingest publishes each event at most once per webhook-id, for a group of
requests at a time (one transaction per group)::

    async with ledger.claim(entries, now=now, retention=retention) as claim:
        published = await publish(e for e in entries if e.webhook_id in claim.fresh)
        await claim.confirm(published)   # only these ids are remembered

``fresh``: the ids nobody accepted within ``retention``; ``reused``: taken ids accepted with a
different body. A fresh id left out of ``confirm`` (its publish failed), or a claim that ends
without ``confirm``, leaves nothing behind. While a claim on an id is open, another claim on it
waits until the first ends, then sees the id taken or free: concurrent duplicates are published
once. Claims take their ids in sorted order, so two groups sharing ids wait for each other and
never deadlock. Ids in one claim must be distinct.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol


@dataclass(frozen=True)
class LedgerEntry:
    webhook_id: str
    event_type: str
    invoice_id: str
    body_sha256: bytes


class Claim(Protocol):
    @property
    def fresh(self) -> frozenset[str]:
        """Ids nobody accepted within the retention: publish them, then ``confirm``."""
        ...

    @property
    def reused(self) -> frozenset[str]:
        """Taken ids whose accepted body had another digest (a reused webhook-id)."""
        ...

    async def confirm(self, published: Collection[str]) -> None:
        """Remember ``published`` (fresh ids the broker acknowledged), forget the other fresh
        ones, and commit."""
        ...


class IngestLedger(Protocol):
    def claim(self, entries: Sequence[LedgerEntry], *, now: datetime,
              retention: timedelta) -> AbstractAsyncContextManager[Claim]: ...

    async def purge(self, before: datetime, *, limit: int = 10_000) -> int:
        """Forget ids accepted before ``before`` (at most ``limit``); returns how many."""
        ...
