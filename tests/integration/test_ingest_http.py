"""The ingest over real HTTP, with the real broker and PostgreSQL behind it (issue 11 section 1).

Every answer is checked on the wire, and "nothing published" is measured on the broker: once
all requests of a test were answered, the topics must hold exactly what was accepted, read up
to a marker written to each partition after the last answer (the ingest answers only after the
broker acknowledged, so anything it published lies before the marker; no waiting for an
absence).
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaConsumer
from pydantic import SecretStr

from devtools.broker import EmbeddedBroker, free_port
from devtools.perfex_events import encode, invoice_event
from devtools.topic_marks import records_up_to_now
from services.ingest.app import IngestService
from shared.messaging.topics import ensure_topics
from shared.settings import INGEST_TOPICS, Settings
from shared.webhooks import parse_keys, signed_headers
from tests.fixtures.stack import STATE_DIR

pytestmark = [pytest.mark.integration]
SECRET = "whsec_" + base64.b64encode(b"ingest-integration-test-secret-key").decode()
EVENTS = "/v1/events"


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def settings(stack_settings: Settings, db_pool: asyncpg.Pool) -> Settings:
    """This module's own topics (the session schema: its migrations ran in ``db_pool``)."""
    tag = uuid.uuid4().hex[:6]
    mine = stack_settings.model_copy(update={
        "topic_prefix": f"{stack_settings.topic_prefix}ing{tag}.", "topic_partitions": 2,
        "ingest_secret": SecretStr(SECRET), "ingest_retry_after_seconds": 7})
    await ensure_topics(mine, INGEST_TOPICS)
    return mine


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def ingest(settings: Settings) -> AsyncIterator[str]:
    service = IngestService(settings)
    url = await service.start("127.0.0.1", 0)
    try:
        yield url
    finally:
        await service.stop()


def signed(body: bytes, webhook_id: str | None = None, *, secret: str = SECRET,
           at: float | None = None) -> dict[str, str]:
    headers = signed_headers(parse_keys(secret), webhook_id or uuid.uuid4().hex, body,
                             time.time() if at is None else at)
    return {"content-type": "application/json", **headers}


async def post(url: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    async with httpx.AsyncClient(base_url=url, timeout=20) as client:
        return await client.post(EVENTS, content=body, headers=headers)


async def published(settings: Settings) -> int:
    """Records on the ingest's two topics now, read up to a marker per partition (Tansu's
    end offsets can be one short: devtools/topic_marks.py)."""
    topics = [settings.topic(t) for t in INGEST_TOPICS]
    return len(await records_up_to_now(settings.kafka_bootstrap_servers, topics,
                                       settings.topic_partitions))


async def records(settings: Settings, topic: str, expect: int) -> list[Any]:
    consumer = AIOKafkaConsumer(settings.topic(topic),
                                bootstrap_servers=settings.kafka_bootstrap_servers,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    found: list[Any] = []
    try:
        deadline = time.monotonic() + 20
        while len(found) < expect and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=300)
            found += [r for rows in batch.values() for r in rows]
    finally:
        await consumer.stop()
    return found


async def test_the_specification_vector_verifies_over_http(settings: Settings) -> None:
    """Its body is no contract event (422), but only a verified signature gets that far."""
    spec = settings.model_copy(update={
        "ingest_secret": SecretStr("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")})
    service = IngestService(spec, clock=lambda: 1614265330.0)
    url = await service.start("127.0.0.1", 0)
    headers = {"webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek", "webhook-timestamp": "1614265330",
               "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="}
    try:
        genuine = await post(url, b'{"test": 2432232314}', headers)
        tampered = await post(url, b'{"test": 2432232315}', headers)
    finally:
        await service.stop()
    assert (genuine.status_code, genuine.json()["error"]) == (422, "unknown_event_type")
    assert (tampered.status_code, tampered.json()["error"]) == (401, "invalid_signature")


async def test_an_accepted_event_is_on_the_broker_as_sent(ingest: str, settings: Settings) -> None:
    invoice = str(int(time.time() * 1000) % 10**9)
    body, webhook_id = encode(invoice_event("invoice.created", invoice)), uuid.uuid4().hex

    answer = await post(ingest, body, signed(body, webhook_id))

    assert (answer.status_code, answer.json()["status"]) == (202, "accepted")
    [record] = [r for r in await records(settings, "invoice.created", 1)
                if dict(r.headers).get("message_id") == webhook_id.encode()]
    assert (record.key, record.value) == (invoice.encode(), body)


async def test_every_bad_request_is_refused_with_a_reason_and_publishes_nothing(
        ingest: str, settings: Settings) -> None:
    before = await published(settings)
    good = encode(invoice_event("invoice.paid", "77"))
    wrong_shape = json.dumps({"event_type": "invoice.paid", "event_id": "e"}).encode()
    unknown = json.dumps({"event_type": "invoice.deleted"}).encode()
    cases = [
        (good, {"content-type": "application/json"}, 401, "missing_headers"),
        (good, {**signed(good), "webhook-signature": "v1,AAAA"}, 401, "invalid_signature"),
        (good, signed(good, secret="whsec_" + base64.b64encode(b"x" * 24).decode()), 401,
         "invalid_signature"),
        # well past the 5 minutes either way: the cases before it may take a while to answer
        (good, signed(good, at=time.time() - 330), 401, "stale_timestamp"),
        (good, signed(good, at=time.time() + 330), 401, "stale_timestamp"),
        (b"{not json", signed(b"{not json"), 400, "invalid_json"),
        (wrong_shape, signed(wrong_shape), 422, "schema_violation"),
        (unknown, signed(unknown), 422, "unknown_event_type"),
    ]
    for body, headers, status, error in cases:
        answer = await post(ingest, body, headers)
        assert (answer.status_code, answer.json()["error"]) == (status, error), error
        assert answer.json()["detail"]

    assert await published(settings) == before


async def test_a_body_over_one_mib_is_refused_before_it_is_read(ingest: str,
                                                               settings: Settings) -> None:
    before = await published(settings)
    big = b'{"pad": "' + b"x" * (1024 * 1024) + b'"}'
    answer = await post(ingest, big, signed(big))
    assert (answer.status_code, answer.json()["error"]) == (413, "body_too_large")

    async def chunked() -> AsyncIterator[bytes]:
        for _ in range(40):
            yield b"y" * 65536

    async with httpx.AsyncClient(base_url=ingest, timeout=20) as client:
        streamed = await client.post(EVENTS, content=chunked(), headers=signed(b""))
    assert streamed.status_code == 413

    # PHP's curl announces the size and waits for "100 Continue": it must hear 413 instead
    host, port = ingest.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(f"POST {EVENTS} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 f"Content-Length: {8 * 1024 * 1024}\r\nExpect: 100-continue\r\n\r\n".encode())
    await writer.drain()
    status_line = await asyncio.wait_for(reader.readline(), 10)
    writer.close()
    assert status_line.startswith(b"HTTP/1.1 413"), status_line
    assert await published(settings) == before


async def test_a_duplicate_webhook_id_is_accepted_again_and_published_once(
        ingest: str, settings: Settings, db_pool: asyncpg.Pool) -> None:
    before = await published(settings)
    body, webhook_id = encode(invoice_event("invoice.paid", "501")), uuid.uuid4().hex

    first = await post(ingest, body, signed(body, webhook_id))
    again = await post(ingest, body, signed(body, webhook_id))  # freshly signed, as cron does

    assert (first.status_code, first.json()["status"]) == (202, "accepted")
    assert (again.status_code, again.json()["status"]) == (202, "duplicate")
    assert await published(settings) == before + 1
    assert await db_pool.fetchval("SELECT count(*) FROM ingest_webhooks WHERE webhook_id = $1",
                                  webhook_id) == 1


async def test_concurrent_duplicates_are_published_once(ingest: str, settings: Settings) -> None:
    before = await published(settings)
    body, webhook_id = encode(invoice_event("invoice.paid", "502")), uuid.uuid4().hex
    async with httpx.AsyncClient(base_url=ingest, timeout=20) as client:
        answers = await asyncio.gather(*(client.post(EVENTS, content=body,
                                                     headers=signed(body, webhook_id))
                                         for _ in range(20)))
    assert [a.status_code for a in answers] == [202] * 20
    assert sorted(a.json()["status"] for a in answers) == ["accepted"] + ["duplicate"] * 19
    assert await published(settings) == before + 1


async def test_broker_down_is_503_with_retry_after_and_nothing_is_remembered(
        settings: Settings, db_pool: asyncpg.Pool) -> None:
    """A broker of its own: absent when the ingest starts, then up, then stopped."""
    port = free_port()
    alone = settings.model_copy(update={"kafka_bootstrap_servers": f"127.0.0.1:{port}",
                                        "ingest_publish_timeout_seconds": 1.0})
    service = IngestService(alone)
    url = await service.start("127.0.0.1", 0)
    broker = EmbeddedBroker(port=port, log_path=STATE_DIR / f"test-ingest-broker-{port}.log")
    body, webhook_id = encode(invoice_event("invoice.paid", "503")), uuid.uuid4().hex
    try:
        down = await post(url, body, signed(body, webhook_id))
        assert (down.status_code, down.json()["error"]) == (503, "broker_unavailable")
        assert down.headers["retry-after"] == "7"
        assert (await readyz(url))["broker"].startswith("fail")
        assert await db_pool.fetchval("SELECT count(*) FROM ingest_webhooks WHERE webhook_id"
                                      " = $1", webhook_id) == 0

        broker.start()
        await ensure_topics(alone, INGEST_TOPICS)
        up = await post(url, body, signed(body, webhook_id))
        assert (up.status_code, up.json()["status"]) == (202, "accepted")
        assert await published(alone) == 1

        broker.kill()  # a broker crash (a clean stop waits for the producer to hang up)
        later = encode(invoice_event("invoice.paid", "504"))
        later_id = uuid.uuid4().hex
        gone = await post(url, later, signed(later, later_id))
        assert (gone.status_code, gone.headers.get("retry-after")) == (503, "7")
        assert await db_pool.fetchval("SELECT count(*) FROM ingest_webhooks WHERE webhook_id"
                                      " = $1", later_id) == 0
    finally:
        broker.kill()
        await service.stop()


async def readyz(url: str) -> dict[str, str]:
    async with httpx.AsyncClient(base_url=url, timeout=20) as client:
        answer = await client.get("/readyz")
    checks: dict[str, str] = answer.json()["checks"]
    return checks


async def test_readiness_passes_with_the_broker_and_database_up(ingest: str) -> None:
    assert await readyz(ingest) == {"database": "pass", "broker": "pass"}
