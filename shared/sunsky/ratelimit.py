"""Client-side throttle for SUNSKY calls (reference section 4: limits are per account and not
public; integrators keep to about 2 calls/s).

A token bucket: ``burst`` tokens at most, refilled at ``calls_per_second``. Callers queue on a
lock, so concurrent workers in one process share the budget fairly. A caller with a deadline
(a placement attempt's createOrder) is refused at once, with nothing taken, when its slot would
come after the deadline. The clock and the sleep are injectable so unit tests run on a fake
clock.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from shared.observability import metrics
from shared.sunsky.deadline import Deadline, DeadlinePassed


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

    async def acquire(self, deadline: Deadline | None = None) -> None:
        """Wait until one more call fits the budget (returns at once when unlimited).

        Raises ``DeadlinePassed``, taking nothing, when the slot (the queue before it
        included) would come after ``deadline``."""
        if self.unlimited:
            return
        started = time.monotonic()
        await self._lock_before(deadline)
        try:
            self._refill()
            if self._tokens < 1:
                wait = (1 - self._tokens) / self._rate
                if deadline is not None and wait > deadline.remaining():
                    raise DeadlinePassed(f"the next SUNSKY call slot is {wait:.1f}s away, "
                                         f"{deadline.remaining():.1f}s before the deadline")
                await self._sleep(wait)
                self._refill()
            self._tokens -= 1
            metrics.budget_waited(time.monotonic() - started)
        finally:
            self._lock.release()

    async def _lock_before(self, deadline: Deadline | None) -> None:
        if deadline is None:
            await self._lock.acquire()
            return
        try:
            async with asyncio.timeout(max(deadline.remaining(), 0.0)):
                await self._lock.acquire()
        except TimeoutError:
            raise DeadlinePassed("other SUNSKY calls queued before it past the deadline") from None

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + (now - self._updated) * self._rate)
        self._updated = now
