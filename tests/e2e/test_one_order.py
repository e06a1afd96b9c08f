"""Issue 9: the one-order guarantee where SUNSKY does not help (sandbox de-duplication off).

Services run as processes against the session's broker and PostgreSQL and the sandbox over
HTTP; exactly-once is counted from the createOrder requests the sandbox received.
"""

from __future__ import annotations

import asyncio
import signal
import time

import pytest

from devtools.perfex_events import encode, invoice_event
from shared.settings import TOPIC_INVOICE_PAID
from tests.e2e.conftest import CREATE, Pipeline

pytestmark = [pytest.mark.e2e]

# Placer A waits 2 s for a token before each SUNSKY call, so its createOrder leaves about 2 s
# after its intent is committed: the window the test freezes it in. Its attempt deadline
# (3 s) leaves it time to send normally; the settle time must exceed deadline + 1 s.
SLOW_PLACER = {"SUNSKY_MAX_CALLS_PER_SECOND": "0.5"}
FAST_PLACER = {"SUNSKY_MAX_CALLS_PER_SECOND": "0"}
DEADLINE = {"PLACING_SETTLE_SECONDS": "4", "PLACING_ATTEMPT_DEADLINE_SECONDS": "3"}
WITHHELD = "createOrder withheld"


async def wait_for_status(pipeline: Pipeline, invoice: str, status: str, *,
                          timeout: float = 60, interval: float = 0.3) -> None:
    deadline = time.monotonic() + timeout
    while (await pipeline.statuses()).get(invoice) != status:
        assert time.monotonic() < deadline, f"invoice {invoice} never reached {status}"
        await asyncio.sleep(interval)


async def test_a_placer_frozen_between_intent_and_create_order_never_sends_it_late(
        pipeline_factory) -> None:
    """Placer A commits its intent and is frozen (SIGSTOP) while its createOrder waits for a
    rate-limiter token; placer B takes the partition over, looks the order up after the settle
    time, finds none and places it; then A is woken (SIGCONT). A must not send its createOrder:
    its attempt is no longer the current one and its deadline has passed."""
    pipeline = await pipeline_factory(partitions=1, **DEADLINE)
    await pipeline.start("invoice-listener")
    await pipeline.start("placer-a", "placer", env=SLOW_PLACER)
    frozen = pipeline.supervisor.children["placer-a"].process
    paid = encode(invoice_event("invoice.paid", 70001))
    await pipeline.publish(TOPIC_INVOICE_PAID, "70001", paid)

    await wait_for_status(pipeline, "70001", "placing", interval=0.05)  # the intent, committed
    frozen.send_signal(signal.SIGSTOP)
    try:
        assert await pipeline.sunsky_requests(CREATE) == [], "A sent before it was frozen"
        await pipeline.start("placer-b", "placer", env=FAST_PLACER)  # takes the partition over
        await wait_for_status(pipeline, "70001", "placed")
    finally:
        frozen.send_signal(signal.SIGCONT)

    async def a_decided() -> bool:
        return WITHHELD in pipeline.log("placer-a") or len(
            await pipeline.sunsky_requests(CREATE)) > 1

    await pipeline.eventually(a_decided, timeout=30, what="the woken placer's createOrder")
    assert "placed: SUNSKY" in pipeline.log("placer-b")
    await pipeline.assert_one_sunsky_order_each(["70001"])
    assert len(await pipeline.sunsky_requests(CREATE)) == 1
