"""The ingest's ledger of accepted webhook ids (port; adapter ``shared.db.pg.ledger``, fake
``tests.fakes.FakeIngestLedger``, one contract suite: tests/integration/test_ingest_ledger.py).

``claim`` is how the ingest publishes an event at most once per webhook-id::

    async with ledger.claim(entry, now=now, retention=retention) as claim:
        if claim.fresh:
            await publish(...)        # the broker acknowledged
            await claim.confirm()     # only now is the id remembered

A claim that ends without ``confirm()`` (the publish failed) leaves nothing behind. While one
claim on an id is open, a second claim on that id waits until the first ends, then sees the id
taken (``fresh`` False) or free: concurrent duplicates are published once. An id accepted more
than ``retention`` ago counts as new.
"""

from __future__ import annotations

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
    def fresh(self) -> bool:
        """True: nobody accepted this id within the retention; publish, then ``confirm()``."""
        ...

    @property
    def same_body(self) -> bool:
        """For a taken id: the body accepted under it had the same digest."""
        ...

    async def confirm(self) -> None:
        """Remember the id (commits); call it once the broker acknowledged the record."""
        ...


class IngestLedger(Protocol):
    def claim(self, entry: LedgerEntry, *, now: datetime,
              retention: timedelta) -> AbstractAsyncContextManager[Claim]: ...

    async def purge(self, before: datetime, *, limit: int = 10_000) -> int:
        """Forget ids accepted before ``before`` (at most ``limit``); returns how many."""
        ...
