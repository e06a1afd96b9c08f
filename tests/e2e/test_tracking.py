"""Issue 5 end to end: placed orders follow SUNSKY to Shipped, Delivered or Cancelled.

The invoice-listener, placer and tracker run as real processes against the session's broker and
PostgreSQL and a sandbox over HTTP, started once for this module (its own schema, topics and
groups). The first tracker takes callbacks and never sweeps (a sweep is recorded as just done),
so what moves orders there is callbacks or ``dropship orders refresh``; the last test switches
callbacks off and starts a second tracker that only sweeps.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import secrets
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import pytest_asyncio

from devtools.broker import free_port
from devtools.perfex_events import encode, invoice_event
from devtools.supervisor import dropship_argv
from sandbox import running_sandbox
from services.tracker.reconcile import LAST_SWEEP
from shared.db.migrate import migrate
from shared.db.pool import create_pool
from shared.messaging.topics import ensure_topics
from shared.settings import TOPIC_INVOICE_PAID, Settings
from tests.e2e.conftest import READY_LINE, Pipeline
from tests.fixtures.sandbox import fast_sandbox_config
from tests.fixtures.stack import drop_schema

pytestmark = [pytest.mark.e2e]
DETAILS = "order!getOrderDetails.do"
LIST = "order!getOrderList.do"
_invoices = itertools.count(int(secrets.token_hex(2), 16) * 100)


class Tracking:
    def __init__(self, pipeline: Pipeline, callback_url: str) -> None:
        self.p, self.callback_url = pipeline, callback_url

    async def place(self, count: int) -> dict[str, tuple[int, str]]:
        """Paid invoices in; once all are Processing: invoice id -> (order id, SUNSKY number)."""
        ids = [str(next(_invoices)) for _ in range(count)]
        await self.p.publish_many([(TOPIC_INVOICE_PAID, i, encode(invoice_event("invoice.paid", i)))
                                   for i in ids])
        await self.wait_for({i: "processing" for i in ids})
        await self.p.assert_one_sunsky_order_each(ids)
        rows = await self.p.pool.fetch("SELECT invoice_id, id, sunsky_order_number FROM orders"
                                       " WHERE invoice_id = ANY($1)", ids)
        return {r["invoice_id"]: (r["id"], r["sunsky_order_number"]) for r in rows}

    async def wait_for(self, expected: dict[str, str], timeout: float = 30) -> None:
        async def reached() -> bool:
            statuses = await self.p.statuses()
            return all(statuses.get(i) == s for i, s in expected.items())

        await self.p.eventually(reached, timeout=timeout, what=f"statuses {expected}")

    async def advance(self, number: str, to: str, **extra: str) -> dict[str, Any]:
        body = await self.p.sandbox_post(f"/_sandbox/orders/{number}/advance", {"to": to, **extra})
        return dict(body["order"])

    async def callback(self, event: str, order: Any) -> int:
        async with httpx.AsyncClient() as client:
            body = order if isinstance(order, bytes) else json.dumps(
                {"event": event, "order": order})
            return (await client.post(self.callback_url, content=body)).status_code

    async def row(self, invoice_id: str) -> Any:
        return await self.p.pool.fetchrow("SELECT * FROM orders WHERE invoice_id = $1",
                                          invoice_id)

    async def reasons(self, order_id: int) -> list[str]:
        rows = await self.p.pool.fetch(
            "SELECT reason FROM order_status_history WHERE order_id = $1 ORDER BY id", order_id)
        return [r["reason"] for r in rows]

    async def details_calls(self, number: str) -> int:
        return sum(1 for r in await self.p.sunsky_requests(DETAILS)
                   if r["params"].get("number") == number)


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def trk(stack_settings: Settings, tmp_path_factory: pytest.TempPathFactory
              ) -> AsyncIterator[Tracking]:
    settings = stack_settings.model_copy(update={
        "database_schema": f"{stack_settings.database_schema}_trk",
        "topic_prefix": f"{stack_settings.topic_prefix}trk.",
        "group_prefix": f"{stack_settings.group_prefix}trk", "topic_partitions": 2})
    assert settings.database_url is not None
    port = free_port()
    callback_url = f"http://127.0.0.1:{port}/sunsky/callback"
    # siteNumber de-duplication off: a duplicate createOrder would show (tests/e2e/conftest.py).
    async with running_sandbox(replace(fast_sandbox_config(), dedupe=False)) as sandbox:
        pool = await create_pool(settings.database_url, settings.database_schema)
        await migrate(pool, settings.database_schema)
        await ensure_topics(settings)
        # Recorded as just swept: this tracker follows orders through callbacks only.
        await pool.execute("INSERT INTO app_settings (name, value) VALUES ($1, $2)", LAST_SWEEP,
                           datetime.now(UTC).isoformat())
        env = {"TRACKER_CALLBACK_PORT": str(port), "TRACKER_CALLBACK_BATCH_SECONDS": "0.2",
               "TRACKER_SWEEP_SECONDS": "86400"}
        pipeline = Pipeline(settings, sandbox, pool, tmp_path_factory.mktemp("trk"), env)
        await pipeline.publisher.start()
        try:
            await asyncio.gather(*(pipeline.start(name) for name in
                                   ("invoice-listener", "placer", "tracker")))
            await pipeline.sandbox_post("/_sandbox/callbacks",
                                        {"url": callback_url, "retry_seconds": 0.2})
            yield Tracking(pipeline, callback_url)
        finally:
            pipeline.supervisor.stop_all()
            await pipeline.publisher.stop()
            await pool.close()
            await drop_schema(settings.database_url, settings.database_schema)


async def refresh_cli(trk: Tracking, order_id: int) -> str:
    process = await asyncio.create_subprocess_exec(
        *dropship_argv("orders", "refresh", str(order_id)), env={**os.environ, **trk.p.env},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, out.decode()
    return out.decode()


def by_invoice(records: list[Any]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        found.setdefault(record.key.decode(), []).append(json.loads(record.value))
    return found


async def test_callbacks_move_orders_and_the_outbound_topics_carry_them(trk: Tracking) -> None:
    orders = await trk.place(2)
    (shipped, (ship_id, ship_no)), (cancelled, (_, cancel_no)) = orders.items()
    assert await trk.p.sunsky_requests(DETAILS) == []  # Processing came from createOrder

    await trk.advance(ship_no, "shipped", tracking_number="TRK-1")
    await trk.advance(cancel_no, "cancelled", reason="address undeliverable")
    await trk.wait_for({shipped: "shipped", cancelled: "cancelled"})
    row = await trk.row(shipped)
    assert (row["tracking_number"], row["shipping_method"]) == ("TRK-1", "Postnord")
    assert row["tracking_url"] == "https://t.17track.net/en#nums=TRK-1"
    assert "via callback" in (await trk.reasons(ship_id))[-1]

    await trk.p.sandbox_post(f"/_sandbox/orders/{ship_no}/tracking", {"tracking_number": "TRK-2"})

    async def tracking_updated() -> bool:
        return bool((await trk.row(shipped))["tracking_number"] == "TRK-2")

    await trk.p.eventually(tracking_updated, timeout=20, what="new tracking number")
    await trk.advance(ship_no, "delivered")  # SUNSKY sends no callback for a delivery
    out = await refresh_cli(trk, ship_id)
    assert "Shipped -> Delivered" in out
    await trk.wait_for({shipped: "delivered"})

    ship_msgs = by_invoice(await trk.p.read_topic("order.shipped", expect=2))[shipped]
    assert [(m["tracking_number"], m["is_update"]) for m in ship_msgs] == [
        ("TRK-1", False), ("TRK-2", True)]
    assert ship_msgs[1]["tracking_url"].endswith("TRK-2")
    [cancel_msg] = by_invoice(await trk.p.read_topic("order.cancelled", expect=1))[cancelled]
    assert cancel_msg["reason"] == "address undeliverable"
    delivered_msgs = by_invoice(await trk.p.read_topic("order.delivered", expect=1))
    assert [m["sunsky_order_number"] for m in delivered_msgs[shipped]] == [ship_no]
    deliveries = await trk.p.sandbox_get("/_sandbox/callbacks/deliveries")
    assert {d["status_code"] for d in deliveries} == {200}


async def test_duplicate_stale_and_forged_callbacks_follow_what_sunsky_says(
        trk: Tracking) -> None:
    orders = await trk.place(2)
    (first, (_, first_no)), (second, (second_id, second_no)) = orders.items()

    forged = {"number": first_no, "status": 3, "trackingNumber": "FORGED"}
    assert await trk.callback("order/shipped", forged) == 200
    assert await trk.callback("order/shipped", forged) == 200
    assert await trk.callback("order/shipped", b"{not json") == 400
    assert await trk.callback("order/shipped", {"status": 3}) == 400  # no order number
    # An event we do not know, or a form-encoded body: 200, and verified like any other.
    assert await trk.callback("order/lost", forged) == 200
    queued_at = len(trk.p.log("tracker"))
    assert await trk.callback("", f"event=order%2Fshipped&number={first_no}".encode()) == 200
    await trk.p.eventually(lambda: trk.details_calls(first_no), what="forged callback checked")
    await trk.p.wait_for_log("tracker", f"callbacks verified for {first_no}", after=queued_at)
    assert (await trk.p.statuses())[first] == "processing"
    assert (await trk.row(first))["tracking_number"] is None

    real = await trk.advance(first_no, "shipped")
    await trk.wait_for({first: "shipped"})
    calls = await trk.details_calls(first_no)
    for event in ("order/shipped", "order/shipped", "order/cancelled"):  # re-sent, and forged
        assert await trk.callback(event, real) == 200
    await trk.p.eventually(lambda: _more(trk, first_no, calls), what="duplicates checked")

    # A stale callback that arrives after SUNSKY moved on: the order follows SUNSKY, not it.
    async with httpx.AsyncClient(base_url=trk.p.sandbox.base_url) as client:
        await client.delete("/_sandbox/callbacks")
    stale = await trk.advance(second_no, "shipped")
    await trk.advance(second_no, "delivered")
    await trk.p.sandbox_post("/_sandbox/callbacks", {"url": trk.callback_url,
                                                     "retry_seconds": 0.2})
    assert await trk.callback("order/shipped", stale) == 200
    await trk.wait_for({first: "shipped", second: "delivered"})
    assert "via callback" in (await trk.reasons(second_id))[-1]

    shipped = by_invoice(await trk.p.read_topic("order.shipped", expect=3))
    assert len(shipped[first]) == 1 and second not in shipped


async def _more(trk: Tracking, number: str, before: int) -> bool:
    return await trk.details_calls(number) > before


async def test_a_stopping_tracker_verifies_the_callbacks_waiting_in_its_window(
        trk: Tracking) -> None:
    """Review 12 finding 5: SUNSKY has its 200 and sends no more; the stop must not drop them."""
    async with httpx.AsyncClient(base_url=trk.p.sandbox.base_url) as client:
        await client.delete("/_sandbox/callbacks")  # this test's callback goes to one tracker
    port = free_port()
    await trk.p.start("tracker-window", "tracker", env={
        "TRACKER_CALLBACK_PORT": str(port), "TRACKER_CALLBACK_BATCH_SECONDS": "3600",
        "GROUP_PREFIX": f"{trk.p.settings.group_prefix}window"})
    [(invoice, (_, number))] = (await trk.place(1)).items()
    shipped = await trk.advance(number, "shipped", tracking_number="TRK-STOP")
    async with httpx.AsyncClient() as client:
        answer = await client.post(f"http://127.0.0.1:{port}/sunsky/callback",
                                   json={"event": "order/shipped", "order": shipped})
    assert answer.status_code == 200
    await trk.p.wait_for_log("tracker-window", f"order {number}: queued for verification")
    assert (await trk.p.statuses())[invoice] == "processing"  # waiting for its 1 h window

    await asyncio.to_thread(trk.p.supervisor.stop, "tracker-window")
    assert trk.p.supervisor.children["tracker-window"].process.returncode == 0
    assert f"callbacks verified for {number}" in trk.p.log("tracker-window")
    assert (await trk.p.statuses())[invoice] == "shipped"
    assert (await trk.row(invoice))["tracking_number"] == "TRK-STOP"


async def test_with_callbacks_off_the_sweep_alone_finishes_every_order(trk: Tracking) -> None:
    async with httpx.AsyncClient(base_url=trk.p.sandbox.base_url) as client:
        await client.delete("/_sandbox/callbacks")
    env = {"TRACKER_CALLBACK_PORT": "0", "TRACKER_SWEEP_SECONDS": "1",
           "GROUP_PREFIX": f"{trk.p.settings.group_prefix}sweep"}
    trk.p.supervisor.start("tracker-sweep", dropship_argv("worker", "tracker"), env)
    orders = await trk.place(3)
    (a, (a_id, a_no)), (b, (_, b_no)), (c, (c_id, c_no)) = orders.items()
    await trk.advance(a_no, "shipped")
    await trk.advance(a_no, "delivered")
    await trk.advance(b_no, "shipped")
    await trk.advance(b_no, "delivered")
    await trk.advance(c_no, "cancelled", reason="out of stock")
    await trk.p.wait_for_log("tracker-sweep", READY_LINE)
    await trk.wait_for({a: "delivered", b: "delivered", c: "cancelled"}, timeout=40)

    assert "via sweep" in (await trk.reasons(a_id))[-1]
    assert (await trk.reasons(c_id))[-1].endswith("out of stock")
    assert [await trk.details_calls(n) for n in (a_no, b_no, c_no)] == [0, 0, 0]
    cancelled = by_invoice(await trk.p.read_topic("order.cancelled", expect=2))
    assert [m["reason"] for m in cancelled[c]] == ["out of stock"]
