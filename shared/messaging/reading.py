"""Reading a time window of a topic from its start, for admin replays (plain Kafka protocol).

``Window.batches()`` yields the records of a topic whose timestamp falls in ``[since, until)``,
one partition after the other, in offset order, in batches of at most ``batch`` records: a
replay of a topic of any size holds one batch in memory (plus the client's fetch buffer of one
partition), never the topic. Timestamps are filtered client-side: ListOffsets-by-timestamp is
unreliable on Tansu.

A partition is read up to its end offset at the start of the read. Tansu reports a wrong end
offset (the last batch's base offset + 1, however many records that batch holds): when a record
at or past the reported end shows up, the partition is read until a fetch comes back empty or
a record is past ``until`` instead. ``replay.cycle`` counts how often a record was replayed
(``cycle_of``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from shared.settings import Settings

H_CYCLE = "replay.cycle"
DEFAULT_BATCH = 500


def cycle_of(headers: Any) -> int:
    for key, value in headers or ():
        if key == H_CYCLE:
            return int(value.decode() or 0)
    return 0


@dataclass
class Window:
    """A time window of one topic, read in bounded batches."""

    settings: Settings
    topic: str
    since: datetime | None
    until: datetime
    batch: int = DEFAULT_BATCH

    async def batches(self) -> AsyncIterator[list[Any]]:
        consumer = AIOKafkaConsumer(bootstrap_servers=self.settings.kafka_bootstrap_servers,
                                    enable_auto_commit=False, group_id=None,
                                    max_partition_fetch_bytes=1_048_576)
        try:
            await consumer.start()
            for tp in await _partitions(consumer, self.topic):
                consumer.assign([tp])
                await consumer.seek_to_beginning(tp)
                async for rows in self._drain(consumer, tp):
                    yield rows
        finally:
            await consumer.stop()

    async def _drain(self, consumer: AIOKafkaConsumer, tp: TopicPartition
                     ) -> AsyncIterator[list[Any]]:
        end = (await consumer.end_offsets([tp]))[tp]
        if await consumer.position(tp) >= end:
            return  # empty, or every record expired (retention)
        until_ms, end_is_right = self.until.timestamp() * 1000, True
        while True:
            got = (await consumer.getmany(tp, timeout_ms=1000, max_records=self.batch)).get(
                tp, [])
            if not got:
                if end_is_right:
                    continue  # records below the end exist: they are on their way
                return
            end_is_right = end_is_right and got[-1].offset < end
            rows = [r for r in got if in_window(r.timestamp, self.since, self.until)]
            if rows:
                yield rows
            if end_is_right and await consumer.position(tp) >= end:
                return
            if got[-1].timestamp >= until_ms:
                return  # past the window: what follows was written after it


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    found = consumer.partitions_for_topic(topic)
    if not found:  # not in the bootstrap metadata yet: ask for this topic alone
        await consumer._client.force_metadata_update()
        found = consumer.partitions_for_topic(topic)
    return [TopicPartition(topic, p) for p in sorted(found or ())]


def in_window(timestamp_ms: int, since: datetime | None, until: datetime) -> bool:
    seconds = timestamp_ms / 1000
    return (since is None or seconds >= since.timestamp()) and seconds < until.timestamp()
