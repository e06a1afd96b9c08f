"""Faust's aiokafka transport with a configurable fetch wait.

Faust hard-codes ``fetch_max_wait_ms=1500`` for its consumers. Measured on the embedded Tansu
broker (bench/pipeline.py), a Faust hop then took up to 1.5 s (a two-agent chain: p50 about
1.1 s per message) while a plain aiokafka consumer on the same broker saw new records in about
5 ms; the cause was not pinned down further. ``KAFKA_FETCH_MAX_WAIT_MS`` (setting
``kafka_fetch_max_wait_ms``, default 100) bounds it: the chain's p50 fell to about 80 ms. On
Apache Kafka a lower value only means more fetches while idle. The transport is selected with
the ``dropship-kafka://`` broker URL scheme (``register()``).
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
