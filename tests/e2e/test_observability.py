"""Issue 12 section 4: every kind of process serves /metrics, /livez and /readyz on its
METRICS_PORT, over HTTP, as processes against the real broker, PostgreSQL and the sandbox;
each scrape passes ``promtool check metrics``; a worker listens on nothing else (Faust's own
web views stay off)."""

from __future__ import annotations

import asyncio
import base64
import json
import signal
import socket
import time

import httpx
import pytest

from devtools.broker import free_port
from devtools.perfex_events import encode, invoice_event
from devtools.supervisor import dropship_argv, wait_http_ok
from shared.settings import SANDBOX_API_SECRET, TOPIC_INVOICE_PAID, TOPIC_ORDER_PLACED
from shared.webhooks import parse_keys, signed_headers
from tests.e2e.conftest import Pipeline
from tests.fixtures.observability import listening_ports, promtool_check_metrics, sample, scrape

pytestmark = [pytest.mark.e2e]

WORKERS = ("invoice-listener", "placer", "retrier", "tracker", "notifier")
SECRET = "whsec_" + base64.b64encode(b"observability-test-secret-bytes!").decode()
P = "sunsky_dropship_"
PLACED_OR_LATER = ("placed", "processing", "shipped", "delivered")


async def start_workers(pipeline: Pipeline) -> dict[str, int]:
    ports = {name: free_port() for name in WORKERS}
    extra = {
        # the sandbox answers 404 to the notifier's POSTs: dead letters to count
        "notifier": {"PERFEX_WEBHOOK_URL": pipeline.sandbox.base_url + "/no-perfex-here",
                     "PERFEX_WEBHOOK_SECRET": SECRET},
        "tracker": {"TRACKER_CALLBACK_PORT": "0"},
        # the call budget's wait is measured; the log is JSON
        "placer": {"SUNSKY_MAX_CALLS_PER_SECOND": "20", "LOG_FORMAT": "json"},
    }
    await asyncio.gather(*(pipeline.start(name, env={"METRICS_PORT": str(port),
                                                      **extra.get(name, {})})
                           for name, port in ports.items()))
    return ports


async def test_every_worker_serves_metrics_and_health_and_listens_on_nothing_else(
        pipeline_factory) -> None:
    pipeline = await pipeline_factory(partitions=2)
    ports = await start_workers(pipeline)
    await pipeline.publish(TOPIC_INVOICE_PAID, "91001",
                           encode(invoice_event("invoice.paid", 91001)))
    async def placed() -> bool:  # the tracker may have moved it on already
        return (await pipeline.statuses()).get("91001") in PLACED_OR_LATER

    await pipeline.eventually(placed, what="order 91001 placed")
    await pipeline.consumed("notifier", TOPIC_ORDER_PLACED)  # 404 from "Perfex": dead letter

    scrapes = {}
    for name, port in ports.items():
        text, live, ready = await scrape(f"http://127.0.0.1:{port}")
        promtool_check_metrics(text)
        assert live.status_code == 200, (name, live.text)
        assert ready.status_code == 200, (name, ready.text)
        database = {} if name == "notifier" else {"database": "pass"}  # it has none
        assert ready.json()["checks"] == {**database, "consumer": "pass"}, name
        pid = pipeline.supervisor.children[name].process.pid
        assert listening_ports(pid) == {port}, (name, listening_ports(pid))
        scrapes[name] = text

    placed_topic = pipeline.settings.topic("order.ready")
    placer = scrapes["placer"]
    assert sample(placer, P + "messages_processed_total", topic=placed_topic,
                  outcome="done") == 1
    assert sample(placer, P + "message_processing_seconds_count", topic=placed_topic) == 1
    assert sample(placer, P + "last_message_processed_timestamp_seconds",
                  agent="place_orders")
    assert sample(placer, P + "sunsky_requests_total", endpoint="order!createOrder",
                  outcome="ok") == 1
    assert sample(placer, P + "sunsky_request_duration_seconds_count",
                  endpoint="order!createOrder") == 1
    assert (sample(placer, P + "sunsky_call_budget_wait_seconds_count") or 0) >= 2  # quote too
    assert sample(placer, P + "order_transitions_total", from_status="placing",
                  to_status="placed") == 1
    assert sample(scrapes["invoice-listener"], P + "order_transitions_total",
                  from_status="none", to_status="ready_to_place") == 1
    assert sample(scrapes["notifier"], P + "dead_lettered_messages_total",
                  topic=pipeline.settings.topic(TOPIC_ORDER_PLACED)) == 1

    assert_json_log_with_message_context(pipeline.log("placer"), placed_topic)

    retrier = scrapes["retrier"]  # the one service that exports the database gauges
    assert sum(sample(retrier, P + "orders", status=s) or 0 for s in PLACED_OR_LATER) == 1
    assert sample(retrier, P + "outbox_unsent_rows") == 0
    assert sample(retrier, P + "outbox_parked_rows") == 0
    assert sample(retrier, P + "orders_stuck", status="placing") == 0
    assert sample(retrier, P + "orders_waiting_for_money") == 0
    assert sample(placer, P + "orders_stuck", status="placing") is None  # exported once only
    await stops_promptly(pipeline, "placer", ports["placer"])


async def test_the_ingest_and_the_admin_service_serve_metrics_and_health(
        pipeline_factory) -> None:
    pipeline = await pipeline_factory(partitions=1)
    ingest, admin = free_port(), free_port()
    metrics = {"ingest": free_port(), "admin": free_port()}
    supervisor = pipeline.supervisor
    supervisor.start("ingest", dropship_argv("ingest", "--port", str(ingest)),
                     {"INGEST_SECRET": SECRET, "METRICS_PORT": str(metrics["ingest"])})
    supervisor.start("admin", dropship_argv("admin", "serve", "--port", str(admin)),
                     {"METRICS_PORT": str(metrics["admin"])})
    for name, port in metrics.items():
        child = supervisor.children[name]
        up = await asyncio.to_thread(wait_http_ok, f"http://127.0.0.1:{port}/readyz", 60,
                                     lambda child=child: child.alive)  # type: ignore[misc]
        assert up, pipeline.log(name)[-3000:]

    body = encode(invoice_event("invoice.paid", 92001))
    async with httpx.AsyncClient(timeout=10) as client:
        answer = await client.post(f"http://127.0.0.1:{ingest}/v1/events", content=body,
                                   headers=signed_headers(parse_keys(SECRET), "obs-1", body,
                                                          time.time()))
    assert answer.status_code == 202, answer.text

    scraped = {}
    for name, port in metrics.items():
        text, live, ready = await scrape(f"http://127.0.0.1:{port}")
        scraped[name] = text
        promtool_check_metrics(text)
        assert live.status_code == 200 and ready.status_code == 200, (name, ready.text)
        assert ready.json()["checks"] == {"database": "pass"}, name
        assert sample(text, "process_cpu_seconds_total") is not None, name
        assert sample(text, P + "ready") == 1, name
    assert sample(scraped["ingest"], P + "ingest_requests_total", status="202",
                  result="accepted") == 1
    for name, port in metrics.items():
        await stops_promptly(pipeline, name, port)


def assert_json_log_with_message_context(log: str, topic: str) -> None:
    """LOG_FORMAT=json: every line one object (Faust's own lines too); the placement's line
    carries the message's topic, partition, offset, message id and order id."""
    lines = [json.loads(line) for line in log.splitlines() if line.strip()]
    (placed,) = [line for line in lines if " placed: SUNSKY " in str(line["message"])]
    assert placed["topic"] == topic and placed["order_id"] == 1, placed
    assert {"partition", "offset", "message_id", "key"} <= set(placed), placed
    assert SANDBOX_API_SECRET not in log


async def stops_promptly(pipeline: Pipeline, name: str, port: int) -> None:
    """SIGTERM: the process stops cleanly within 15 s and its metrics port is free again.
    (uvicorn, under the admin service, re-raises the signal once it has shut down cleanly.)"""
    process = pipeline.supervisor.children[name].process
    process.send_signal(signal.SIGTERM)
    code = await asyncio.to_thread(process.wait, 15)
    clean = (0, -signal.SIGTERM) if name == "admin" else (0,)
    assert code in clean, pipeline.log(name)[-3000:]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", port))  # nothing left listening on it
