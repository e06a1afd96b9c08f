"""What the placer remembers between orders so steady state costs at most two SUNSKY calls per
order (quote + createOrder): the country table, the balance known from the last read minus what
this process has spent since, and (``SharedQuotes``) freight quotes every placer shares through
PostgreSQL, so a cart quoted within ``QUOTE_CACHE_SECONDS`` costs createOrder alone."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from shared.db.repository import UnitOfWork
from shared.sunsky.models import Quote

logger = logging.getLogger(__name__)


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


class SharedQuotes:
    """getPricesAndFreights answers by ``quoting.quote_key``, in PostgreSQL (``uow.quotes``) for
    ``ttl`` seconds; ``ttl`` 0 stores and reads nothing. Expired rows go with housekeeping."""

    def __init__(self, uow: Callable[[], UnitOfWork], *, ttl: float,
                 clock: Callable[[], datetime]) -> None:
        self._uow, self._ttl, self._clock = uow, timedelta(seconds=ttl), clock

    async def get(self, key: str) -> Quote | None:
        if not self._ttl:
            return None
        async with self._uow() as uow:
            stored = await uow.quotes.get(key, self._clock())
        if stored is None:
            return None
        try:
            return Quote.model_validate(stored)
        except ValidationError:  # written by another version, say: quote afresh, replace it
            logger.warning("cached quote %s unreadable; quoting afresh", key)
            return None

    async def put(self, key: str, quote: Quote) -> None:
        if not self._ttl:
            return
        now = self._clock()
        async with self._uow() as uow:
            await uow.quotes.put(key, quote.model_dump(mode="json", by_alias=True),
                                 quoted_at=now, expires_at=now + self._ttl)
            await uow.commit()

    async def forget(self, key: str) -> None:
        async with self._uow() as uow:
            await uow.quotes.forget(key)
            await uow.commit()
