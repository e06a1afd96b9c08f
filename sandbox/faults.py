"""Fault injection for the protocol routes, set through ``/_sandbox/faults``.

SUNSKY documents none of this; it exists so clients can be tested against slow, failing, throttled
and silent servers, and against a ``getOrderList`` that does not help a look-up by siteNumber
(the filter and the field are third-party reports): ``list_ignores_site_number`` lists every
order of the window whatever ``siteNumber`` asks, ``list_omits_site_number`` leaves the field
out of list entries (order details still carry it), ``list_ignores_status`` lists every status
whatever ``status`` asks (that filter, too, is only reported by others). Invented:
``CALL_FREQUENCY_EXCEEDED`` (the reference suggests the name; how SUNSKY really reports
throttling is unknown), the plain-text ``NO_PERMISSION_DUE_TO_USER_STATUS`` body is [3P]. Paths
are action names such as ``order!createOrder.do``.
"""

from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

PreCallFault = Literal["user_status", "throttle", "error", "timeout"]


class FaultSettings(BaseModel):
    """The JSON body of ``POST /_sandbox/faults``; every field optional, unknown fields refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    latency_ms: int = Field(default=0, ge=0)
    latency_paths: list[str] | None = None  # None: every path
    error_rate: float = Field(default=0.0, ge=0, le=1)
    timeout_rate: float = Field(default=0.0, ge=0, le=1)
    timeout_hold_seconds: float = Field(default=30.0, ge=0)
    # Per account (API key): more than throttle_per_second x throttle_window_seconds calls let
    # through in any sliding window of throttle_window_seconds are throttled.
    throttle_per_second: float | None = Field(default=None, gt=0)
    throttle_window_seconds: float = Field(default=1.0, gt=0)
    drop_response_rate: float = Field(default=0.0, ge=0, le=1)
    drop_response_paths: list[str] = Field(default_factory=lambda: ["order!createOrder.do"])
    user_status_plaintext: bool = False
    fault_paths: list[str] | None = None  # where error_rate/timeout_rate apply; None: every path
    list_ignores_site_number: bool = False
    list_omits_site_number: bool = False
    list_ignores_status: bool = False
    seed: int | None = None


def _applies(paths: list[str] | None, path: str) -> bool:
    return paths is None or path in {p.removeprefix("/openapi/") for p in paths}


class FaultInjector:
    """Decides, per protocol request, which fault (if any) happens. Rolls the RNG only for
    rates above zero, so a seeded run is reproducible."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.configure(FaultSettings())

    def configure(self, settings: FaultSettings) -> None:
        self.settings = settings
        self._rng = random.Random(settings.seed)
        self._admitted: dict[str, deque[float]] = {}

    def clear(self) -> None:
        self.configure(FaultSettings())

    def latency_seconds(self, path: str) -> float:
        if _applies(self.settings.latency_paths, path):
            return self.settings.latency_ms / 1000
        return 0.0

    def pre_call_fault(self, path: str, account: str = "") -> PreCallFault | None:
        s = self.settings
        if s.user_status_plaintext:
            return "user_status"
        if self._throttled(account):
            return "throttle"
        if _applies(s.fault_paths, path):
            if self._roll(s.error_rate):
                return "error"
            if self._roll(s.timeout_rate):
                return "timeout"
        return None

    def drops_response(self, path: str) -> bool:
        s = self.settings
        return _applies(s.drop_response_paths, path) and self._roll(s.drop_response_rate)

    def _roll(self, rate: float) -> bool:
        return rate > 0 and self._rng.random() < rate

    def _throttled(self, account: str) -> bool:
        """A sliding window over the account's calls let through (SUNSKY's limit is per
        account)."""
        rate, window = self.settings.throttle_per_second, self.settings.throttle_window_seconds
        if rate is None:
            return False
        now, admitted = self._clock(), self._admitted.setdefault(account, deque())
        while admitted and now - admitted[0] >= window:
            admitted.popleft()
        if len(admitted) >= rate * window:
            return True
        admitted.append(now)
        return False
