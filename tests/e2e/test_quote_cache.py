"""Issue 12: a cached freight quote SUNSKY no longer honours is re-quoted once, and the order is
still placed exactly once.

The listener and the placer run as processes against the session's broker and PostgreSQL and
the sandbox over HTTP, de-duplication off; what SUNSKY received is read from the sandbox's
request log (every createOrder and its outcome), never from our database or the sandbox's
refusal of a reused siteNumber.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from devtools.perfex_events import encode, invoice_event
from shared.settings import TOPIC_INVOICE_PAID
from tests.e2e.conftest import CREATE, Pipeline
from tests.e2e.test_one_order import wait_for_code, wait_for_status
from tests.e2e.test_pipeline import run_cli

pytestmark = [pytest.mark.e2e]

QUOTE = "order!getPricesAndFreights.do"
POSTNORD, USPS = 246, 25  # the sandbox's cheapest and next cheapest ways to the US


async def placed(pipeline: Pipeline, invoice: int) -> None:
    await pipeline.publish(TOPIC_INVOICE_PAID, str(invoice),
                           encode(invoice_event("invoice.paid", invoice)))
    await wait_for_status(pipeline, str(invoice), "placed")


async def creates_for(pipeline: Pipeline, invoice: int) -> list[str]:
    """The outcome of every createOrder SUNSKY received for this invoice's siteNumber."""
    site = await pipeline.pool.fetchval("SELECT site_number FROM orders WHERE invoice_id = $1",
                                        str(invoice))
    return [r["outcome"] for r in await pipeline.sunsky_requests(CREATE)
            if r["params"].get("siteNumber") == site]


async def test_a_shipping_way_withdrawn_after_the_quote_is_requoted_and_placed_once(
        pipeline_factory) -> None:
    pipeline = await pipeline_factory(partitions=1)
    await pipeline.start("invoice-listener")
    await pipeline.start("placer")
    await placed(pipeline, 72001)  # quoted: Postnord, now in the cache
    assert len(await pipeline.sunsky_requests(QUOTE)) == 1

    await pipeline.sandbox_post("/_sandbox/catalogue", {"withdrawn_ways": [POSTNORD]})
    await placed(pipeline, 72002)  # same cart, same place: the cached quote first
    assert await creates_for(pipeline, 72002) == ["error", "success"]
    refused = [r for r in await pipeline.sunsky_requests(CREATE) if r["outcome"] == "error"]
    assert refused[0]["messages"] == ["SHIPPING_WAY_NOT_AVAILABLE"]
    assert refused[0]["params"]["deliveryAddress.shippingWayId"] == str(POSTNORD)
    assert len(await pipeline.sunsky_requests(QUOTE)) == 2  # the one fresh re-quote
    row = await pipeline.pool.fetchrow(
        "SELECT shipping_way_id, attempts FROM orders WHERE invoice_id = '72002'")
    assert (row["shipping_way_id"], row["attempts"]) == (USPS, 2)
    await pipeline.assert_one_sunsky_order_each([72001, 72002])
    assert "createOrder refused a cached quote (SHIPPING_WAY_NOT_AVAILABLE)" in pipeline.log(
        "placer")


async def test_a_price_rise_past_the_balance_is_requoted_and_placed_once_after_a_top_up(
        pipeline_factory) -> None:
    pipeline = await pipeline_factory(partitions=1)
    await pipeline.start("invoice-listener")
    await pipeline.start("placer")
    await placed(pipeline, 72101)  # 2 x S-CAB-0042, quoted and cached

    await pipeline.sandbox_post("/_sandbox/catalogue", {"prices": {"S-CAB-0042": "30.00"}})
    await pipeline.sandbox_post("/_sandbox/balance", {"set": "20.00"})
    await pipeline.publish(TOPIC_INVOICE_PAID, "72102",
                           encode(invoice_event("invoice.paid", 72102)))
    await wait_for_code(pipeline, ["72102"], "BALANCE_NOT_ENOUGH")
    # SUNSKY refused the cached quote's order; the fresh quote showed the balance short, so
    # nothing more was sent, and the order records what SUNSKY would charge now
    assert await creates_for(pipeline, 72102) == ["error"]
    assert len(await pipeline.sunsky_requests(QUOTE)) == 2
    row = await pipeline.pool.fetchrow(
        "SELECT id, quoted_total, placing_started_at FROM orders WHERE invoice_id = '72102'")
    assert row["quoted_total"] == Decimal("62.14") and row["placing_started_at"] is None

    await pipeline.sandbox_post("/_sandbox/balance", {"set": "100.00"})

    async def retried_until_placed() -> bool:
        # a retry within 5 s of the placer's last balance read still sees the old balance
        # (services/placer/caches.py BalanceTracker): the operator retries again
        status = (await pipeline.statuses()).get("72102")
        if status == "api_failed":
            await run_cli(pipeline, "orders", "retry", str(row["id"]))
        return status == "placed"

    await pipeline.eventually(retried_until_placed, timeout=30, what="72102 placed")
    assert await creates_for(pipeline, 72102) == ["error", "success"]
    await pipeline.assert_one_sunsky_order_each([72101, 72102])
