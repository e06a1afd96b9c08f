"""The ``Publisher`` port and its Kafka adapter (plain Kafka protocol: Tansu and Apache Kafka)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Protocol

from aiokafka import AIOKafkaProducer

logger = logging.getLogger(__name__)

Headers = Sequence[tuple[str, bytes]]


class Publisher(Protocol):
    async def publish(self, topic: str, key: str | None, value: bytes,
                      headers: Headers = ()) -> None: ...

    async def publish_many(self, records: Sequence[tuple[str, str | None, bytes, Headers]]) -> None:
        ...


class KafkaPublisher:
    """A long-lived aiokafka producer; ``publish`` returns once the broker acknowledged."""

    def __init__(self, bootstrap_servers: str, *, client_id: str = "dropship") -> None:
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap_servers, client_id=client_id, acks="all",
            linger_ms=2, request_timeout_ms=15000)
        self._started = False

    async def start(self) -> None:
        if not self._started:
            await self._producer.start()
            self._started = True

    async def stop(self) -> None:
        if self._started:
            self._started = False
            await self._producer.stop()

    async def publish(self, topic: str, key: str | None, value: bytes,
                      headers: Headers = ()) -> None:
        await self.publish_many([(topic, key, value, headers)])

    async def publish_many(self, records: Sequence[tuple[str, str | None, bytes, Headers]]) -> None:
        await self.start()
        futures = [
            await self._producer.send(topic, value, key=key.encode() if key else None,
                                      headers=list(headers))
            for topic, key, value, headers in records
        ]
        await asyncio.gather(*futures)
