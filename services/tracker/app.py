"""The tracker Faust app: one thin agent over ``order.placed``, the SUNSKY callback endpoint and
the reconciliation sweep, all in one process (``dropship worker tracker``)."""

from __future__ import annotations

import asyncio
import logging
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
# Callbacks still waiting at a stop get this long to be verified, so that the relay's flush
# and the pool's close (3 s each at most, shared/runtime.py) and Faust's own stop still fit in
# WORKER_STOP_SECONDS (12 s).
STOP_VERIFY_SECONDS = 3.0

logger = logging.getLogger(__name__)


@dataclass
class TrackerParts:
    runtime: Runtime
    tracker: Tracker
    reconciler: Reconciler
    inbox: CallbackInbox
    server: CallbackServer


class TrackerResources:
    """The runtime plus what only the tracker has: the callback endpoint and its inbox."""

    def __init__(self, parts: TrackerParts, *, stop_seconds: float = STOP_VERIFY_SECONDS) -> None:
        self._parts, self._stop_seconds = parts, stop_seconds
        self._inbox_task: asyncio.Task[None] | None = None

    @property
    def pool(self) -> Any:  # /readyz checks the database through it
        return self._parts.runtime.pool

    async def start(self) -> None:
        await self._parts.runtime.start()
        self._inbox_task = asyncio.create_task(self._parts.inbox.run(), name="tracker-inbox")
        await self._parts.server.start()

    async def stop(self) -> None:
        await self._parts.server.stop()  # no callback comes in any more
        await self._verify_waiting()
        await self._parts.runtime.stop()

    async def _verify_waiting(self) -> None:
        """SUNSKY got its 200 for the callbacks in the inbox and will not send them again:
        verify them now instead of at the window's end, for at most ``stop_seconds``."""
        task, self._inbox_task = self._inbox_task, None
        if task is None:
            return
        inbox = self._parts.inbox
        inbox.close()
        try:
            await asyncio.wait_for(task, self._stop_seconds)
        except TimeoutError:  # the inbox put back the batch it was verifying
            logger.warning("stopping: %d SUNSKY callback numbers left to the sweep (not "
                           "verified within %gs)", inbox.pending, self._stop_seconds)
        except Exception as exc:  # the inbox's task failed before: still stop the runtime
            logger.error("stopping: the callback inbox had failed (%r); %d SUNSKY callback "
                         "numbers left to the sweep", exc, inbox.pending)


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
