"""The ``Publisher`` port and its Kafka adapter (plain Kafka protocol: Tansu and Apache Kafka)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Protocol

from aiokafka import AIOKafkaProducer

logger = logging.getLogger(__name__)

Headers = Sequence[tuple[str, bytes]]
STOP_SECONDS = 2.0


class Publisher(Protocol):
    async def publish(self, topic: str, key: str | None, value: bytes,
                      headers: Headers = ()) -> None: ...

    async def publish_many(self, records: Sequence[tuple[str, str | None, bytes, Headers]]) -> None:
        ...


class KafkaPublisher:
    """A long-lived aiokafka producer; ``publish`` returns once the broker acknowledged.

    The producer is built on first use: aiokafka complains about a producer object that was
    created and never closed, and admin commands often publish nothing."""

    def __init__(self, bootstrap_servers: str, *, client_id: str = "dropship",
                 request_timeout_ms: int = 15000) -> None:
        self._bootstrap, self._client_id = bootstrap_servers, client_id
        # also how long a record may wait for a broker before its send fails
        self._request_timeout_ms = request_timeout_ms
        self._producer: AIOKafkaProducer | None = None
        self._starting = asyncio.Lock()  # concurrent first publishes must build one producer

    async def start(self) -> None:
        async with self._starting:
            if self._producer is None:
                self._producer = await self._started_producer()

    async def _started_producer(self) -> AIOKafkaProducer:
        producer = AIOKafkaProducer(bootstrap_servers=self._bootstrap, client_id=self._client_id,
                                    acks="all", linger_ms=2,
                                    request_timeout_ms=self._request_timeout_ms)
        try:
            await producer.start()
        except BaseException:
            await producer.stop()  # a producer that failed to start still holds tasks
            raise
        return producer

    async def stop(self) -> None:
        """Close the producer; records the broker has not acknowledged within ``STOP_SECONDS`` are
        dropped: every sender here waits for the acknowledgement before it counts a record as
        sent (the outbox relay, dead-lettering), so those are sent again by the next process."""
        if self._producer is not None:
            producer, self._producer = self._producer, None
            try:
                await asyncio.wait_for(producer.stop(), STOP_SECONDS)
            except TimeoutError:
                logger.warning("broker unreachable: producer closed with records unsent")

    async def publish(self, topic: str, key: str | None, value: bytes,
                      headers: Headers = ()) -> None:
        await self.publish_many([(topic, key, value, headers)])

    async def publish_many(self, records: Sequence[tuple[str, str | None, bytes, Headers]]) -> None:
        if self._producer is None:
            await self.start()
        assert self._producer is not None
        futures = [
            await self._producer.send(topic, value, key=key.encode() if key else None,
                                      headers=list(headers))
            for topic, key, value, headers in records
        ]
        await asyncio.gather(*futures)
