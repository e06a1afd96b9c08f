"""Faust plumbing shared by every service: one app per service, raw bytes, thin agents.

Each service is its own Faust app id, hence its own consumer group: ops scale one service by
starting more processes of it, which split the topic's partitions. Agents run with
``concurrency=1`` (faust #606 can commit past an in-flight message otherwise) and values are
raw bytes, validated by our pydantic models, not Faust's codecs.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

import faust

from shared.messaging import faust_transport
from shared.messaging.deadletter import DeadLetters
from shared.messaging.envelope import Envelope
from shared.messaging.policy import Handler, process
from shared.settings import Settings

logger = logging.getLogger(__name__)


class Resources(Protocol):
    async def start(self) -> None: ...
    async def stop(self) -> None: ...


class ServiceApp(faust.App):
    """A Faust app that starts the service's resources before agents run, stops them after."""

    resources: Resources | None = None
    fetch_max_wait_ms: int = 1500  # read by shared.messaging.faust_transport

    async def on_start(self) -> None:
        await super().on_start()
        if self.resources is not None:
            await self.resources.start()

    async def on_stop(self) -> None:
        if self.resources is not None:
            await self.resources.stop()
        await super().on_stop()


def broker_urls(bootstrap: str) -> list[str]:
    faust_transport.register()
    scheme = faust_transport.SCHEME
    return [f"{scheme}://{host.strip()}" for host in bootstrap.split(",") if host.strip()]


def make_app(settings: Settings, service: str, resources: Resources) -> ServiceApp:
    datadir = Path(settings.state_dir).resolve() / "faust" / f"{service}-{os.getpid()}"
    datadir.parent.mkdir(parents=True, exist_ok=True)
    app = ServiceApp(
        settings.app_id(service),
        broker=broker_urls(settings.kafka_bootstrap_servers),
        value_serializer="raw",
        key_serializer="raw",
        web_enabled=False,
        store="memory://",
        datadir=str(datadir),
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.topic_replication,
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=settings.kafka_session_timeout_seconds,
        broker_heartbeat_interval=min(1.0, settings.kafka_session_timeout_seconds / 5),
        broker_commit_interval=1.0,
        producer_acks=-1,
    )
    app.resources = resources
    app.fetch_max_wait_ms = settings.kafka_fetch_max_wait_ms

    @app.on_partitions_assigned.connect
    async def _log_assignment(*args: Any, **kwargs: Any) -> None:
        assigned = next((a for a in (*args, *kwargs.values()) if isinstance(a, set)), set())
        names = sorted(f"{tp.topic}:{tp.partition}" for tp in assigned)
        # Tests and operators wait for this line: the worker now consumes these partitions.
        logger.info("%s assigned partitions: %s", service, " ".join(names) or "(none)")

    return app


def raw_topic(app: faust.App, settings: Settings, *names: str) -> Any:
    """A topic (or several, consumed as one stream) of raw bytes, with our prefix."""
    return app.topic(*(settings.topic(n) for n in names), value_type=bytes, key_type=bytes,
                     value_serializer="raw", key_serializer="raw",
                     partitions=settings.topic_partitions)


def consume(app: faust.App, topic: Any, name: str, handle: Handler,
            dead_letters: Callable[[], DeadLetters]) -> None:
    """The thin agent every service uses: bytes in, ``process`` under the error policy.

    ``isolated_partitions``: one actor per assigned partition, each strictly in order, so a
    slow SUNSKY call holds up only its own partition and offsets stay contiguous (the safe
    form of parallelism, unlike ``concurrency>1``, faust #606).
    """

    async def agent(stream: Any) -> None:
        async for event in stream.events():
            await process(Envelope.from_faust(event), handle, dead_letters())

    agent.__name__ = name
    app.agent(topic, name=name, isolated_partitions=True)(agent)


def periodic(app: faust.App, interval: float, job: Callable[[], Awaitable[Any]],
             name: str) -> None:
    """Run ``job`` every ``interval`` seconds in every worker process; a failing run is logged
    and the next one tries again (a timer that raised would stop the whole worker)."""

    async def tick() -> None:
        try:
            await job()
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("periodic job %s failed; next run in %.0fs", name, interval)

    tick.__name__ = name
    app.timer(interval, name=name)(tick)


class _Worker(faust.Worker):
    """Faust's worker, stopped as cleanly by SIGHUP (a closed terminal, a supervisor) as by
    SIGTERM: by default SIGHUP would end the process without stopping the app."""

    def _install_signal_handlers_unix(self) -> None:
        super()._install_signal_handlers_unix()
        self.loop.add_signal_handler(signal.SIGHUP, self._on_sigterm)


def run_worker(app: faust.App, loglevel: str = "info") -> None:
    """Run the app until SIGINT/SIGTERM/SIGHUP (blocks; owns the event loop)."""
    worker = _Worker(app, loglevel=loglevel, quiet=True)
    worker.execute_from_commandline()
