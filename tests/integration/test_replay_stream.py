"""``dropship replay`` reads its topic in bounded batches, never the whole topic at once
(issue 9, section 4), against the real broker."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from aiokafka import AIOKafkaProducer

from shared.messaging.reading import Window
from shared.messaging.topics import ensure_topics
from shared.settings import Settings

pytestmark = [pytest.mark.integration]


async def test_a_topic_is_streamed_in_bounded_batches_without_what_the_replay_writes(
        stack_settings: Settings) -> None:
    settings = stack_settings.model_copy(update={"topic_partitions": 2})
    name = f"stream-{uuid.uuid4().hex[:8]}"
    await ensure_topics(settings, [name])
    topic = settings.topic(name)
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, linger_ms=5)
    await producer.start()
    try:
        for n in range(1200):
            await producer.send(topic, f"{n}".encode(), key=f"k{n % 7}".encode())
        await producer.flush()
        window = Window(settings, topic, None, datetime.now(UTC), batch=100)
        sizes: list[int] = []
        seen: dict[int, list[int]] = {}
        async for rows in window.batches():
            if not sizes:  # written while the replay reads (as a DLQ replay does): not in it
                for _ in range(50):
                    await producer.send(topic, b"late", key=b"late")
                await producer.flush()
            sizes.append(len(rows))
            for record in rows:
                seen.setdefault(record.partition, []).append(record.offset)
    finally:
        await producer.stop()
    assert sum(sizes) == 1200
    assert max(sizes) <= 100 and len(sizes) >= 12  # bounded: never the topic in one list
    assert all(offsets == sorted(offsets) for offsets in seen.values())


async def test_the_time_window_is_filtered(stack_settings: Settings) -> None:
    settings = stack_settings.model_copy(update={"topic_partitions": 1})
    name = f"window-{uuid.uuid4().hex[:8]}"
    await ensure_topics(settings, [name])
    topic = settings.topic(name)
    now = datetime.now(UTC)
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers)
    await producer.start()
    try:
        for label, at in (("old", now - timedelta(hours=2)), ("in", now - timedelta(minutes=5)),
                          ("new", now + timedelta(hours=1))):
            await producer.send_and_wait(topic, label.encode(),
                                         timestamp_ms=int(at.timestamp() * 1000))
    finally:
        await producer.stop()
    window = Window(settings, topic, now - timedelta(hours=1), now)
    values = [r.value async for rows in window.batches() for r in rows]
    assert values == [b"in"]
