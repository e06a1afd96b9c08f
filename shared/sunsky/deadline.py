"""A hard deadline for a SUNSKY call path, on the monotonic clock (a wall-clock jump cannot
stretch it).

The placer gives every placement attempt one: createOrder must leave (the wait for a call slot
included) and be answered before it, or not leave at all. The settle time after which another
placer may look the order up is longer than the deadline (``Settings`` checks it at start-up),
so a stalled attempt can never send after that look-up. Passed explicitly down the acquire and
send path (``CallBudget.acquire``, ``SunskyHttp``), so the account-wide call budget honours
it the same way.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

# Awaited right before a guarded request leaves: None to send it, or the reason not to.
Confirm = Callable[[], Awaitable[str | None]]


class DeadlinePassed(Exception):
    """The deadline came (or would come) before the call could leave."""


@dataclass(frozen=True)
class Deadline:
    at: float  # on ``clock``
    clock: Callable[[], float] = field(default=time.monotonic, compare=False)

    @classmethod
    def within(cls, seconds: float, *, clock: Callable[[], float] = time.monotonic,
               start: float | None = None) -> Deadline:
        """``seconds`` after ``start`` (default: now) on ``clock``."""
        return cls((clock() if start is None else start) + seconds, clock)

    def remaining(self) -> float:
        """Seconds left; negative once it has passed."""
        return self.at - self.clock()

    @property
    def passed(self) -> bool:
        return self.remaining() <= 0
