"""Issue 4 end to end: SUNSKY failing in ordinary ways, the broker losing everything, admins
retrying and replaying; never an order lost or placed twice."""

from __future__ import annotations

import asyncio
import random
from collections import Counter

import pytest

from devtools.perfex_events import address, encode, invoice_event, random_valid_event
from shared.settings import TOPIC_INVOICE_PAID
from tests.e2e.test_pipeline import placed_count, run_cli

pytestmark = [pytest.mark.e2e]
CREATE = "order!createOrder.do"
FAST_RETRIES = {"RETRY_FIRST_DELAY_SECONDS": "0.3", "RETRY_MAX_DELAY_SECONDS": "2",
                "RETRY_MAX_ATTEMPTS": "30", "RETRY_SCAN_SECONDS": "0.3",
                "PLACING_SETTLE_SECONDS": "2", "PLACING_ATTEMPT_DEADLINE_SECONDS": "1",
                "SUNSKY_TIMEOUT_SECONDS": "3",
                "SUNSKY_READ_RETRIES": "1"}


async def start_all(pipeline, *names: str) -> None:
    await asyncio.gather(*(pipeline.start(name) for name in names))


async def publish_paid(pipeline, invoices: list[int], seed: int = 1) -> None:
    rng = random.Random(seed)
    await pipeline.publish_many([(TOPIC_INVOICE_PAID, str(i),
                                  encode(random_valid_event("invoice.paid", i, rng)))
                                 for i in invoices])


async def test_throttling_and_5xx_on_a_fifth_of_calls(pipeline_factory) -> None:
    pipeline = await pipeline_factory(partitions=4, **FAST_RETRIES)
    await start_all(pipeline, "invoice-listener", "placer", "retrier")
    await pipeline.sandbox_post("/_sandbox/faults",
                                {"error_rate": 0.2, "throttle_per_second": 25, "seed": 11})
    invoices = list(range(60_000, 60_040))
    await publish_paid(pipeline, invoices)
    await pipeline.eventually(lambda: placed_count(pipeline, len(invoices)), timeout=120,
                              what="all placed despite faults")
    await pipeline.assert_one_sunsky_order_each(invoices)
    attempts = await pipeline.pool.fetch("SELECT attempts FROM orders")
    assert max(r["attempts"] for r in attempts) > 1, "faults should have forced retries"
    retried = await pipeline.pool.fetchval(
        "SELECT count(*) FROM order_status_history WHERE actor = 'retrier'")
    assert retried > 0


async def test_dropped_create_order_response_is_found_not_placed_again(
        pipeline_factory) -> None:
    pipeline = await pipeline_factory(partitions=2, **FAST_RETRIES)
    await start_all(pipeline, "invoice-listener", "placer", "retrier")
    await pipeline.sandbox_post("/_sandbox/faults",
                                {"drop_response_rate": 1.0, "timeout_hold_seconds": 0.5})
    invoices = [61_001, 61_002, 61_003]
    await publish_paid(pipeline, invoices)
    await pipeline.eventually(lambda: placed_count(pipeline, len(invoices)), timeout=60,
                              what="placed after dropped responses")
    await pipeline.assert_one_sunsky_order_each(invoices)
    creates = await pipeline.sunsky_requests(CREATE)
    assert {r["outcome"] for r in creates} == {"fault:drop_response"}


async def test_orders_waiting_for_money_are_placed_after_a_top_up(pipeline_factory) -> None:
    pipeline = await pipeline_factory(partitions=2, BALANCE_CHECK_SECONDS="1",
                                      BALANCE_CACHE_SECONDS="0", **FAST_RETRIES)
    await pipeline.sandbox_post("/_sandbox/balance", {"set": "60.00"})
    await start_all(pipeline, "invoice-listener", "placer", "retrier")
    invoices = list(range(62_000, 62_010))
    await publish_paid(pipeline, invoices, seed=5)

    async def settled() -> Counter[str]:
        statuses = Counter((await pipeline.statuses()).values())
        done = statuses["placed"] + statuses["api_failed"] == len(invoices)
        return statuses if done and statuses["api_failed"] else Counter()

    before = await pipeline.eventually(settled, what="some placed, some waiting for money")
    waiting = await pipeline.pool.fetch(
        "SELECT last_error_code, last_error_hint FROM orders WHERE status = 'api_failed'")
    assert {r["last_error_code"] for r in waiting} == {"BALANCE_NOT_ENOUGH"}
    assert all("Top up SUNSKY balance: needs" in r["last_error_hint"] for r in waiting)
    balance = (await pipeline.sandbox_get("/_sandbox/balance"))["balance"]
    assert float(balance) >= 0 and before["placed"] >= 1
    await pipeline.sandbox_post("/_sandbox/balance", {"add": "1000.00"})
    await pipeline.eventually(lambda: placed_count(pipeline, len(invoices)), timeout=60,
                              what="waiting orders placed after the top-up")
    await pipeline.assert_one_sunsky_order_each(invoices)


async def test_admin_fixes_a_bad_address_then_retries(pipeline_factory) -> None:
    pipeline = await pipeline_factory(partitions=2)
    await start_all(pipeline, "invoice-listener", "placer")
    await pipeline.publish(TOPIC_INVOICE_PAID, "63001", encode(invoice_event(
        "invoice.paid", 63001, shipping=address(zip_code=""))))

    async def failed() -> bool:
        return (await pipeline.statuses()).get("63001") == "api_failed"

    await pipeline.eventually(failed, what="API Failed for the address")
    order_id = await pipeline.pool.fetchval("SELECT id FROM orders WHERE invoice_id = '63001'")
    refused = await run_cli(pipeline, "orders", "retry", str(order_id))
    assert "refused, ADDRESS_INCOMPLETE" in refused
    await run_cli(pipeline, "orders", "edit-address", str(order_id), "--postcode", "60601")
    assert "queued for placement" in await run_cli(pipeline, "orders", "retry", str(order_id))

    async def placed() -> bool:
        return (await pipeline.statuses()).get("63001") == "placed"

    await pipeline.eventually(placed, what="placed after the fix")
    again = await run_cli(pipeline, "orders", "retry", str(order_id))
    assert "skipped, it is Placed" in again
    await pipeline.consumed("placer", "order.ready")  # every order.ready handled, none pending
    assert len(await pipeline.sunsky_requests(CREATE)) == 1


async def test_broker_loses_everything_mid_run(pipeline_factory, embedded_broker) -> None:
    if embedded_broker is None:
        pytest.skip("needs the embedded broker to restart it (KAFKA_BOOTSTRAP_SERVERS is set)")
    pipeline = await pipeline_factory(
        partitions=4, SWEEP_INTERVAL_SECONDS="1", STALE_READY_SECONDS="3",
        STUCK_PLACING_SECONDS="5", TOPIC_CHECK_SECONDS="2", **FAST_RETRIES)
    await start_all(pipeline, "invoice-listener", "placer", "retrier")
    await pipeline.sandbox_post("/_sandbox/faults",
                                {"latency_ms": 40, "latency_paths": [CREATE]})
    invoices = list(range(64_000, 64_200))
    await publish_paid(pipeline, invoices)

    async def all_known_some_placed() -> bool:
        statuses = await pipeline.statuses()
        return len(statuses) == len(invoices) and 0 < Counter(statuses.values())["placed"]

    await pipeline.eventually(all_known_some_placed, timeout=90, what="mid-run")
    await asyncio.to_thread(embedded_broker.restart)  # no person re-creates the topics
    await pipeline.sandbox_post("/_sandbox/faults", {})
    await pipeline.eventually(lambda: placed_count(pipeline, len(invoices)), timeout=150,
                              what="every order placed after the broker lost its data")
    await pipeline.assert_one_sunsky_order_each(invoices)


async def test_replaying_failed_orders_twice_places_nothing_twice(pipeline_factory) -> None:
    pipeline = await pipeline_factory(partitions=2, BALANCE_CACHE_SECONDS="0")
    await pipeline.sandbox_post("/_sandbox/balance", {"set": "0.00"})
    await start_all(pipeline, "invoice-listener", "placer")  # no retrier: a person replays
    invoices = [65_001, 65_002, 65_003]
    await publish_paid(pipeline, invoices)

    async def all_failed() -> bool:
        statuses = await pipeline.statuses()
        return len(statuses) == 3 and set(statuses.values()) == {"api_failed"}

    await pipeline.eventually(all_failed, what="all waiting for money")
    await pipeline.sandbox_post("/_sandbox/balance", {"set": "500.00"})
    queued = await pipeline.pool.fetchval("SELECT count(*) FROM outbox")
    dry = await run_cli(pipeline, "replay", "--topic", "order.api_failed", "--dry-run")
    assert "replayed 3" in dry
    # the dry run has finished: it queued nothing that could reach the placer later
    assert await pipeline.pool.fetchval("SELECT count(*) FROM outbox") == queued
    assert set((await pipeline.statuses()).values()) == {"api_failed"}
    assert await pipeline.sunsky_requests(CREATE) == []

    first = await run_cli(pipeline, "replay", "--topic", "order.api_failed")
    assert "replayed 3" in first
    await pipeline.eventually(lambda: placed_count(pipeline, 3), what="replayed orders placed")
    second = await run_cli(pipeline, "replay", "--topic", "order.api_failed")
    assert "replayed 0" in second and "3 already placed" in second
    await pipeline.consumed("placer", "order.ready")
    assert len(await pipeline.sunsky_requests(CREATE)) == 3
    await pipeline.assert_one_sunsky_order_each(invoices)
    runs = await pipeline.pool.fetch("SELECT dry_run, replayed FROM replays ORDER BY id")
    assert [(r["dry_run"], r["replayed"]) for r in runs] == [(True, 3), (False, 3), (False, 0)]


async def test_dead_letter_replay_counts_cycles_and_stops_at_the_cap(pipeline_factory) -> None:
    pipeline = await pipeline_factory(partitions=1, REPLAY_MAX_CYCLES="2")
    await start_all(pipeline, "invoice-listener")
    await pipeline.publish(TOPIC_INVOICE_PAID, "bad", b"{not json")
    dlq = TOPIC_INVOICE_PAID + ".dlq"
    await pipeline.read_topic(dlq, expect=1)
    # Each replay sends every DLQ record back to invoice.paid, where it fails again and comes
    # back one cycle higher; a record already at the cap is refused instead.
    expected = [("replayed 1", "refused 0", 2), ("replayed 2", "refused 0", 4),
                ("replayed 3", "refused 1", 7)]
    for replayed, refused, total in expected:
        out = await run_cli(pipeline, "replay", "--topic", dlq)
        assert replayed in out and refused in out, out
        records = await pipeline.read_topic(dlq, expect=total)
        assert len(records) == total
    cycles = sorted(int(dict(r.headers).get("replay.cycle", b"0")) for r in records)
    assert cycles == [0, 1, 1, 1, 2, 2, 2]  # never past REPLAY_MAX_CYCLES
    assert all(dict(r.headers)["dlq.reason"] == b"invalid_json" for r in records)
