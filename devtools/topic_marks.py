"""Everything on some topics up to now, counted by reading, not from end offsets.

Tansu's end offsets (ListOffsets "latest") were seen one short on partitions whose last write
was a batch of several records (bench/ingest.py: 547 end-offset records where a consumer read
550), and they stayed so. So "what is on the topic now" is measured here by writing a marker
record to every partition and reading each partition from its start up to its marker: a record
acknowledged before the marker was written lies before it. Markers are skipped by
``records_up_to_now`` (and by any later call), never by other consumers: use it on topics
only a test or a benchmark reads.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

MARKER_PREFIX = b"__topic_mark__"


async def records_up_to_now(bootstrap: str, topics: Sequence[str], partitions: int, *,
                            within: float = 30) -> list[Any]:
    """Every record (markers excluded) on ``topics`` acknowledged before this call."""
    marker = MARKER_PREFIX + uuid.uuid4().hex.encode()
    parts = [TopicPartition(t, p) for t in topics for p in range(partitions)]
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for tp in parts:
            await producer.send_and_wait(tp.topic, marker, partition=tp.partition)
    finally:
        await producer.stop()
    return await _read_to(bootstrap, parts, marker, within)


async def _read_to(bootstrap: str, parts: list[TopicPartition], marker: bytes,
                   within: float) -> list[Any]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    found: list[Any] = []
    try:
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        waiting, deadline = set(parts), time.monotonic() + within
        while waiting:
            assert time.monotonic() < deadline, f"markers not read back on {sorted(waiting)}"
            for tp, rows in (await consumer.getmany(*waiting, timeout_ms=500)).items():
                for row in rows:
                    if row.value == marker:
                        waiting.discard(tp)
                    elif tp in waiting and not (row.value or b"").startswith(MARKER_PREFIX):
                        found.append(row)
    finally:
        await consumer.stop()
    return found
