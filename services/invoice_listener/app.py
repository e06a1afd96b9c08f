"""The invoice_listener Faust app: one thin agent over the two Perfex topics."""

from __future__ import annotations

from typing import Any

from services.invoice_listener.handlers import InvoiceListener
from shared.messaging.faust_app import ServiceApp, consume, make_app, raw_topic
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
    consume(app, topics, "invoice_events", listener.handle, lambda: runtime.dead_letters)
    return app
