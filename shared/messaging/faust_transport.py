"""Faust's aiokafka transport with a configurable fetch wait.

Faust hard-codes ``fetch_max_wait_ms=1500`` for its consumers. Apache Kafka answers a fetch as
soon as one byte is there, so that is harmless; the embedded Tansu broker holds every fetch for
the full wait, which made each hop cost up to 1.5 s. ``FETCH_MAX_WAIT_MS`` (the setting
``kafka_fetch_max_wait_ms``) bounds it; on Kafka a lower value only means more idle fetches.
The transport is selected with the ``dropship-kafka://`` broker URL scheme.
"""

from __future__ import annotations

from typing import Any

from faust.transport.drivers import TRANSPORTS
from faust.transport.drivers import aiokafka as driver

SCHEME = "dropship-kafka"


class _ConsumerThread(driver.AIOKafkaConsumerThread):
    fetch_max_wait_ms = 1500

    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        # read by AIOKafkaConsumer.start() when it builds its fetcher
        consumer._fetch_max_wait_ms = self.fetch_max_wait_ms
        return consumer


class _Consumer(driver.Consumer):
    def _new_consumer_thread(self) -> driver.AIOKafkaConsumerThread:
        thread = _ConsumerThread(self, loop=self.loop, beacon=self.beacon)
        thread.fetch_max_wait_ms = getattr(self.app, "fetch_max_wait_ms", 1500)
        return thread


class Transport(driver.Transport):
    Consumer = _Consumer


def register() -> None:
    TRANSPORTS.aliases[SCHEME] = f"{__name__}:Transport"
