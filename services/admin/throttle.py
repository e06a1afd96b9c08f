"""Slows password guessing: after ``MAX_FAILURES`` failed logins for one user name from one
address within ``WINDOW`` seconds, that pair is refused (429) until the window has passed.
Kept in the admin process (a restart forgets it); argon2 makes each guess slow besides."""

from __future__ import annotations

import time
from collections.abc import Callable

MAX_FAILURES = 5
WINDOW = 300.0
MAX_KEYS = 10_000


class LoginThrottle:
    def __init__(self, *, max_failures: int = MAX_FAILURES, window: float = WINDOW,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._max, self._window, self._clock = max_failures, window, clock
        self._failures: dict[tuple[str, str], list[float]] = {}

    def retry_after(self, key: tuple[str, str]) -> float | None:
        """Seconds to wait before this pair may try again, or None."""
        recent = self._recent(key)
        if len(recent) < self._max:
            return None
        return max(1.0, recent[0] + self._window - self._clock())

    def failed(self, key: tuple[str, str]) -> None:
        if len(self._failures) >= MAX_KEYS and key not in self._failures:
            self._failures.pop(next(iter(self._failures)))
        self._failures[key] = [*self._recent(key), self._clock()]

    def succeeded(self, key: tuple[str, str]) -> None:
        self._failures.pop(key, None)

    def _recent(self, key: tuple[str, str]) -> list[float]:
        since = self._clock() - self._window
        return [t for t in self._failures.get(key, []) if t > since]
