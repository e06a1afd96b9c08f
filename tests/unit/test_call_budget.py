"""The account's call budget on a fake clock (shared/sunsky/budget.py): the bucket's
arithmetic, priorities and the tracking share, leases, the account-wide pause."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import ValidationError

from shared.settings import Settings
from shared.sunsky.budget import (
    LEASE_SECONDS,
    BucketState,
    BudgetConfig,
    BudgetUnavailable,
    CallBudget,
    Priority,
    paused,
    refilled,
    take,
    wait_seconds,
)
from tests.fakes import FakeBudgetStore
from tests.unit.test_sunsky_client import FakeClock

CONFIG = BudgetConfig(2.0, burst=4, tracking_share=0.1)  # main holds 3, the pocket 1


def drain(config: BudgetConfig, priorities: list[Priority], seconds: float,
          step: float = 0.05) -> dict[Priority, int]:
    """Every priority in ``priorities`` asks for a token every ``step`` seconds, in that
    order (the first asks first: the worst case for those after it)."""
    state, now = BucketState.full(config, 0.0), 0.0
    counts = dict.fromkeys(priorities, 0)
    while now < seconds:
        for priority in priorities:
            state, granted = take(config, state, now, priority, 1)
            counts[priority] += granted
        now += step
    return counts


def test_a_full_bucket_grants_the_burst_then_the_rate() -> None:
    counts = drain(CONFIG, [Priority.PLACEMENT], 10.0)
    # placement cannot spend the tracking pocket, but nobody else does: it overflows to main
    assert counts[Priority.PLACEMENT] == pytest.approx(3 + 2.0 * 10, abs=1)


def test_the_sum_of_the_pockets_never_exceeds_the_burst() -> None:
    state = BucketState(0.0, 0.0, 0.0)
    for now in (0.5, 3.0, 100.0):
        state = take(CONFIG, state, now, Priority.PLACEMENT, 0)[0]
        assert state.main + state.pocket <= CONFIG.burst + 1e-9
    assert (state.main, state.pocket) == (3.0, 1.0)


def test_a_full_pocket_overflows_into_main_and_a_full_main_into_the_pocket() -> None:
    assert refilled(CONFIG, BucketState(0.0, 1.0, 0.0), 1.0).main == pytest.approx(2.0)
    assert refilled(CONFIG, BucketState(3.0, 0.0, 0.0), 0.5).pocket == pytest.approx(1.0)


def test_tracking_never_starves_placement() -> None:
    # tracking asks first, every time: still it only gets its pocket's share
    counts = drain(CONFIG, [Priority.TRACKING, Priority.PLACEMENT], 60.0)
    assert counts[Priority.TRACKING] == pytest.approx(1 + 0.1 * 2.0 * 60, abs=1)
    assert counts[Priority.PLACEMENT] == pytest.approx(3 + 0.9 * 2.0 * 60, abs=1)


def test_placement_leaves_tracking_its_share() -> None:
    counts = drain(CONFIG, [Priority.PLACEMENT, Priority.TRACKING], 60.0)
    assert counts[Priority.TRACKING] >= 0.1 * 2.0 * 60


def test_admin_comes_before_tracking_and_after_placement() -> None:
    idle = drain(CONFIG, [Priority.ADMIN, Priority.TRACKING], 30.0)
    assert idle[Priority.ADMIN] > idle[Priority.TRACKING]
    busy = drain(CONFIG, [Priority.ADMIN, Priority.PLACEMENT], 30.0)
    assert busy[Priority.PLACEMENT] >= 0.9 * 2.0 * 30


def test_with_nobody_busy_low_priorities_use_the_whole_rate() -> None:
    counts = drain(CONFIG, [Priority.TRACKING], 60.0)
    assert counts[Priority.TRACKING] == pytest.approx(2.0 * 60, rel=0.05)


def test_a_pause_empties_the_bucket_and_refills_only_after_it() -> None:
    state = paused(BucketState.full(CONFIG, 0.0), 10.0, 2.0)
    assert take(CONFIG, state, 11.9, Priority.PLACEMENT, 4)[1] == 0
    assert wait_seconds(CONFIG, take(CONFIG, state, 11.0, Priority.PLACEMENT, 4)[0], 11.0,
                        Priority.PLACEMENT) == pytest.approx(1.0 + 1 / 1.8, abs=0.01)
    assert take(CONFIG, state, 12.0 + 1 / 1.8 + 0.01, Priority.PLACEMENT, 4)[1] == 1


def test_the_wait_is_when_the_next_token_is_whole() -> None:
    state = BucketState(0.2, 1.0, 0.0)  # the pocket is full: main refills at the whole rate
    wait = wait_seconds(CONFIG, state, 0.0, Priority.PLACEMENT)
    assert take(CONFIG, state, wait, Priority.PLACEMENT, 1)[1] == 1
    assert take(CONFIG, state, wait - 0.01, Priority.PLACEMENT, 1)[1] == 0


def test_a_burst_too_small_for_the_pocket_is_refused() -> None:
    with pytest.raises(ValueError):
        BudgetConfig(2.0, burst=1, tracking_share=0.1)


async def test_one_lease_serves_the_calls_waiting_for_it() -> None:
    clock = FakeClock()
    store = FakeBudgetStore(CONFIG, clock)
    budget = CallBudget(CONFIG, store, clock=clock, sleep=clock.sleep)
    await asyncio.gather(*(budget.acquire(Priority.PLACEMENT) for _ in range(3)))
    # the first asked for itself; the two that queued during its round trip share one lease
    assert store.takes == 2


async def test_unspent_leased_tokens_lapse() -> None:
    clock = FakeClock()
    store = FakeBudgetStore(CONFIG, clock)
    budget = CallBudget(CONFIG, store, clock=clock, sleep=clock.sleep)
    await asyncio.gather(*(budget.acquire(Priority.PLACEMENT) for _ in range(2)))
    await budget.acquire(Priority.PLACEMENT)  # the second token of the lease
    clock.now += LEASE_SECONDS + 0.1
    takes = store.takes
    await budget.acquire(Priority.PLACEMENT)
    assert store.takes == takes + 1  # asked the bucket again: the old lease had lapsed


async def test_throttled_drops_this_process_leases_and_pauses_the_account() -> None:
    clock = FakeClock()
    store = FakeBudgetStore(CONFIG, clock)
    budget = CallBudget(CONFIG, store, clock=clock, sleep=clock.sleep)
    await asyncio.gather(*(budget.acquire(Priority.PLACEMENT) for _ in range(2)))
    await budget.throttled(2.0)
    started = clock.now
    await budget.acquire(Priority.PLACEMENT)
    assert clock.now - started >= 2.0


def test_settings_refuse_a_burst_that_cannot_hold_the_tracking_share() -> None:
    with pytest.raises(ValidationError, match="SUNSKY_ACCOUNT_CALLS_BURST"):
        Settings(sunsky_account_calls_burst=1)
    assert Settings(sunsky_account_calls_burst=1, sunsky_budget_tracking_share=0)
    budget = CallBudget.from_settings(Settings(sunsky_account_calls_per_second=3))
    assert budget.config == BudgetConfig(3, burst=4, tracking_share=0.1)


async def test_a_budget_without_its_store_lets_no_call_leave() -> None:
    budget = CallBudget(CONFIG, None)
    with pytest.raises(BudgetUnavailable):
        await budget.acquire(Priority.PLACEMENT)
