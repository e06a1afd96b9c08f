"""Creating and listing the lifecycle topics (names in ``shared.settings.ALL_TOPICS``).

Automatic topic creation is off in production, so every service start and ``dropship topics``
create the topics they need explicitly with the configured partition count. Creating a topic that
exists is a no-op. Note that aiokafka's admin client does not raise on per-topic errors: it returns
them in the response, so they are checked here.

A broker that lost its topics (the embedded one restarted, a cluster rebuilt) must not wait for
a person: every service runs a ``TopicKeeper`` that re-creates missing topics every
``TOPIC_CHECK_SECONDS`` and whenever the outbox relay failed to publish. It keeps all the
lifecycle topics, not only the service's own: every service's relay publishes from the one
shared outbox, so any of them may need any topic.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, KafkaError, TopicAlreadyExistsError, for_code

from shared.settings import ALL_TOPICS, Settings

logger = logging.getLogger(__name__)

_REQUEST_TIMEOUT_MS = 10_000


class BrokerUnavailable(RuntimeError):
    """No Kafka broker answered at the bootstrap address in time."""


async def wait_for_broker(bootstrap: str, timeout: float) -> None:  # noqa: ASYNC109
    """Return once the broker answers a metadata request; raise ``BrokerUnavailable`` after."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            async with asyncio.timeout(max(1.0, deadline - time.monotonic())):
                async with _admin(bootstrap) as admin:
                    await admin.list_topics()
            return
        except (KafkaError, OSError, TimeoutError) as exc:
            if time.monotonic() >= deadline:
                raise BrokerUnavailable(
                    f"no Kafka broker answered at {bootstrap} within {timeout:g}s: {exc!r}"
                ) from exc
        await asyncio.sleep(0.25)


async def ensure_topics(settings: Settings, names: Iterable[str] = ALL_TOPICS) -> None:
    """Create ``settings.topic(name)`` for each name; existing topics are left alone."""
    wanted = [settings.topic(name) for name in names]
    await wait_for_broker(settings.kafka_bootstrap_servers, settings.kafka_wait_seconds)
    new_topics = [
        NewTopic(name, settings.topic_partitions, settings.topic_replication) for name in wanted
    ]
    created = await _create(settings.kafka_bootstrap_servers, new_topics,
                            settings.kafka_wait_seconds)
    logger.info(
        "Topics ready on %s: %d created, %d already there",
        settings.kafka_bootstrap_servers,
        len(created),
        len(wanted) - len(created),
    )


async def _create(bootstrap: str, new_topics: list[NewTopic], wait_seconds: float,
                  attempts: int = 3) -> list[str]:
    """CreateTopics, retried when the connection drops (a broker that is just restarting)."""
    for attempt in range(1, attempts + 1):
        try:
            async with _admin(bootstrap) as admin:
                response = await admin.create_topics(new_topics)
            return _raise_for_errors(response.topic_errors)
        except KafkaConnectionError:
            if attempt == attempts:
                raise
            logger.warning("Broker %s dropped the connection; retrying topic creation", bootstrap)
            await wait_for_broker(bootstrap, wait_seconds)
    raise AssertionError("unreachable")


class TopicKeeper:
    """Makes sure ``names`` (with the prefix) exist; answers within ``timeout`` seconds."""

    def __init__(self, settings: Settings, names: Iterable[str] = ALL_TOPICS, *,
                 timeout: float = 10.0) -> None:
        self._settings, self._timeout = settings, timeout
        self._wanted = {settings.topic(name): name for name in names}

    async def ensure(self, topics: Iterable[str] = ()) -> list[str]:
        """Create what is missing; returns the topics created. ``topics`` (say, those a publish
        just failed on) are checked too when they are ours; others are logged and left alone.
        Raises ``BrokerUnavailable`` when the broker does not answer."""
        strangers = sorted(set(topics) - set(self._wanted))
        if strangers:
            logger.warning("not re-creating topics this service does not know: %s", strangers)
        bootstrap = self._settings.kafka_bootstrap_servers
        try:
            async with asyncio.timeout(self._timeout), _admin(bootstrap) as admin:
                existing = set(await admin.list_topics())  # all topics: never auto-creates
        except (KafkaError, OSError, TimeoutError) as exc:
            raise BrokerUnavailable(f"no Kafka broker answered at {bootstrap}: {exc!r}") from exc
        missing = [name for full, name in self._wanted.items() if full not in existing]
        if not missing:
            return []
        settings = self._settings
        created = await _create(bootstrap, [NewTopic(settings.topic(n), settings.topic_partitions,
                                                     settings.topic_replication)
                                            for n in missing], settings.kafka_wait_seconds)
        if created:
            logger.warning("created %d missing topic(s) on %s: %s", len(created), bootstrap,
                           " ".join(sorted(created)))
        return created


async def list_topics(settings: Settings) -> list[str]:
    """Topic names on the broker that carry ``settings.topic_prefix``, sorted."""
    async with _admin(settings.kafka_bootstrap_servers) as admin:
        names = await admin.list_topics()
    return sorted(n for n in names if n.startswith(settings.topic_prefix))


def _raise_for_errors(topic_errors: Sequence[Sequence[Any]]) -> list[str]:
    """Names created now; raises the first error other than 'already exists'."""
    created: list[str] = []
    for entry in topic_errors:  # (name, error_code) or (name, error_code, error_message)
        name, code = str(entry[0]), int(entry[1])
        message = entry[2] if len(entry) > 2 else None
        if code == 0:
            created.append(name)
        elif code != TopicAlreadyExistsError.errno:
            raise for_code(code)(f"creating topic {name}: {message}")
    return created


@asynccontextmanager
async def _admin(bootstrap: str) -> AsyncIterator[AIOKafkaAdminClient]:
    """A started admin client, closed again even when ``start()`` failed."""
    client = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, request_timeout_ms=_REQUEST_TIMEOUT_MS
    )
    try:
        await client.start()
        yield client
    finally:
        await client.close()
