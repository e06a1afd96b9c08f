from __future__ import annotations

import asyncio
from decimal import Decimal

from services.placer.caches import BalanceTracker, CountryDirectory
from tests.fakes import GB, US


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_concurrent_actors_share_one_country_read() -> None:
    reads = 0

    async def fetch() -> list:
        nonlocal reads
        reads += 1
        await asyncio.sleep(0.01)
        return [US, GB]

    directory = CountryDirectory(fetch)
    found = await asyncio.gather(*(directory.resolve("us") for _ in range(8)))
    assert reads == 1 and {c.id for c in found} == {41}
    assert await directory.resolve("XX") is None


async def test_balance_is_read_once_then_debited_locally_and_reread_when_short() -> None:
    clock, reads = Clock(), []

    async def fetch() -> Decimal:
        reads.append(clock.now)
        return Decimal("100")

    tracker = BalanceTracker(fetch, ttl=60, min_refresh=5, clock=clock)
    await asyncio.gather(*(tracker.available(Decimal("10")) for _ in range(8)))
    assert reads == [0.0]
    tracker.debit(Decimal("95"))
    assert await tracker.available(Decimal("10")) == Decimal("5")  # too recent to re-read
    clock.now = 6
    assert await tracker.available(Decimal("10")) == Decimal("100")  # short and old: re-read
    clock.now = 100
    await tracker.available(Decimal("1"))
    assert reads == [0.0, 6, 100]  # stale after the ttl
