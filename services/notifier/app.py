"""The notifier Faust app (``dropship worker notifier``): one thin agent over the five topics
Perfex hears about, its own consumer group, no database.

Resources: a Kafka producer for dead letters and one long-lived ``httpx.AsyncClient`` (no
redirects, connections kept alive to the one webhook). ``check_settings`` runs before anything
connects, so a missing ``PERFEX_WEBHOOK_URL`` stops the worker with one line.
"""

from __future__ import annotations

from typing import Any

import httpx

from services.notifier.handlers import Notifier, webhook_target
from shared.messaging.deadletter import DeadLetters
from shared.messaging.faust_app import ServiceApp, consume, make_app, raw_topic
from shared.messaging.publisher import KafkaPublisher, Publisher
from shared.settings import NOTIFIED_TOPICS, Settings

SERVICE = "notifier"
USER_AGENT = "sunsky-dropship-notifier/1"


def check_settings(settings: Settings) -> None:
    """Raises ``ConfigurationError`` (one line) when the notifier cannot run."""
    webhook_target(settings)


class NotifierResources:
    def __init__(self, settings: Settings, *, publisher: Publisher | None = None,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._kafka = None if publisher else KafkaPublisher(
            settings.kafka_bootstrap_servers, client_id=settings.app_id(SERVICE))
        self.publisher: Publisher = publisher or self._kafka  # type: ignore[assignment]
        self.client = httpx.AsyncClient(transport=transport, follow_redirects=False,
                                        headers={"user-agent": USER_AGENT})

    async def start(self) -> None:
        if self._kafka is not None:
            await self._kafka.start()

    async def stop(self) -> None:
        await self.client.aclose()
        if self._kafka is not None:
            await self._kafka.stop()


def bootstrap(settings: Settings, **overrides: Any) -> tuple[NotifierResources, Notifier]:
    check_settings(settings)
    resources = NotifierResources(settings, **overrides)
    return resources, Notifier(settings, resources.client)


def build_app(settings: Settings, **overrides: Any) -> ServiceApp:
    resources, notifier = bootstrap(settings, **overrides)
    app = make_app(settings, SERVICE, resources)
    dead_letters = DeadLetters(resources.publisher, SERVICE)
    consume(app, raw_topic(app, settings, *NOTIFIED_TOPICS), "notify_perfex", notifier.handle,
            lambda: dead_letters)
    return app
