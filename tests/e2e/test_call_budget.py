"""Issue 12 "Done when": three placer processes share one SUNSKY call budget of 2 calls/s.

Measured where a breach would show: the sandbox's request log (every protocol request it
received, with its arrival time). The sandbox throttles the account above 2R + burst calls in
any 2 s window (its fault control), so a budget kept per process (3 x 2 calls/s) would be
throttled and break both assertions; and the safety net that would hide a duplicate (the
sandbox's siteNumber de-duplication) is off, so every order placed exactly once is counted
from the createOrder requests that took effect.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from devtools.perfex_events import encode, invoice_event
from shared.settings import TOPIC_INVOICE_PAID
from tests.e2e.conftest import Pipeline

pytestmark = [pytest.mark.e2e]

RATE, BURST, WINDOW = 2, 4, 2.0
ORDERS = 20  # 40 calls: about 18 s at 2 calls/s after the burst
BUDGET = {"SUNSKY_ACCOUNT_CALLS_PER_SECOND": str(RATE), "SUNSKY_ACCOUNT_CALLS_BURST": str(BURST)}


def most_in_any_window(times: list[float], window: float) -> int:
    times = sorted(times)
    return max((sum(1 for t in times[i:] if t < first + window)
                for i, first in enumerate(times)), default=0)


async def placed_count(pipeline: Pipeline, expected: int) -> bool:
    statuses = await pipeline.statuses()
    return sum(1 for s in statuses.values() if s == "placed") >= expected


async def throttled_calls(pipeline: Pipeline) -> list[dict[str, Any]]:
    requests = (await pipeline.sandbox_get("/_sandbox/requests"))["requests"]
    return [r for r in requests if r["outcome"] == "fault:throttle"]


async def test_three_placers_keep_to_one_account_budget(pipeline_factory) -> None:
    pipeline = await pipeline_factory(partitions=6, **BUDGET)
    await pipeline.sandbox_post("/_sandbox/faults", {
        "throttle_per_second": (2 * RATE + BURST) / WINDOW, "throttle_window_seconds": WINDOW})
    await pipeline.start("invoice-listener")
    for n in (1, 2, 3):
        await pipeline.start(f"placer-{n}", "placer")
    invoices = list(range(120_001, 120_001 + ORDERS))
    await pipeline.publish_many([(TOPIC_INVOICE_PAID, str(i),
                                  encode(invoice_event("invoice.paid", i))) for i in invoices])

    async def placed_or_throttled() -> bool:
        return await placed_count(pipeline, ORDERS) or bool(await throttled_calls(pipeline))

    await pipeline.eventually(placed_or_throttled, timeout=50, what="every order placed")

    requests = (await pipeline.sandbox_get("/_sandbox/requests"))["requests"]
    throttled = await throttled_calls(pipeline)
    arrivals = [datetime.fromisoformat(r["at"]).timestamp() for r in requests]
    assert throttled == [], f"{len(throttled)} of {len(requests)} calls throttled"
    assert most_in_any_window(arrivals, WINDOW) <= 2 * RATE + BURST
    await pipeline.assert_one_sunsky_order_each(invoices)
    placers = {f"placer-{n}" for n in (1, 2, 3)}
    working = {name for name in placers if "placed" in pipeline.log(name).lower()}
    assert len(working) >= 2, "the backlog was not spread over the placers"
