"""The tracker Faust app: one thin agent over ``order.placed``, the SUNSKY callback endpoint and
the reconciliation sweep, all in one process (``dropship worker tracker``)."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any

from services.tracker.callbacks import CallbackInbox, CallbackServer
from services.tracker.handlers import Tracker
from services.tracker.reconcile import Reconciler
from shared.messaging.faust_app import ServiceApp, consume, make_app, periodic, raw_topic
from shared.runtime import Runtime
from shared.settings import TOPIC_ORDER_PLACED, Settings
from shared.sunsky.budget import Priority

SERVICE = "tracker"


@dataclass
class TrackerParts:
    runtime: Runtime
    tracker: Tracker
    reconciler: Reconciler
    inbox: CallbackInbox
    server: CallbackServer


class TrackerResources:
    """The runtime plus what only the tracker has: the callback endpoint and its inbox."""

    def __init__(self, parts: TrackerParts) -> None:
        self._parts = parts
        self._inbox_task: asyncio.Task[None] | None = None

    @property
    def pool(self) -> Any:  # /readyz checks the database through it
        return self._parts.runtime.pool

    async def start(self) -> None:
        await self._parts.runtime.start()
        self._inbox_task = asyncio.create_task(self._parts.inbox.run(), name="tracker-inbox")
        await self._parts.server.start()

    async def stop(self) -> None:
        await self._parts.server.stop()
        if self._inbox_task is not None:
            self._inbox_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._inbox_task
            self._inbox_task = None
        await self._parts.runtime.stop()


def bootstrap(settings: Settings, **overrides: Any) -> TrackerParts:
    runtime = Runtime(settings, SERVICE, needs_sunsky=True,
                      sunsky_priority=Priority.TRACKING, **overrides)
    sunsky = runtime.sunsky
    tracker = Tracker(settings, runtime.uow, sunsky, committed=runtime.committed)
    reconciler = Reconciler(settings, runtime.uow, sunsky, tracker)
    # a callback waits at most a sweep interval: the sweep would find its change by then
    window = min(settings.tracker_callback_batch_seconds, settings.tracker_sweep_seconds)
    inbox = CallbackInbox(reconciler.verify, batch_seconds=window,
                          batch_max=settings.tracker_callback_batch_max)
    return TrackerParts(runtime, tracker, reconciler, inbox, CallbackServer(settings, inbox))


def build_app(settings: Settings, **overrides: Any) -> ServiceApp:
    parts = bootstrap(settings, **overrides)
    app = make_app(settings, SERVICE, TrackerResources(parts))
    runtime = parts.runtime

    consume(app, raw_topic(app, settings, TOPIC_ORDER_PLACED), "track_orders",
            parts.tracker.handle, lambda: runtime.dead_letters)

    # Ticks often; the sweep itself checks (under an advisory lock) whether one is due.
    tick = max(0.05, min(settings.tracker_sweep_seconds / 5, 60.0))
    periodic(app, tick, parts.reconciler.sweep, "tracker_sweep")
    return app
