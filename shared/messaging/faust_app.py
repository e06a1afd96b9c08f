"""Faust plumbing shared by every service: one app per service, raw bytes, thin agents.

Each service is its own Faust app id, hence its own consumer group: ops scale one service by
starting more processes of it, which split the topic's partitions. Agents run with
``concurrency=1`` (faust #606 can commit past an in-flight message otherwise) and values are
raw bytes, validated by our pydantic models, not Faust's codecs.

Faust's own web server (and with it its views of tables, routing and partition assignment) is
off (``web_enabled=False``); with ``METRICS_PORT`` set the app runs our operations listener
instead (``shared.observability.server``): ``/readyz`` passes while PostgreSQL answers and the
consumer holds an assignment and is not mid-rebalance.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

import faust

from shared import log_context
from shared.logs import install_redaction
from shared.messaging import faust_transport
from shared.messaging.deadletter import DeadLetters
from shared.messaging.envelope import Envelope
from shared.messaging.policy import Handler, process
from shared.observability import metrics
from shared.observability.server import OpsServer, pool_check
from shared.settings import Settings

logger = logging.getLogger(__name__)

WORKER_STOP_SECONDS = 12.0  # within the 15 s operators (and dropship dev) give a worker
EXIT_STOP_DEADLINE = 75  # EX_TEMPFAIL: stopped by the deadline, not cleanly
# How often a worker looks for partitions that started over (faust_transport.forget_restarted).
RESTART_CHECK_SECONDS = 5.0


class Resources(Protocol):
    """What a service starts before its agents run. One that has a database also has a
    ``pool`` attribute (None until started): ``/readyz`` then checks PostgreSQL too."""

    async def start(self) -> None: ...
    async def stop(self) -> None: ...


class ServiceApp(faust.App):
    """A Faust app that starts the service's resources before agents run, stops them after."""

    resources: Resources | None = None
    ops: OpsServer | None = None  # /metrics, /livez, /readyz when METRICS_PORT is set
    assigned: bool = False  # between a partition assignment and the next revocation
    fetch_max_wait_ms: int = 1500  # read by shared.messaging.faust_transport

    async def on_start(self) -> None:
        await super().on_start()
        if self.ops is not None:  # first: /livez answers while the database is still away
            await self.ops.start()
        if self.resources is not None:
            await self.resources.start()

    async def on_stop(self) -> None:
        if self.resources is not None:
            await self.resources.stop()
        if self.ops is not None:
            await self.ops.stop()
        await super().on_stop()

    async def consumer_ready(self) -> str:
        if self.rebalancing:
            return "fail: rebalancing"
        return "pass" if self.assigned else "fail: no partition assignment yet"


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
        # how soon a consumer sees a topic the topic keeper re-created (Kafka's default: 5 min)
        consumer_metadata_max_age_ms=int(max(5.0, settings.topic_check_seconds) * 1000),
    )
    app.resources = resources
    app.fetch_max_wait_ms = settings.kafka_fetch_max_wait_ms
    if settings.metrics_port:
        app.ops = OpsServer(service, settings.metrics_host, settings.metrics_port,
                            checks={"consumer": app.consumer_ready},
                            alive=lambda: not app.should_stop)
        if hasattr(resources, "pool"):
            app.ops.add_check("database", pool_check(lambda: resources.pool))

    @app.on_partitions_revoked.connect
    async def _revoked(*args: Any, **kwargs: Any) -> None:
        app.assigned = False

    async def forget_restarted() -> None:
        forget = getattr(app.consumer, "forget_restarted", None)
        if forget is not None:
            await forget()

    periodic(app, RESTART_CHECK_SECONDS, forget_restarted, "forget_restarted_partitions")

    @app.on_partitions_assigned.connect
    async def _log_assignment(*args: Any, **kwargs: Any) -> None:
        app.assigned = True
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
        token = id(asyncio.current_task())  # this partition's actor
        async for event in stream.events():
            message = Envelope.from_faust(event)
            log_context.start_message(topic=message.topic, partition=message.partition,
                                      offset=message.offset, key=message.key)
            started = metrics.message_started(name, token)
            try:
                fate = await process(message, handle, dead_letters())
            except BaseException:  # cancelled on revocation: not busy any more (no alert)
                metrics.message_abandoned(name, token)
                raise
            metrics.message_finished(name, token, message.topic, fate, started)

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


class Worker(faust.Worker):
    """Faust's worker with our redaction filter on the log handlers it installs, SIGHUP (a
    closed terminal, a supervisor) handled like SIGTERM (by default it would end the process
    without stopping the app), and a hard stop deadline.

    A stop signal starts a graceful stop; whatever still blocks ``WORKER_STOP_SECONDS`` later
    (Faust committing to a broker that is gone, a producer flushing into the void) does not keep
    the process: it exits then. Nothing is lost by it: a message is acked only once its
    transaction committed, so what was not committed is delivered again, and outbox rows are
    marked sent only after the broker acknowledged them.
    """

    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        super().on_setup_root_logger(logger, level)
        install_redaction(logger)  # and LOG_FORMAT's formatter

    def _install_signal_handlers_unix(self) -> None:
        super()._install_signal_handlers_unix()
        self.loop.add_signal_handler(signal.SIGHUP, self._on_sigterm)

    def _schedule_shutdown(self, signal: signal.Signals) -> None:  # mode.Worker's hook
        first = not self._signal_stop_time
        super()._schedule_shutdown(signal)
        if first:
            _exit_after(WORKER_STOP_SECONDS)


def _exit_after(seconds: float) -> None:
    def exit_now() -> None:
        logger.error("still stopping %.0fs after the stop signal: exiting now (messages not "
                     "committed are delivered again, unsent outbox rows stay queued)", seconds)
        for handler in logging.getLogger().handlers:
            with contextlib.suppress(Exception):
                handler.flush()
        os._exit(EXIT_STOP_DEADLINE)

    timer = threading.Timer(seconds, exit_now)
    timer.daemon = True
    timer.start()


def run_worker(app: faust.App, loglevel: str = "info") -> None:
    """Run the app until SIGINT/SIGTERM/SIGHUP (blocks; owns the event loop)."""
    worker = Worker(app, loglevel=loglevel, quiet=True)
    worker.execute_from_commandline()
