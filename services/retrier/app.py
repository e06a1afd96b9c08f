"""The retrier Faust app: one thin agent over ``order.api_failed`` and two timers. Its
``/metrics`` also carries the gauges read from PostgreSQL (one service exports them)."""

from __future__ import annotations

from typing import Any

from services.retrier.handlers import Retrier
from shared.messaging.faust_app import ServiceApp, consume, make_app, periodic, raw_topic
from shared.observability.gauges import DatabaseGauges
from shared.runtime import Runtime
from shared.settings import TOPIC_ORDER_API_FAILED, Settings

SERVICE = "retrier"


def bootstrap(settings: Settings, **overrides: Any) -> tuple[Runtime, Retrier]:
    runtime = Runtime(settings, SERVICE, needs_sunsky=True, **overrides)
    retrier = Retrier(settings, runtime.uow, runtime.sunsky, committed=runtime.committed)
    return runtime, retrier


def build_app(settings: Settings, **overrides: Any) -> ServiceApp:
    runtime, retrier = bootstrap(settings, **overrides)
    app = make_app(settings, SERVICE, runtime)
    consume(app, raw_topic(app, settings, TOPIC_ORDER_API_FAILED), "schedule_retries",
            retrier.handle, lambda: runtime.dead_letters)
    periodic(app, settings.retry_scan_seconds, retrier.release_due, "release_due_retries")
    periodic(app, settings.balance_check_seconds, retrier.release_for_balance,
             "release_for_balance")
    if app.ops is not None:
        app.ops.refresh = DatabaseGauges(runtime.uow, settings.orders_stuck_seconds).refresh
    return app
