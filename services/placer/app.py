"""The placer Faust app: one thin agent over ``order.ready`` and the self-healing sweep."""

from __future__ import annotations

from typing import Any

from services.placer.handlers import Placer
from services.placer.sweeps import PlacerSweep
from shared.messaging.faust_app import ServiceApp, consume, make_app, periodic, raw_topic
from shared.runtime import Runtime
from shared.settings import TOPIC_ORDER_READY, Settings

SERVICE = "placer"


def bootstrap(settings: Settings, **overrides: Any) -> tuple[Runtime, Placer]:
    runtime = Runtime(settings, SERVICE, needs_sunsky=True, **overrides)
    placer = Placer(settings, runtime.uow, runtime.sunsky, committed=runtime.committed)
    return runtime, placer


def build_app(settings: Settings, **overrides: Any) -> ServiceApp:
    runtime, placer = bootstrap(settings, **overrides)
    app = make_app(settings, SERVICE, runtime)
    consume(app, raw_topic(app, settings, TOPIC_ORDER_READY), "place_orders", placer.handle,
            lambda: runtime.dead_letters)
    sweep = PlacerSweep(settings, runtime.uow, committed=runtime.committed)
    periodic(app, settings.sweep_interval_seconds, sweep.run_once, "placer_sweep")
    return app
