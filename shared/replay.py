"""Admin replay of a failed-order or dead-letter topic (streaming-pitfalls.md section 5).

Reads every record of a topic whose timestamp falls in ``[since, until)`` (``until`` defaults to
the moment the replay starts, so what the replay itself produces is never replayed again), and:

- ``order.api_failed`` records: the order goes back to the placer (API Failed -> Ready to
  Place + ``order.ready``) unless SUNSKY already holds it or it is already on its way;
- ``<topic>.dlq`` records: the original bytes and headers go back to ``dlq.original.topic``
  (or ``--to``), e.g. inbound invoices after the publisher was fixed;

each with a ``replay.cycle`` header one higher than the record's, refused past a cap. Every run
is recorded in ``replays``. Timestamps are filtered client-side: ListOffsets-by-timestamp is
unreliable on Tansu.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import ValidationError

from cli.retry_cmd import retry_one
from schemas.orders import ORDER_MESSAGE, OrderApiFailed
from shared.db.repository import ReplayRecord, UnitOfWork
from shared.messaging.deadletter import H_TOPIC
from shared.messaging.publisher import Publisher
from shared.settings import DLQ_SUFFIX, TOPIC_ORDER_API_FAILED, Settings

logger = logging.getLogger(__name__)

H_CYCLE = "replay.cycle"


@dataclass
class ReplayReport:
    read: int = 0
    replayed: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    refused: int = 0

    def summary(self) -> str:
        skipped = ", ".join(f"{n} {why}" for why, n in sorted(self.skipped.items())) or "none"
        return (f"read {self.read}, replayed {self.replayed}, skipped {sum(self.skipped.values())}"
                f" ({skipped}), refused {self.refused} (replay cycle cap)")


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
            records += [r for r in rows if _in_window(r.timestamp, since, until)]
        pending = {tp for tp in pending if await consumer.position(tp) < ends[tp]}
    return sorted(records, key=lambda r: (r.timestamp, r.partition, r.offset))


def _in_window(timestamp_ms: int, since: datetime | None, until: datetime) -> bool:
    seconds = timestamp_ms / 1000
    return (since is None or seconds >= since.timestamp()) and seconds < until.timestamp()


class Replayer:
    def __init__(self, settings: Settings, uow: Callable[[], UnitOfWork], publisher: Publisher,
                 *, actor: str, dry_run: bool, target: str | None = None) -> None:
        self._settings, self._uow, self._publisher = settings, uow, publisher
        self._actor, self._dry_run, self._target = actor, dry_run, target
        self.report = ReplayReport()

    async def replay(self, topic: str, records: list[Any],
                     progress: Callable[[int, int], None] = lambda done, total: None) -> None:
        for n, record in enumerate(records, 1):
            self.report.read += 1
            if cycle_of(record.headers) + 1 > self._settings.replay_max_cycles:
                self.report.refused += 1
            elif topic.endswith(DLQ_SUFFIX):
                await self._republish(record)
            elif topic == self._settings.topic(TOPIC_ORDER_API_FAILED):
                await self._retry_order(record)
            else:
                self.report.skipped["not replayable"] += 1
            if n % 200 == 0 or n == len(records):
                progress(n, len(records))

    async def _republish(self, record: Any) -> None:
        headers = list(record.headers or ())
        target = self._target or dict(headers).get(H_TOPIC, b"").decode()
        if not target:
            self.report.skipped["no original topic"] += 1
            return
        cycle = cycle_of(headers) + 1
        headers = [(k, v) for k, v in headers if k != H_CYCLE] + [(H_CYCLE, str(cycle).encode())]
        if not self._dry_run:
            key = record.key.decode() if record.key else None
            await self._publisher.publish(target, key, record.value, headers)
        self.report.replayed += 1

    async def _retry_order(self, record: Any) -> None:
        try:
            message = ORDER_MESSAGE.validate_json(record.value)
        except ValidationError:
            self.report.skipped["unreadable"] += 1
            return
        if not isinstance(message, OrderApiFailed):
            self.report.skipped["not an api_failed message"] += 1
            return
        cycle = str(cycle_of(record.headers) + 1)
        async with self._uow() as uow:
            order = await uow.orders.get(message.order_id)
            if order is None:
                self.report.skipped["unknown order"] += 1
                return
            line = await retry_one(uow, self._settings, order, actor=self._actor,
                                   note=f"replay of {record.topic}@{record.offset}",
                                   reason="replay", headers={H_CYCLE: cycle})
            if not self._dry_run:
                await uow.commit()
        self._count(line)

    def _count(self, line: str) -> None:
        if line.endswith("queued for placement"):
            self.report.replayed += 1
        elif "Placed" in line or "Processing" in line or "Shipped" in line or "Delivered" in line:
            self.report.skipped["already placed"] += 1
        else:
            self.report.skipped[line.split(": ", 1)[-1].split(",")[0]] += 1

    async def record(self, topic: str, since: datetime | None, until: datetime) -> int:
        async with self._uow() as uow:
            replay_id = await uow.replays.record(ReplayRecord(
                actor=self._actor, topic=topic, target=self._target, since=since, until=until,
                dry_run=self._dry_run, read=self.report.read, replayed=self.report.replayed,
                skipped=sum(self.report.skipped.values()), refused=self.report.refused))
            await uow.commit()
        return replay_id
