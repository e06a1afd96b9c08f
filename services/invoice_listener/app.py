"""The invoice_listener Faust app: two thin agents over the Perfex topics."""

from __future__ import annotations

from typing import Any

from services.invoice_listener.handlers import InvoiceListener
from shared.messaging.envelope import Envelope
from shared.messaging.faust_app import ServiceApp, make_app, raw_topic
from shared.messaging.policy import process
from shared.runtime import Runtime
from shared.settings import TOPIC_INVOICE_CREATED, TOPIC_INVOICE_PAID, Settings

SERVICE = "invoice-listener"


def bootstrap(settings: Settings, **overrides: Any) -> tuple[Runtime, InvoiceListener]:
    runtime = Runtime(settings, SERVICE, **overrides)
    listener = InvoiceListener(settings, runtime.uow, committed=runtime.committed)
    return runtime, listener


def build_app(settings: Settings, **overrides: Any) -> ServiceApp:
    runtime, listener = bootstrap(settings, **overrides)
    app = make_app(settings, SERVICE, runtime)
    topics = raw_topic(app, settings, TOPIC_INVOICE_CREATED, TOPIC_INVOICE_PAID)

    @app.agent(topics, name="invoice_events")
    async def invoice_events(stream: Any) -> None:
        async for event in stream.events():
            await process(Envelope.from_faust(event), listener.handle, runtime.dead_letters)

    return app
