"""One SUNSKY call budget per account, shared by every process that calls SUNSKY.

SUNSKY limits calls per account, not per process, so the budget is one token bucket per
account in PostgreSQL (``shared.db.pg.budget``; one row keyed by the API key id, never the
secret), refilled at ``SUNSKY_ACCOUNT_CALLS_PER_SECOND`` up to ``SUNSKY_ACCOUNT_CALLS_BURST``
tokens. This module is the arithmetic (pure, on a caller's clock) and ``CallBudget``, the
in-process side that ``SunskyHttp`` awaits before every attempt.

Priorities. The bucket holds two pockets whose sum never exceeds the burst:

- ``main`` (burst - pocket capacity) gets ``1 - share`` of every refill;
- ``pocket`` (``max(1, share * burst)``) gets ``share`` of it
  (``SUNSKY_BUDGET_TRACKING_SHARE``); each pocket's overflow goes to the other.

Placement (quote, createOrder, the look-up after an unknown outcome) takes from ``main``
whenever a token is there. Lower priorities (an admin's refresh, then tracking sweeps) take
from ``main`` only above a reserve (a quarter, half of ``main``'s capacity), so under a
placement backlog ``main`` stays near empty and they never take its tokens; but they always
may spend the pocket, so tracking keeps ``share`` of the rate and cannot stall for good. With
nobody asking for it the pocket fills and overflows, and placement gets the whole rate.

Leases. A process asks for as many tokens as it has calls waiting (at most ``LEASE_MAX``) in
one ``UPDATE ... RETURNING``; the rest of a grant is spent by the next calls within
``LEASE_SECONDS`` or lapses. The database keeps no record of leases, so a process that dies
holding tokens costs the account at most those few tokens, once.

Throttling. When SUNSKY throttles anyway, ``throttled()`` empties the bucket and records a
"paused until" in the same row: every process waits it out, then the bucket refills from zero.

Bound. In any window of T seconds the account's processes together send at most
``burst + R * T`` calls, plus any leased tokens still unspent when the window opens (none
under a backlog, where every grant goes to calls already waiting).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from enum import IntEnum
from typing import Protocol

from shared.observability import metrics
from shared.settings import Settings
from shared.sunsky.deadline import Deadline, DeadlinePassed

LEASE_MAX = 4  # tokens one process asks for at once
LEASE_SECONDS = 1.0  # an unspent leased token lapses this long after the grant
PAUSE_SECONDS = 2.0  # how long the whole account backs off after SUNSKY throttled
_EPSILON = 0.002  # wake just after the token is whole, not just before


class Priority(IntEnum):
    PLACEMENT = 0
    ADMIN = 1
    TRACKING = 2


_RESERVE = {Priority.PLACEMENT: 0.0, Priority.ADMIN: 0.25, Priority.TRACKING: 0.5}


@dataclass(frozen=True)
class BudgetConfig:
    rate: float  # tokens per second; 0 = no budget
    burst: int = 4
    tracking_share: float = 0.1

    def __post_init__(self) -> None:
        if self.rate < 0 or not 0 <= self.tracking_share < 1:
            raise ValueError("rate must be >= 0 and tracking_share in [0, 1)")
        if self.burst < (2 if self.tracking_share > 0 else 1):
            raise ValueError("burst must leave main at least one token besides the pocket")

    @property
    def pocket_cap(self) -> float:
        return max(1.0, self.tracking_share * self.burst) if self.tracking_share > 0 else 0.0

    @property
    def main_cap(self) -> float:
        return self.burst - self.pocket_cap

    def reserve(self, priority: Priority) -> float:
        return _RESERVE[priority] * self.main_cap


@dataclass(frozen=True)
class BucketState:
    main: float
    pocket: float
    updated: float  # seconds on the bucket's clock
    paused_until: float = -math.inf

    @classmethod
    def full(cls, config: BudgetConfig, now: float) -> BucketState:
        return cls(config.main_cap, config.pocket_cap, now)


def refilled(config: BudgetConfig, state: BucketState, now: float) -> BucketState:
    """The bucket at ``now``: nothing refills while paused; each pocket overflows into the
    other; the sum stays within the burst."""
    added = max(0.0, now - max(state.updated, state.paused_until)) * config.rate
    main = state.main + added * (1 - config.tracking_share)
    pocket = state.pocket + added * config.tracking_share
    main, pocket = main + max(0.0, pocket - config.pocket_cap), min(pocket, config.pocket_cap)
    pocket = min(config.pocket_cap, pocket + max(0.0, main - config.main_cap))
    main = min(main, config.main_cap)
    return replace(state, main=main, pocket=pocket, updated=max(state.updated, now))


def take(config: BudgetConfig, state: BucketState, now: float, priority: Priority,
         want: int) -> tuple[BucketState, int]:
    """Up to ``want`` whole tokens for ``priority`` at ``now``: the new state and the grant.
    ``shared.db.pg.budget`` does the same in one SQL statement (a contract test holds it)."""
    state = refilled(config, state, now)
    if now < state.paused_until:
        return state, 0
    from_pocket = 0 if priority == Priority.PLACEMENT else min(want, math.floor(state.pocket))
    above = math.floor(state.main - config.reserve(priority))
    from_main = min(want - from_pocket, max(0, above))
    granted = replace(state, main=state.main - from_main, pocket=state.pocket - from_pocket)
    return granted, from_main + from_pocket


def paused(state: BucketState, now: float, seconds: float) -> BucketState:
    """SUNSKY throttled: empty the bucket, refill only after ``seconds``."""
    return replace(state, main=0.0, pocket=0.0, updated=max(state.updated, now),
                   paused_until=max(state.paused_until, now + seconds))


def wait_seconds(config: BudgetConfig, state: BucketState, now: float,
                 priority: Priority) -> float:
    """How long until ``priority`` may take a token, from a freshly refilled ``state``."""
    pause = max(0.0, state.paused_until - now)
    full_pocket = state.pocket >= config.pocket_cap
    main_rate = config.rate * (1.0 if full_pocket else 1 - config.tracking_share)
    needed = config.reserve(priority) + 1 - state.main
    ready = max(0.0, needed) / main_rate if needed <= config.main_cap else math.inf
    if priority != Priority.PLACEMENT and config.tracking_share > 0:
        pocket_ready = max(0.0, 1 - state.pocket) / (config.rate * config.tracking_share)
        ready = min(ready, pocket_ready)
    return pause + ready + _EPSILON


@dataclass(frozen=True)
class Taken:
    granted: int
    state: BucketState  # after the grant
    now: float  # the bucket's clock when it was taken


class BudgetStore(Protocol):
    """Where an account's bucket lives: ``PgBudgetStore`` (shared by every process),
    ``tests.fakes.FakeBudgetStore``."""

    async def take(self, priority: Priority, want: int) -> Taken: ...

    async def pause(self, seconds: float) -> None: ...


class BudgetUnavailable(Exception):
    """The bucket could not be read (PostgreSQL down): no call may leave."""


@dataclass
class _Lane:
    """One priority's leased tokens in this process, and the calls waiting for them."""

    tokens: int = 0
    expires: float = 0.0
    waiting: int = 0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class CallBudget:
    """What ``SunskyHttp`` awaits before each attempt. A rate of 0: no budget. The store may
    be attached later (a runtime builds its clients before its pool); until then a call
    with a budget raises ``BudgetUnavailable``."""

    def __init__(self, config: BudgetConfig, store: BudgetStore | None, *,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.config, self._store = config, store
        self._clock, self._sleep = clock, sleep
        self._lanes = {priority: _Lane() for priority in Priority}

    @classmethod
    def from_settings(cls, settings: Settings, store: BudgetStore | None = None) -> CallBudget:
        return cls(BudgetConfig(settings.sunsky_account_calls_per_second,
                                settings.sunsky_account_calls_burst,
                                settings.sunsky_budget_tracking_share), store)

    def attach(self, store: BudgetStore) -> None:
        self._store = store

    @property
    def unlimited(self) -> bool:
        return self.config.rate == 0

    async def acquire(self, priority: Priority, deadline: Deadline | None = None) -> None:
        """One token for a call of ``priority``. Raises ``DeadlinePassed``, taking nothing,
        when it would come after ``deadline``; ``BudgetUnavailable`` when the store fails."""
        if self.unlimited:
            return
        lane, started = self._lanes[priority], self._clock()
        lane.waiting += 1
        try:
            await _lock_before(lane.lock, deadline)
            try:
                await self._take_one(lane, priority, deadline)
            finally:
                lane.lock.release()
        finally:
            lane.waiting -= 1
        metrics.budget_waited(self._clock() - started)

    async def _take_one(self, lane: _Lane, priority: Priority,
                        deadline: Deadline | None) -> None:
        if self._store is None:
            raise BudgetUnavailable("no store attached to the account's call budget")
        while not (lane.tokens > 0 and lane.expires > self._clock()):
            taken = await self._store.take(priority, min(LEASE_MAX, lane.waiting))
            if taken.granted:
                lane.tokens, lane.expires = taken.granted, self._clock() + LEASE_SECONDS
                break
            wait = wait_seconds(self.config, taken.state, taken.now, priority)
            if deadline is not None and wait > deadline.remaining():
                raise DeadlinePassed(f"the next SUNSKY call slot is {wait:.1f}s away, "
                                     f"{deadline.remaining():.1f}s before the deadline")
            await self._sleep(wait)
        lane.tokens -= 1

    async def throttled(self, seconds: float = PAUSE_SECONDS) -> None:
        """SUNSKY throttled a call: the whole account backs off; leased tokens go too."""
        if self._store is None or self.unlimited:
            return
        for lane in self._lanes.values():
            lane.tokens = 0
        await self._store.pause(seconds)


async def _lock_before(lock: asyncio.Lock, deadline: Deadline | None) -> None:
    if deadline is None:
        await lock.acquire()
        return
    try:
        async with asyncio.timeout(max(deadline.remaining(), 0.0)):
            await lock.acquire()
    except TimeoutError:
        raise DeadlinePassed("other SUNSKY calls queued before it past the deadline") from None
