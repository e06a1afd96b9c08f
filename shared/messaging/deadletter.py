"""Dead-letter topics: ``<topic>.dlq`` keeps the original key, bytes and headers, plus why.

Header names follow Kafka Connect's DLQ convention, under our own prefix, so an admin can read
the reason and ``dropship replay`` can send the record back to its original topic unchanged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

from shared.messaging.envelope import Envelope
from shared.messaging.publisher import Publisher
from shared.observability import metrics
from shared.settings import DLQ_SUFFIX

logger = logging.getLogger(__name__)

H_REASON = "dlq.reason"
H_ERROR = "dlq.error"
H_SERVICE = "dlq.service"
H_TOPIC = "dlq.original.topic"
H_PARTITION = "dlq.original.partition"
H_OFFSET = "dlq.original.offset"
H_AT = "dlq.at"


def dlq_topic_for(topic: str) -> str:
    return topic if topic.endswith(DLQ_SUFFIX) else topic + DLQ_SUFFIX


def dlq_headers(envelope: Envelope, *, reason: str, error: str, service: str,
                extra: Mapping[str, str] | None = None) -> list[tuple[str, bytes]]:
    """The record's own headers (earlier ``dlq.*`` ones dropped) plus ours; ``extra`` names
    must start with ``dlq.`` so that a replay's next dead-lettering replaces them too."""
    assert all(k.startswith("dlq.") for k in extra or {}), "extra DLQ headers are dlq.*"
    ours = {
        H_REASON: reason, H_ERROR: error[:2000], H_SERVICE: service, H_TOPIC: envelope.topic,
        H_PARTITION: str(envelope.partition), H_OFFSET: str(envelope.offset),
        H_AT: f"{time.time():.3f}", **{k: v[:2000] for k, v in (extra or {}).items()},
    }
    kept = [(k, v) for k, v in envelope.headers if not k.startswith("dlq.")]
    return kept + [(k, v.encode()) for k, v in ours.items()]


class DeadLetters:
    def __init__(self, publisher: Publisher, service: str) -> None:
        self._publisher, self._service = publisher, service

    async def send(self, envelope: Envelope, *, reason: str, error: str,
                   extra: Mapping[str, str] | None = None) -> None:
        topic = dlq_topic_for(envelope.topic)
        logger.error("dead-lettering %s key=%s to %s: %s: %s", envelope.where(), envelope.key,
                     topic, reason, error)
        headers = dlq_headers(envelope, reason=reason, error=error, service=self._service,
                              extra=extra)
        await self._publisher.publish(topic, envelope.key, envelope.value, headers)
        metrics.dead_lettered(envelope.topic, reason)
