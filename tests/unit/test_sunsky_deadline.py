"""A guarded createOrder (issue 9 §2, a stalled worker sends late): one deadline covers the wait
for a call slot, connect, write and read; right before the request leaves the caller has the last
word. Refused, nothing reaches the transport. Also the settle-time check at start-up."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from pydantic import ValidationError

from shared.settings import Settings
from shared.sunsky.budget import Priority
from shared.sunsky.deadline import Deadline, DeadlinePassed
from shared.sunsky.errors import SunskyNotSentError, SunskyUnknownOutcomeError
from tests.unit.test_sunsky_client import (
    ORDER,
    FakeClock,
    FakeSunsky,
    budget_on,
    client_for,
    ok,
    order_request,
)

CREATE = "order!createOrder.do"


async def test_a_slot_after_the_deadline_is_refused_and_nothing_is_taken() -> None:
    clock = FakeClock()
    budget = budget_on(clock, 0.5)  # a slot every 2 s
    await budget.acquire(Priority.PLACEMENT)
    with pytest.raises(DeadlinePassed):
        await budget.acquire(Priority.PLACEMENT, Deadline.within(1.9, clock=clock))
    assert clock.sleeps == []  # refused at once, not after waiting
    await budget.acquire(Priority.PLACEMENT, Deadline.within(2.1, clock=clock))
    assert clock.sleeps == pytest.approx([2.0], abs=0.01)  # the refused caller took no slot


async def test_create_order_waiting_past_its_deadline_for_a_slot_is_never_sent() -> None:
    clock = FakeClock()
    budget = budget_on(clock, 0.5)
    server = FakeSunsky(ok("1.0"), ok(ORDER))
    async with client_for(server, budget=budget) as client:
        await client.get_balance()  # the slot is taken: the next one is 2 s away
        with pytest.raises(SunskyNotSentError) as caught:
            await client.create_order(order_request(), deadline=Deadline.within(1, clock=clock))
    assert "no call slot before the deadline" in caught.value.messages[0]
    assert [r.url.path for r in server.requests] == ["/openapi/order!getBalance.do"]
    assert client.calls[CREATE] == 0


async def test_confirm_has_the_last_word_after_the_wait_for_a_slot() -> None:
    clock = FakeClock()
    budget = budget_on(clock, 0.5)
    asked_at: list[float] = []

    async def superseded() -> str | None:
        asked_at.append(clock.now)
        return "attempt 1 is no longer the order's current one (now Placed, attempt 2)"

    server = FakeSunsky(ok("1.0"))
    async with client_for(server, budget=budget) as client:
        await client.get_balance()
        with pytest.raises(SunskyNotSentError) as caught:
            await client.create_order(order_request(), deadline=Deadline.within(5, clock=clock),
                                      confirm=superseded)
    # asked once, after the 2 s wait, before sending
    assert asked_at == [pytest.approx(102.0, abs=0.01)]
    assert caught.value.messages == [
        "attempt 1 is no longer the order's current one (now Placed, attempt 2)"]
    assert len(server.requests) == 1  # the balance read only


async def test_a_deadline_passing_while_confirm_reads_refuses_the_send() -> None:
    clock = FakeClock()

    async def slow_but_current() -> str | None:
        clock.now += 3  # a slow database read
        return None

    server = FakeSunsky(ok(ORDER))
    async with client_for(server) as client:
        with pytest.raises(SunskyNotSentError, match="the deadline passed"):
            await client.create_order(order_request(), deadline=Deadline.within(2, clock=clock),
                                      confirm=slow_but_current)
    assert server.requests == []


async def test_a_current_attempt_within_its_deadline_is_sent_with_bounded_timeouts() -> None:
    seen: list[dict[str, float]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions["timeout"])
        return ok(ORDER)

    async def current() -> str | None:
        return None

    server = FakeSunsky(handler=answer)
    async with client_for(server, timeout=15, connect_timeout=5) as client:
        created = await client.create_order(order_request(), deadline=Deadline.within(2),
                                            confirm=current)
    assert created.number == ORDER["number"]
    [timeouts] = seen
    assert set(timeouts) == {"connect", "read", "write", "pool"}
    assert all(0 < t <= 2 for t in timeouts.values()), timeouts


async def test_no_answer_before_the_deadline_is_an_unknown_outcome() -> None:
    async def never_answers(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(30)
        return ok(ORDER)

    async with client_for(FakeSunsky(handler=never_answers)) as client:
        started = time.monotonic()
        with pytest.raises(SunskyUnknownOutcomeError, match="no answer within the deadline"):
            await client.create_order(order_request(), deadline=Deadline.within(0.3))
    assert time.monotonic() - started < 3  # the deadline, not the 15 s read timeout


@pytest.mark.parametrize(("settle", "deadline", "ok_"), [
    (30, 20, True), (21, 20, True), (20.9, 20, False), (4, 3, True), (3, 3, False),
])
def test_the_settle_time_must_outlast_an_attempts_deadline(settle: float, deadline: float,
                                                           ok_: bool) -> None:
    build = lambda: Settings(placing_settle_seconds=settle,  # noqa: E731
                             placing_attempt_deadline_seconds=deadline,
                             sunsky_api_secret="s3cr3t-value")
    if ok_:
        build()
        return
    with pytest.raises(ValidationError) as caught:
        build()
    text = str(caught.value)
    assert "PLACING_SETTLE_SECONDS" in text and "PLACING_ATTEMPT_DEADLINE_SECONDS" in text
    assert "s3cr3t" not in text  # the error shows this setting alone


def test_every_command_reports_invalid_settings_in_one_line() -> None:
    from click.testing import CliRunner

    from cli.main import cli

    env = {"PLACING_SETTLE_SECONDS": "4", "SUNSKY_API_SECRET": "s3cr3t-value"}
    result = CliRunner().invoke(cli, ["worker", "placer"], env=env)
    assert result.exit_code == 1 and result.exception is not None
    assert "Traceback" not in result.output and "s3cr3t" not in result.output
    assert result.output.startswith("Error: invalid settings: PLACING_ATTEMPT_DEADLINE_SECONDS: ")
    assert "PLACING_SETTLE_SECONDS (4) must be at least PLACING_ATTEMPT_DEADLINE_SECONDS (20) + 1"\
        in result.output
