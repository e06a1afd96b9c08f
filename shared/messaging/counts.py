"""How many records a topic holds (end minus start offset over its partitions): the admin
Health page's dead-letter counts, read with the plain Kafka protocol."""

from __future__ import annotations

from collections.abc import Sequence

from aiokafka import AIOKafkaConsumer, TopicPartition

from shared.settings import Settings

REQUEST_TIMEOUT_MS = 5000


async def topic_sizes(settings: Settings, topics: Sequence[str]) -> dict[str, int]:
    """Records currently retained per topic; a topic the broker does not know counts 0."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers,
                                enable_auto_commit=False, group_id=None,
                                request_timeout_ms=REQUEST_TIMEOUT_MS,
                                metadata_max_age_ms=REQUEST_TIMEOUT_MS)
    try:
        await consumer.start()
        known = await consumer.topics()
        partitions = [TopicPartition(t, p) for t in topics if t in known
                      for p in consumer.partitions_for_topic(t) or ()]
        starts = await consumer.beginning_offsets(partitions) if partitions else {}
        ends = await consumer.end_offsets(partitions) if partitions else {}
    finally:
        await consumer.stop()
    sizes = dict.fromkeys(topics, 0)
    for tp in partitions:
        sizes[tp.topic] += ends[tp] - starts[tp]
    return sizes
