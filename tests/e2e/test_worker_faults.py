"""Workers as processes meeting faults (issue 9, sections 1 and 2): the error policy's fates
through a real agent, the outbox relay against the real broker, and secrets in worker logs.

PostgreSQL is made unreachable for one worker by a TCP proxy the test cuts and restores; a
handler "bug" is a CHECK constraint the test adds, so one chosen message raises an unexpected
database error inside the handler; the relay is stopped between publishing and marking a row
sent by a trigger that waits for a lock the test holds.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import time
from collections import Counter
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from devtools.broker import EmbeddedBroker, free_port
from devtools.perfex_events import encode, invoice_event
from shared.settings import TOPIC_INVOICE_PAID
from tests.e2e.test_pipeline import run_cli
from tests.fixtures.proxy import TcpProxy, tcp_proxy

pytestmark = [pytest.mark.e2e]
CREATE = "order!createOrder.do"
DLQ = TOPIC_INVOICE_PAID + ".dlq"


def with_port(url: str, port: int) -> str:
    parts = urlsplit(url)
    credentials = parts.netloc.rpartition("@")[0]
    netloc = f"{credentials}@127.0.0.1:{port}" if credentials else f"127.0.0.1:{port}"
    return urlunsplit(parts._replace(netloc=netloc))


def with_password(url: str) -> tuple[str, str]:
    """``url`` with a password in it (a random one unless it has one): (url, password)."""
    parts = urlsplit(url)
    if parts.password:
        return url, parts.password
    password = secrets.token_hex(12)
    user, host = parts.username or "postgres", parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}:{password}@{host}")), password


async def dlq_headers(pipeline) -> list[dict[str, str]]:
    records = await pipeline.read_topic(DLQ, expect=1, timeout=5)
    return [{k: v.decode() for k, v in r.headers} for r in records]


async def test_database_down_is_retried_in_place_and_a_handler_bug_is_dead_lettered(
        pipeline_factory, stack_settings) -> None:
    direct = stack_settings.database_url
    target = urlsplit(direct)
    with tcp_proxy(target.hostname or "127.0.0.1", target.port or 5432) as proxy:
        # the worker reaches PostgreSQL through the proxy; the test's own pool does not
        pipeline = await pipeline_factory(partitions=1,
                                          DATABASE_URL=with_port(direct, proxy.port))
        await pipeline.start("invoice-listener")
        proxy.cut()
        await pipeline.publish(TOPIC_INVOICE_PAID, "91001",
                               encode(invoice_event("invoice.paid", 91001)))
        [offset] = (await pipeline.last_offsets(TOPIC_INVOICE_PAID)).values()
        where = f"{pipeline.settings.topic(TOPIC_INVOICE_PAID)}[0]@{offset - 1}"
        await pipeline.wait_for_log("invoice-listener", f"retrying {where}")
        await pipeline.wait_for_log("invoice-listener", "(attempt 2)")
        # retried in place: not acked (the group has not committed past it), not dead-lettered
        committed = await pipeline.committed("invoice-listener", TOPIC_INVOICE_PAID, [0])
        assert committed[0] < offset
        assert "dead-lettering" not in pipeline.log("invoice-listener")
        proxy.restore()

        async def placed_in_db() -> bool:
            return "91001" in await pipeline.statuses()

        await pipeline.eventually(placed_in_db, what="processed once PostgreSQL is back")
        await pipeline.consumed("invoice-listener", TOPIC_INVOICE_PAID)
        assert await pipeline.last_offsets(DLQ) == {}

        # a bug: an unexpected error inside the handler, for this one message only
        await pipeline.pool.execute(
            "ALTER TABLE orders ADD CONSTRAINT e2e_bug CHECK (invoice_id <> '91002')")
        await pipeline.publish_many([
            (TOPIC_INVOICE_PAID, "91002", encode(invoice_event("invoice.paid", 91002))),
            (TOPIC_INVOICE_PAID, "91003", encode(invoice_event("invoice.paid", 91003)))])

        async def next_one_done() -> bool:
            return "91003" in await pipeline.statuses()

        await pipeline.eventually(next_one_done, what="the agent goes on after the bug")
    [headers] = await dlq_headers(pipeline)
    assert headers["dlq.reason"] == "handler_error"
    assert "CheckViolationError" in headers["dlq.error"]
    assert headers["dlq.original.topic"] == pipeline.settings.topic(TOPIC_INVOICE_PAID)
    assert "91002" not in await pipeline.statuses()


async def test_a_relay_killed_between_publish_and_mark_republishes_and_it_is_absorbed(
        pipeline_factory) -> None:
    pipeline = await pipeline_factory(partitions=1)
    lock_key = secrets.randbits(62)
    await pipeline.pool.execute(f"""
        CREATE FUNCTION e2e_hold_mark() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN PERFORM pg_advisory_xact_lock_shared({lock_key}); RETURN NEW; END $$;
        CREATE TRIGGER e2e_hold_mark BEFORE UPDATE OF published_at ON outbox
            FOR EACH ROW EXECUTE FUNCTION e2e_hold_mark();""")
    holder = await asyncpg.connect(pipeline.settings.database_url)
    try:
        await holder.execute("SELECT pg_advisory_lock($1)", lock_key)
        await pipeline.start("invoice-listener")
        await pipeline.publish(TOPIC_INVOICE_PAID, "92001",
                               encode(invoice_event("invoice.paid", 92001)))
        # published: order.ready is on the broker, and the relay now waits to mark it sent
        first = await pipeline.read_topic("order.ready", expect=1)
        assert len(first) == 1
        pipeline.supervisor.kill("invoice-listener")
        await holder.execute("SELECT pg_advisory_unlock($1)", lock_key)
    finally:
        await holder.close()
    await pipeline.pool.execute("DROP TRIGGER e2e_hold_mark ON outbox")
    assert await pipeline.pool.fetchval(
        "SELECT count(*) FROM outbox WHERE published_at IS NULL") == 1  # not marked: resent
    await pipeline.start("invoice-listener-again", "invoice-listener")
    await pipeline.start("placer")

    async def placed() -> bool:
        return (await pipeline.statuses()).get("92001") == "placed"

    await pipeline.eventually(placed, what="placed after the duplicate order.ready")
    await pipeline.consumed("placer", "order.ready")
    ready = await pipeline.read_topic("order.ready", expect=2)
    ids = Counter(dict(r.headers)["message_id"] for r in ready)
    assert list(ids.values()) == [2]  # the same message twice: the duplicate happened
    site = await pipeline.pool.fetchval("SELECT site_number FROM orders WHERE invoice_id='92001'")
    creates = [r for r in await pipeline.sunsky_requests(CREATE)
               if r["params"]["siteNumber"] == site]
    assert len(creates) == 1  # and the placer absorbed it: one createOrder


async def test_worker_logs_never_show_the_secret_a_signature_or_the_database_password(
        pipeline_factory, stack_settings) -> None:
    secret = secrets.token_hex(16)
    signature = secrets.token_hex(16)  # 32 hex characters, shaped like a SUNSKY signature
    port = free_port()
    url, password = with_password(stack_settings.database_url)
    pipeline = await pipeline_factory(partitions=1, SUNSKY_API_SECRET=secret, DATABASE_URL=url,
                                      TRACKER_CALLBACK_PORT=str(port))
    await pipeline.start("tracker")
    import httpx

    body = f"note={secret}&signature={signature}&secret=hunter2hunter2&pw={password}"
    async with httpx.AsyncClient() as http:
        answer = await http.post(f"http://127.0.0.1:{port}/sunsky/callback", content=body)
    assert answer.status_code == 400
    await pipeline.wait_for_log("tracker", "without an order number rejected")
    output = pipeline.log("tracker")  # everything the process wrote, stdout and stderr
    for leaked in (secret, signature, "hunter2hunter2", password):
        assert leaked not in output
    assert "signature=***" in output


@pytest.fixture
def proxied_broker(tmp_path):
    """A broker of this test's own, reached only through a proxy the test can cut: clients
    lose it without it losing its topics and messages."""
    backend = free_port()
    proxy = TcpProxy("127.0.0.1", backend)
    proxy.restore()
    broker = EmbeddedBroker(port=backend, advertised_port=proxy.port,
                            log_path=tmp_path / "tansu.log")
    broker.start()
    try:
        yield proxy
    finally:
        broker.stop()
        proxy.close()


async def terminate(pipeline, names: list[str], limit: float = 20) -> dict[str, float]:
    """SIGTERM these workers at once; how long each took to exit by itself."""
    children = {name: pipeline.supervisor.children[name] for name in names}
    started = time.monotonic()
    for child in children.values():
        os.killpg(child.process.pid, signal.SIGTERM)
    took: dict[str, float] = {}
    while len(took) < len(children) and time.monotonic() - started < limit:
        for name, child in children.items():
            if name not in took and child.process.poll() is not None:
                took[name] = time.monotonic() - started
        await asyncio.sleep(0.1)
    for name, child in children.items():
        assert child.process.poll() is not None, f"{name} still runs {limit}s after SIGTERM"
        assert child.process.returncode != -signal.SIGKILL
    return took


async def test_with_the_broker_unreachable_a_publish_fails_sigterm_is_prompt_nothing_lost(
        proxied_broker, pipeline_factory) -> None:  # the broker goes after the workers
    proxy = proxied_broker
    pipeline = await pipeline_factory(partitions=1, bootstrap=proxy.address,
                                      SWEEP_INTERVAL_SECONDS="1", STALE_READY_SECONDS="1")
    await run_cli(pipeline, "settings", "auto-place", "off")
    await asyncio.gather(pipeline.start("invoice-listener"), pipeline.start("placer"))
    await pipeline.publish(TOPIC_INVOICE_PAID, "93001", encode(invoice_event("invoice.paid",
                                                                              93001)))

    async def ready() -> bool:
        return (await pipeline.statuses()).get("93001") == "ready_to_place"

    await pipeline.eventually(ready, what="waiting in Ready to Place")
    proxy.cut()
    await run_cli(pipeline, "settings", "auto-place", "on")  # the sweep queues order.ready now
    await pipeline.wait_for_log("placer", "sweep re-published 1")
    await pipeline.wait_for_log("placer", "outbox relay: publish failed, will retry")
    unsent = "SELECT count(*) FROM outbox WHERE published_at IS NULL AND topic = $1"
    topic = pipeline.settings.topic("order.ready")
    queued = await pipeline.pool.fetchval(unsent, topic)
    assert queued >= 1  # (the sweep queues it again each second it stays Ready to Place)

    took = await terminate(pipeline, ["invoice-listener", "placer"])
    assert max(took.values()) < 15, took
    assert await pipeline.pool.fetchval(unsent, topic) >= queued  # not lost, not marked sent

    proxy.restore()
    await pipeline.start("placer-again", "placer")

    async def placed() -> bool:
        return (await pipeline.statuses()).get("93001") == "placed"

    await pipeline.eventually(placed, what="placed once the broker is back")
    assert await pipeline.pool.fetchval(unsent, topic) == 0
    site = await pipeline.pool.fetchval("SELECT site_number FROM orders WHERE invoice_id='93001'")
    assert [r["params"]["siteNumber"] for r in await pipeline.sunsky_requests(CREATE)] == [site]
