"""Client-side throttle for SUNSKY calls (reference section 4: limits are per account and not
public; integrators keep to about 2 calls/s).

A token bucket: ``burst`` tokens at most, refilled at ``calls_per_second``. Callers queue on a
lock, so concurrent workers in one process share the budget fairly. The clock and the sleep are
injectable so unit tests run on a fake clock.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


class RateLimiter:
    def __init__(
        self,
        calls_per_second: float,
        *,
        burst: int = 1,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if calls_per_second < 0 or burst < 1:
            raise ValueError("calls_per_second must be >= 0 and burst >= 1")
        self._rate = calls_per_second
        self._burst = float(burst)
        self._tokens = float(burst)
        self._clock = clock
        self._sleep = sleep
        self._updated = clock()
        self._lock = asyncio.Lock()

    @property
    def unlimited(self) -> bool:
        return self._rate == 0

    async def acquire(self) -> None:
        """Wait until one more call fits the budget (returns at once when unlimited)."""
        if self.unlimited:
            return
        async with self._lock:
            self._refill()
            if self._tokens < 1:
                await self._sleep((1 - self._tokens) / self._rate)
                self._refill()
            self._tokens -= 1

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + (now - self._updated) * self._rate)
        self._updated = now
