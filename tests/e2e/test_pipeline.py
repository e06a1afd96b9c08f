"""Issue 3 end to end: Perfex events in, exactly one SUNSKY order per valid paid invoice out.

Services run as real processes (``dropship worker ...``) against the session's broker and
PostgreSQL and the sandbox over HTTP; nothing is mocked.
"""

from __future__ import annotations

import asyncio
import random
import sys

import pytest

from devtools.perfex_events import (
    BROKEN_PAYLOADS,
    address,
    encode,
    invoice_event,
    item,
    random_valid_event,
)
from shared.settings import TOPIC_INVOICE_CREATED, TOPIC_INVOICE_PAID

pytestmark = [pytest.mark.e2e]
CREATE = "order!createOrder.do"


async def placed_count(pipeline, expected: int) -> bool:
    statuses = await pipeline.statuses()
    return sum(1 for s in statuses.values() if s == "placed") >= expected


async def test_hundreds_of_paid_invoices_duplicates_late_created_and_broken(
        pipeline_factory) -> None:
    pipeline = await pipeline_factory(partitions=4)
    await asyncio.gather(pipeline.start("invoice-listener"), pipeline.start("placer"))
    rng = random.Random(7)
    valid = list(range(10_000, 10_200))
    records: list[tuple[str, str | None, bytes]] = []
    for invoice_id in valid:
        paid = encode(random_valid_event("invoice.paid", invoice_id, rng))
        records += [(TOPIC_INVOICE_PAID, str(invoice_id), paid)] * 2  # every event twice
    late_created = valid[::7]
    records += [(TOPIC_INVOICE_CREATED, str(i),
                 encode(random_valid_event("invoice.created", i, rng))) for i in late_created]
    bad_address = encode(invoice_event("invoice.paid", 20_001, shipping=address(city="")))
    no_sku = encode(invoice_event("invoice.paid", 20_002, items=[item(1, None)]))
    records += [(TOPIC_INVOICE_PAID, "20001", bad_address), (TOPIC_INVOICE_PAID, "20002", no_sku)]
    records += [(TOPIC_INVOICE_PAID, f"broken-{n}", raw) for n, raw in BROKEN_PAYLOADS]
    await pipeline.publish_many(records)

    await pipeline.eventually(lambda: placed_count(pipeline, len(valid)), timeout=120,
                              what="every valid invoice placed")
    await pipeline.assert_one_sunsky_order_each(valid)
    assert len(await pipeline.sunsky_requests(CREATE)) == len(valid)  # not one more

    statuses = await pipeline.statuses()
    assert {statuses[str(i)] for i in valid} == {"placed"}
    assert statuses["20001"] == "api_failed" and "20002" not in statuses
    ignored = await pipeline.pool.fetchval(
        "SELECT reason FROM ignored_invoices WHERE invoice_id = '20002'")
    assert "sunsky_sku" in ignored
    error = await pipeline.pool.fetchval(
        "SELECT last_error_code FROM orders WHERE invoice_id = '20001'")
    assert error == "ADDRESS_INCOMPLETE"

    dead = await pipeline.read_topic(TOPIC_INVOICE_PAID + ".dlq", expect=len(BROKEN_PAYLOADS))
    assert sorted(r.value for r in dead) == sorted(raw for _, raw in BROKEN_PAYLOADS)
    for record in dead:
        headers = {k: v.decode() for k, v in record.headers}
        assert headers["dlq.reason"] in {"invalid_json", "schema_violation"}
        assert headers["dlq.original.topic"] == pipeline.settings.topic(TOPIC_INVOICE_PAID)
        assert headers["dlq.error"] and headers["dlq.original.offset"].isdigit()

    placed_msgs = await pipeline.read_topic("order.placed", expect=len(valid))
    assert len({r.key for r in placed_msgs}) == len(valid)


async def test_placer_killed_mid_create_order_still_places_exactly_once(
        pipeline_factory) -> None:
    pipeline = await pipeline_factory(partitions=2, PLACING_SETTLE_SECONDS="4",
                                      PLACING_ATTEMPT_DEADLINE_SECONDS="3",
                                      SUNSKY_TIMEOUT_SECONDS="10")
    await asyncio.gather(pipeline.start("invoice-listener"), pipeline.start("placer"))
    await pipeline.sandbox_post("/_sandbox/faults",
                                {"latency_ms": 2500, "latency_paths": [CREATE]})
    await pipeline.publish(TOPIC_INVOICE_PAID, "30001",
                           encode(invoice_event("invoice.paid", 30001)))

    async def placing() -> bool:
        return (await pipeline.statuses()).get("30001") == "placing"

    await pipeline.eventually(placing, timeout=60, what="intent recorded")
    await pipeline.eventually(lambda: pipeline.sunsky_requests(CREATE),
                              what="createOrder in flight at the sandbox")
    pipeline.supervisor.kill("placer")
    await pipeline.sandbox_post("/_sandbox/faults", {})
    await pipeline.start("placer-restarted", "placer")

    async def placed() -> bool:
        return (await pipeline.statuses()).get("30001") == "placed"

    await pipeline.eventually(placed, timeout=60, what="placed after restart")
    await pipeline.assert_one_sunsky_order_each([30001])


def latest_assignment(log: str, topic: str) -> set[str]:
    lines = [line for line in log.splitlines() if "assigned partitions:" in line]
    return {p for p in lines[-1].split("assigned partitions:")[1].split() if p.startswith(topic)}


async def test_two_placers_split_partitions_and_never_duplicate(pipeline_factory) -> None:
    pipeline = await pipeline_factory(partitions=4)
    await pipeline.start("invoice-listener")
    await pipeline.start("placer-a", "placer")
    before = len(pipeline.log("placer-a"))
    await pipeline.start("placer-b", "placer")
    await pipeline.wait_for_log("placer-a", "assigned partitions:", after=before)
    topic = pipeline.settings.topic("order.ready")
    a = latest_assignment(pipeline.log("placer-a"), topic)
    b = latest_assignment(pipeline.log("placer-b"), topic)
    assert a and b and not (a & b) and len(a | b) == 4

    rng = random.Random(3)
    invoices = list(range(40_000, 40_060))
    await pipeline.publish_many([(TOPIC_INVOICE_PAID, str(i),
                                  encode(random_valid_event("invoice.paid", i, rng)))
                                 for i in invoices])
    await pipeline.eventually(lambda: placed_count(pipeline, len(invoices)), timeout=90,
                              what="all placed by two placers")
    await pipeline.assert_one_sunsky_order_each(invoices)
    assert len(await pipeline.sunsky_requests(CREATE)) == len(invoices)
    assert "placed: SUNSKY" in pipeline.log("placer-a")
    assert "placed: SUNSKY" in pipeline.log("placer-b")


async def test_auto_place_off_waits_for_an_admin(pipeline_factory) -> None:
    pipeline = await pipeline_factory(partitions=2)
    await run_cli(pipeline, "settings", "auto-place", "off")
    await asyncio.gather(pipeline.start("invoice-listener"), pipeline.start("placer"))
    await pipeline.publish_many([(TOPIC_INVOICE_PAID, str(i),
                                  encode(invoice_event("invoice.paid", i)))
                                 for i in (50001, 50002)])

    async def both_ready() -> bool:
        return set((await pipeline.statuses()).values()) == {"ready_to_place"} and len(
            await pipeline.statuses()) == 2

    await pipeline.eventually(both_ready, what="orders waiting in Ready to Place")
    await pipeline.consumed("invoice-listener", "invoice.paid")
    assert await pipeline.pool.fetchval(
        "SELECT count(*) FROM outbox WHERE topic = $1",
        pipeline.settings.topic("order.ready")) == 0  # the placer's only way in
    assert await pipeline.sunsky_requests(CREATE) == []
    order_id = await pipeline.pool.fetchval("SELECT id FROM orders WHERE invoice_id='50001'")
    output = await run_cli(pipeline, "orders", "place", str(order_id))
    assert "queued for placement" in output

    async def first_placed() -> bool:
        return (await pipeline.statuses()).get("50001") == "placed"

    await pipeline.eventually(first_placed, what="manually placed order")
    assert (await pipeline.statuses())["50002"] == "ready_to_place"
    assert len(await pipeline.sunsky_requests(CREATE)) == 1


async def run_cli(pipeline, *args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cli.main", *args, env={**_env(), **pipeline.env},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await process.communicate()
    assert process.returncode == 0, out.decode()
    return out.decode()


def _env() -> dict[str, str]:
    import os

    return dict(os.environ)
