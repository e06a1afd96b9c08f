"""What the placer remembers between orders so steady state costs two SUNSKY calls per order
(quote + createOrder): the country table, and the balance known from the last read minus
what this process has spent since."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any


class CountryDirectory:
    """ISO alpha-2 -> SUNSKY country (SUNSKY's own numeric ids), refreshed every ``ttl`` s."""

    def __init__(self, fetch: Callable[[], Awaitable[list[Any]]], *, ttl: float = 86400.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._fetch, self._ttl, self._clock = fetch, ttl, clock
        self._by_code: dict[str, Any] = {}
        self._loaded_at: float | None = None
        # One refresh at a time: the placer's per-partition actors share this directory.
        self._lock = asyncio.Lock()

    def _stale(self) -> bool:
        return self._loaded_at is None or self._clock() - self._loaded_at > self._ttl

    async def resolve(self, iso2: str | None) -> Any | None:
        if self._stale():
            async with self._lock:
                if self._stale():
                    countries = await self._fetch()
                    self._by_code = {c.code.upper(): c for c in countries}
                    self._loaded_at = self._clock()
        return self._by_code.get((iso2 or "").upper())

    async def iso2_of(self, country_id: int | None) -> str | None:
        """The ISO code of SUNSKY's country ``country_id`` (None when unknown)."""
        await self.resolve(None)  # loads the table when stale
        return next((code for code, c in self._by_code.items() if c.id == country_id), None)


class BalanceTracker:
    """The SUNSKY balance as last read, minus local debits.

    Reads again when older than ``ttl``, or when it looks too low and the last read is older
    than ``min_refresh`` (someone may have topped up). SUNSKY itself still refuses an order the
    balance cannot cover (``useBalanceOnly=true``): this only saves calls and gives a clear
    reason before createOrder.
    """

    def __init__(self, fetch: Callable[[], Awaitable[Decimal]], *, ttl: float = 60.0,
                 min_refresh: float = 5.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._fetch, self._ttl, self._min_refresh, self._clock = fetch, ttl, min_refresh, clock
        self._balance: Decimal | None = None
        self._read_at = 0.0
        self._lock = asyncio.Lock()  # concurrent actors share one read

    def _needs_read(self, needed: Decimal) -> bool:
        age = self._clock() - self._read_at
        stale = self._balance is None or age > self._ttl
        short = self._balance is not None and self._balance < needed and age > self._min_refresh
        return stale or short

    async def available(self, needed: Decimal) -> Decimal:
        if self._needs_read(needed):
            async with self._lock:
                if self._needs_read(needed):
                    self._balance = await self._fetch()
                    self._read_at = self._clock()
        assert self._balance is not None
        return self._balance

    def debit(self, amount: Decimal) -> None:
        if self._balance is not None:
            self._balance -= amount

    def forget(self) -> None:
        self._balance = None
