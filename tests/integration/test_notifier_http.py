"""The notifier against a real HTTP receiver (aiohttp, started here) with the real broker taking
its dead letters, under the error policy the agent runs (``process``).

The receiver (``tests/fixtures/webhook_receiver.py``) checks each request's signature with
nothing but hmac/base64 (not the code under test) and answers from a script: 500 then 200, 400,
or never. What counts is what it received and what landed on ``<topic>.dlq``, read back from
the broker.
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
import pytest_asyncio
from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import SecretStr

from application.context import admin_context
from application.replay import ReplayRequest, replay
from devtools.topic_marks import records_up_to_now
from schemas.orders import OrderShipped
from services.notifier.app import bootstrap
from shared.messaging.deadletter import DeadLetters
from shared.messaging.envelope import Envelope
from shared.messaging.policy import process
from shared.messaging.publisher import KafkaPublisher
from shared.messaging.topics import ensure_topics
from shared.settings import TOPIC_ORDER_SHIPPED, Settings
from tests.fixtures.webhook_receiver import Receiver, running_receiver

pytestmark = [pytest.mark.integration]
SECRET = "whsec_" + base64.b64encode(b"notifier-integration-test-secret").decode()
DLQ = TOPIC_ORDER_SHIPPED + ".dlq"


@pytest_asyncio.fixture(loop_scope="session")
async def receiver() -> AsyncIterator[Receiver]:
    async with running_receiver(SECRET) as found:
        yield found


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def base_settings(stack_settings: Settings) -> Settings:
    mine = stack_settings.model_copy(update={
        "topic_prefix": f"{stack_settings.topic_prefix}ntf{uuid.uuid4().hex[:6]}.",
        "topic_partitions": 1, "perfex_webhook_secret": SecretStr(SECRET),
        "notifier_timeout_seconds": 0.5, "notifier_backoff_seconds": 0.05,
        "notifier_max_attempts": 3, "notifier_budget_seconds": 3.0})
    await ensure_topics(mine, [TOPIC_ORDER_SHIPPED, DLQ])
    return mine


class Run:
    def __init__(self, settings: Settings, receiver: Receiver) -> None:
        self.settings = settings.model_copy(update={"perfex_webhook_url": receiver.url})
        self.publisher = KafkaPublisher(settings.kafka_bootstrap_servers, client_id="ntf-test")

    async def notify(self, body: bytes) -> str:
        resources, notifier = bootstrap(self.settings, publisher=self.publisher)
        envelope = Envelope(self.settings.topic(TOPIC_ORDER_SHIPPED), 0, 3, "42", body,
                            (("message_id", b"x"),))
        try:
            return await process(envelope, notifier.handle,
                                 DeadLetters(self.publisher, "notifier"))
        finally:
            await resources.stop()

    async def dead_letters(self) -> list[Any]:
        """Every record on the DLQ, read up to its end offset."""
        topic = TopicPartition(self.settings.topic(DLQ), 0)
        consumer = AIOKafkaConsumer(bootstrap_servers=self.settings.kafka_bootstrap_servers,
                                    enable_auto_commit=False)
        await consumer.start()
        try:
            consumer.assign([topic])
            await consumer.seek_to_beginning(topic)
            end = (await consumer.end_offsets([topic]))[topic]
            found: list[Any] = []
            while await consumer.position(topic) < end:
                found += (await consumer.getmany(topic, timeout_ms=1000)).get(topic, [])
            return found
        finally:
            await consumer.stop()


@pytest_asyncio.fixture(loop_scope="session")
async def run(base_settings: Settings, receiver: Receiver) -> AsyncIterator[Run]:
    made = Run(base_settings, receiver)
    try:
        yield made
    finally:
        await made.publisher.stop()


def shipped() -> tuple[str, bytes]:
    message_id = uuid.uuid4().hex
    body = OrderShipped(message_id=message_id, order_id=9, invoice_id="42",
                        occurred_at=datetime.now(UTC), sunsky_order_number="SO-9",
                        tracking_number="RR1").model_dump_json().encode()
    return message_id, body


def ours(records: list[Any], body: bytes) -> list[Any]:
    return [r for r in records if r.value == body]


async def test_a_500_is_retried_and_the_message_delivered_once(run: Run,
                                                               receiver: Receiver) -> None:
    receiver.script = [500, 200]
    message_id, body = shipped()

    assert await run.notify(body) == "done"

    assert receiver.received == [(message_id, body, True), (message_id, body, True)]
    assert ours(await run.dead_letters(), body) == []


async def test_a_400_is_dead_lettered_at_once_with_the_answer(run: Run,
                                                              receiver: Receiver) -> None:
    receiver.script = [400]
    message_id, body = shipped()

    assert await run.notify(body) == "dead_lettered"

    assert receiver.received == [(message_id, body, True)]
    [record] = ours(await run.dead_letters(), body)
    headers = {k: v.decode() for k, v in record.headers}
    assert (headers["dlq.reason"], headers["dlq.http.status"]) == ("perfex_refused", "400")
    assert headers["dlq.http.answer"] == '{"error": "bad_json"}'
    assert headers["dlq.original.topic"] == run.settings.topic(TOPIC_ORDER_SHIPPED)
    assert record.key == b"42"


async def test_a_receiver_that_never_answers_is_given_up_within_the_budget(
        run: Run, receiver: Receiver) -> None:
    receiver.script = ["hang"]
    message_id, body = shipped()
    started = time.monotonic()

    assert await run.notify(body) == "dead_lettered"

    elapsed = time.monotonic() - started
    assert elapsed < run.settings.notifier_budget_seconds + 1.0, elapsed
    assert [r[0] for r in receiver.received] == [message_id] * 3  # NOTIFIER_MAX_ATTEMPTS
    [record] = ours(await run.dead_letters(), body)
    headers = {k: v.decode() for k, v in record.headers}
    assert (headers["dlq.reason"], headers["dlq.http.status"], headers["dlq.attempts"]) == (
        "perfex_unreachable", "", "3")
    assert "no answer within" in headers["dlq.http.answer"]


async def test_a_dead_letter_replayed_once_perfex_is_fixed_is_delivered_with_its_id(
        run: Run, receiver: Receiver) -> None:
    receiver.script = [422]
    message_id, body = shipped()
    assert await run.notify(body) == "dead_lettered"

    async with admin_context(run.settings) as ctx:
        outcome = await replay(ctx, ReplayRequest(DLQ, None, datetime.now(UTC)), actor="test")
    assert outcome.report.replayed >= 1
    back = [r for r in await records_up_to_now(run.settings.kafka_bootstrap_servers,
                                               [run.settings.topic(TOPIC_ORDER_SHIPPED)], 1)
            if r.value == body]
    assert len(back) == 1 and dict(back[0].headers)["replay.cycle"] == b"1"

    receiver.script = [422, 200]  # Perfex fixed: the replayed record goes through
    assert await run.notify(back[0].value) == "done"
    assert [r[0] for r in receiver.received] == [message_id, message_id]
