"""Reading a time window of a topic from its start, for admin replays (plain Kafka protocol).

``read_window`` returns every record of a topic whose timestamp falls in ``[since, until)``.
Timestamps are filtered client-side: ListOffsets-by-timestamp is unreliable on Tansu.
``replay.cycle`` counts how often a record was replayed (``cycle_of``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from shared.settings import Settings

H_CYCLE = "replay.cycle"


def cycle_of(headers: Any) -> int:
    for key, value in headers or ():
        if key == H_CYCLE:
            return int(value.decode() or 0)
    return 0


async def read_window(settings: Settings, topic: str, since: datetime | None,
                      until: datetime) -> list[Any]:
    """Records of ``topic`` up to its current end, with since <= timestamp < until."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers,
                                enable_auto_commit=False, group_id=None)
    try:
        await consumer.start()
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        if not partitions:
            await consumer.stop()
            consumer = await _with_metadata(settings, topic)
            partitions = [TopicPartition(topic, p)
                          for p in consumer.partitions_for_topic(topic) or ()]
        return await _drain(consumer, partitions, since, until)
    finally:
        await consumer.stop()


async def _with_metadata(settings: Settings, topic: str) -> AIOKafkaConsumer:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=settings.kafka_bootstrap_servers,
                                enable_auto_commit=False, group_id=None)
    await consumer.start()
    consumer.unsubscribe()
    return consumer


async def _drain(consumer: AIOKafkaConsumer, partitions: list[TopicPartition],
                 since: datetime | None, until: datetime) -> list[Any]:
    if not partitions:
        return []
    consumer.assign(partitions)
    await consumer.seek_to_beginning(*partitions)
    ends = await consumer.end_offsets(partitions)
    # a partition whose records all expired (retention) starts at its end: nothing to read
    pending = {tp for tp in partitions if await consumer.position(tp) < ends[tp]}
    records: list[Any] = []
    while pending:
        batch = await consumer.getmany(*pending, timeout_ms=1000)
        for rows in batch.values():
            records += [r for r in rows if in_window(r.timestamp, since, until)]
        pending = {tp for tp in pending if await consumer.position(tp) < ends[tp]}
    return sorted(records, key=lambda r: (r.timestamp, r.partition, r.offset))


def in_window(timestamp_ms: int, since: datetime | None, until: datetime) -> bool:
    seconds = timestamp_ms / 1000
    return (since is None or seconds >= since.timestamp()) and seconds < until.timestamp()
