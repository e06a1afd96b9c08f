"""Faust's aiokafka transport with a configurable fetch wait, and partitions that start over.

Faust hard-codes ``fetch_max_wait_ms=1500`` for its consumers. Measured on the embedded Tansu
broker (bench/pipeline.py), a Faust hop then took up to 1.5 s (a two-agent chain: p50 about
1.1 s per message) while a plain aiokafka consumer on the same broker saw new records in about
5 ms; the cause was not pinned down further. ``KAFKA_FETCH_MAX_WAIT_MS`` (setting
``kafka_fetch_max_wait_ms``, default 100) bounds it: the chain's p50 fell to about 80 ms. On
Apache Kafka a lower value only means more fetches while idle. The transport is selected with
the ``dropship-kafka://`` broker URL scheme (``register()``).

A partition that starts over (the embedded broker lost its data and re-created the topic;
on Kafka, a topic deleted and re-created) has offsets from 0 again, but Faust keeps the last
offset it read and silently drops every message below it ("DROPPED MESSAGE ROFF", debug
level only), so new work waits until the new offsets pass the old ones. ``forget_restarted``
notices a partition whose log end is below what was read from it and whose fetch position fell
back there too (the client reset to the new log's start), and forgets what Faust knew of it,
as a revocation would: the partition is read again from its new start
(at-least-once; every consumer here is idempotent).
"""

from __future__ import annotations

import logging
from typing import Any

from faust.transport.drivers import TRANSPORTS
from faust.transport.drivers import aiokafka as driver

SCHEME = "dropship-kafka"

logger = logging.getLogger(__name__)


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

    async def forget_restarted(self) -> list[Any]:
        """Partitions whose log now ends below the offset last read from them: forget what
        was read, acked and committed there and read them again from the start (see the module
        docstring); returns them. One ListOffsets request for all assigned partitions."""
        reads = {tp: read for tp, read in self._read_offset.items() if read is not None}
        if not reads:
            return []
        try:
            ends = await self.highwaters(*reads)
        except Exception:  # the broker is away or mid-rebalance: look again next time
            return []
        # Tansu may report the end of a partition short after multi-record batches, so a low end
        # alone proves nothing: the partition started over only if the consumer's own fetch
        # position fell back to or below what it read (reset to the new log's start).
        restarted = []
        for tp, read in reads.items():
            if (ends.get(tp) or 0) >= read:
                continue
            try:
                position = await self._thread.position(tp)
            except Exception:  # not assigned any more, or the broker is away: next time
                continue
            if position is not None and position <= read:
                restarted.append(tp)
        for tp in restarted:
            for known in (self._gap, self._acked, self._acked_index, self._committed_offset):
                known.pop(tp, None)
            await self.seek(tp, 0)  # Faust then forgets its read offset too
        if restarted:
            logger.warning("partitions started over (the broker lost their data?): reading "
                           "them again from the start: %s",
                           " ".join(sorted(f"{tp.topic}:{tp.partition}" for tp in restarted)))
        return restarted


class Transport(driver.Transport):
    Consumer = _Consumer


def register() -> None:
    TRANSPORTS.aliases[SCHEME] = f"{__name__}:Transport"
