"""The placer Faust app: one thin agent over ``order.ready``."""

from __future__ import annotations

from typing import Any

from services.placer.handlers import Placer
from services.placer.sweeps import PlacerSweep
from shared.messaging.envelope import Envelope
from shared.messaging.faust_app import ServiceApp, make_app, periodic, raw_topic
from shared.messaging.policy import process
from shared.runtime import LazySunsky, Runtime
from shared.settings import TOPIC_ORDER_READY, Settings

SERVICE = "placer"


def bootstrap(settings: Settings, **overrides: Any) -> tuple[Runtime, Placer]:
    runtime = Runtime(settings, SERVICE, needs_sunsky=True, **overrides)
    placer = Placer(settings, runtime.uow, LazySunsky(runtime), committed=runtime.committed)
    return runtime, placer


def build_app(settings: Settings, **overrides: Any) -> ServiceApp:
    runtime, placer = bootstrap(settings, **overrides)
    app = make_app(settings, SERVICE, runtime)

    @app.agent(raw_topic(app, settings, TOPIC_ORDER_READY), name="place_orders")
    async def place_orders(stream: Any) -> None:
        async for event in stream.events():
            await process(Envelope.from_faust(event), placer.handle, runtime.dead_letters)

    sweep = PlacerSweep(settings, runtime.uow, committed=runtime.committed)
    periodic(app, settings.sweep_interval_seconds, sweep.run_once, "placer_sweep")
    return app
