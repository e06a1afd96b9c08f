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
from tests.e2e.test_pipeline import run_cli

pytestmark = [pytest.mark.e2e]

# Placer A waits 2 s for a token before each SUNSKY call, so its createOrder leaves about 2 s
# after its intent is committed: the window the test freezes it in. Its attempt deadline
# (3 s) leaves it time to send normally; the settle time must exceed deadline + 1 s.
SLOW_PLACER = {"SUNSKY_ACCOUNT_CALLS_PER_SECOND": "0.5", "SUNSKY_ACCOUNT_CALLS_BURST": "1",
               "SUNSKY_BUDGET_TRACKING_SHARE": "0"}
FAST_PLACER = {"SUNSKY_ACCOUNT_CALLS_PER_SECOND": "0"}
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


async def wait_for_code(pipeline: Pipeline, invoices: list[str], code: str) -> None:
    async def all_there() -> bool:
        rows = await pipeline.pool.fetch(
            "SELECT last_error_code FROM orders WHERE invoice_id = ANY($1)"
            " AND status = 'api_failed'", invoices)
        return len(rows) == len(invoices) and {r["last_error_code"] for r in rows} == {code}

    await pipeline.eventually(all_there, what=f"{invoices} API Failed with {code}")


async def test_an_address_edited_after_an_unknown_outcome_is_never_dropped(
        pipeline_factory) -> None:
    """createOrder took effect but its answer was lost, and the look-up failed; an admin edits
    the address and retries; the placer finds the first order at SUNSKY shipping to the old
    address: API Failed with SUNSKY_ADDRESS_DIFFERS, SUNSKY's address on record. One order is
    accepted as SUNSKY ships it; the other is cancelled at SUNSKY and placed again, once."""
    pipeline = await pipeline_factory(
        partitions=1, PLACING_SETTLE_SECONDS="2", PLACING_ATTEMPT_DEADLINE_SECONDS="1",
        SUNSKY_READ_RETRIES="0")
    await asyncio.gather(pipeline.start("invoice-listener"), pipeline.start("placer"))
    await pipeline.sandbox_post("/_sandbox/faults", {
        "drop_response_rate": 1.0, "timeout_hold_seconds": 0.2,  # createOrder took effect
        "error_rate": 1.0, "fault_paths": ["order!getOrderList.do"]})  # the look-up fails
    accept, replace = "71001", "71002"
    await pipeline.publish_many([(TOPIC_INVOICE_PAID, i, encode(invoice_event("invoice.paid", i)))
                                 for i in (accept, replace)])
    await wait_for_code(pipeline, [accept, replace], "UNKNOWN_OUTCOME")
    await pipeline.sandbox_post("/_sandbox/faults", {})
    ids = {r["invoice_id"]: r["id"] for r in await pipeline.pool.fetch(
        "SELECT invoice_id, id FROM orders")}
    for invoice in (accept, replace):
        await run_cli(pipeline, "orders", "edit-address", str(ids[invoice]),
                      "--street", "99 New Rd")
    retried = await run_cli(pipeline, "orders", "retry", str(ids[accept]), str(ids[replace]))
    assert "2 queued" in retried
    await wait_for_code(pipeline, [accept, replace], "SUNSKY_ADDRESS_DIFFERS")
    shown = await run_cli(pipeline, "orders", "show", str(ids[accept]))
    assert "under this siteNumber, shipping to: " in shown and "99 New Rd" in shown

    accepted = await run_cli(pipeline, "orders", "accept-sunsky-address", str(ids[accept]))
    held = {o["siteNumber"]: o for o in await pipeline.sandbox_get_orders()}
    first = await pipeline.pool.fetchrow("SELECT * FROM orders WHERE id = $1", ids[accept])
    assert first["status"] == "placed" and f"SUNSKY order {first['sunsky_order_number']}" in (
        accepted)
    assert first["address_line1"] == held[first["site_number"]]["deliveryAddress"]["address"]
    assert first["address_line1"] != "99 New Rd"  # where SUNSKY ships, now on record

    old = await pipeline.pool.fetchval("SELECT site_number FROM orders WHERE id = $1",
                                       ids[replace])
    await pipeline.sandbox_post(f"/_sandbox/orders/{held[old]['number']}/advance",
                                {"to": "cancelled", "reason": "re-placed by the shop"})
    assert "queued" in await run_cli(pipeline, "orders", "retry", str(ids[replace]))
    await wait_for_status(pipeline, replace, "placed")
    second = await pipeline.pool.fetchrow("SELECT * FROM orders WHERE id = $1", ids[replace])
    assert second["site_number"] == f"{old}-A2"
    placed = {o["siteNumber"]: o for o in await pipeline.sandbox_get_orders()}
    assert placed[second["site_number"]]["deliveryAddress"]["address"] == "99 New Rd"
    await pipeline.assert_one_sunsky_order_each([accept, replace])
    assert (await pipeline.creates_per_site())[old] == 1  # the cancelled one, sent once
