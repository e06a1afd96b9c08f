"""``dropship dev``: the whole system on embedded defaults, stopped cleanly with Ctrl-C.

Brings up, in order: the embedded Kafka-compatible broker (unless KAFKA_BOOTSTRAP_SERVERS is
set), PostgreSQL (DATABASE_URL, else the local server, else an embedded one), migrations and
topics, the SUNSKY sandbox (unless SUNSKY_BASE_URL is set), then every worker service as its
own process, the admin console (``dropship admin serve``, with a ``dev`` operator whose
password is new on every start), and the Perfex connector: ``dropship ingest``
(INGEST_SECRET, else one made up for this run) and the notifier, which posts to
PERFEX_WEBHOOK_URL when set, else to a local ``php -S`` serving the Perfex module
(``devtools.perfex_dev``), else is off with a line saying why. Output of each is prefixed
with its name.

Whatever stops it, nothing it started stays behind: SIGINT (Ctrl-C), SIGTERM and SIGHUP (the
terminal closed) stop every child and the broker, at any stage; a closed output pipe (``| tee``
and Ctrl-C) does not cut that short; SIGKILL leaves the children to their parent-death signal
(``devtools.lifeline``). Started in the background with SIGINT ignored, it keeps ignoring it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

import click

from cli.common import fail
from cli.worker_cmd import SERVICES
from devtools.broker import BrokerError, EmbeddedBroker, free_port
from devtools.dev_connector import Connector, start_connector
from devtools.postgres import resolve_database_url
from devtools.supervisor import Child, Supervisor, dropship_argv, wait_http_ok
from shared.db.migrate import migrate
from shared.db.pool import create_pool
from shared.dev_file import DEV_PID_KEY, dev_settings_path
from shared.messaging.topics import ensure_topics
from shared.settings import SANDBOX_API_KEY, SANDBOX_API_SECRET, Settings


@click.command()
@click.option("--broker-port", default=9092, show_default=True)
@click.option("--sandbox-port", default=8765, show_default=True)
@click.option("--auto-advance", default=20.0, show_default=True,
              help="Sandbox: seconds per step paid->shipped->delivered (0: never).")
@click.option("--ingest-port", default=8790, show_default=True,
              help="The Perfex ingest (POST /v1/events).")
@click.option("--perfex-port", default=8791, show_default=True,
              help="The local Perfex module's webhook (php -S), when PHP and MariaDB are here.")
@click.option("--admin-port", default=8700, show_default=True,
              help="The admin console and API (0: do not start it).")
def dev(broker_port: int, sandbox_port: int, auto_advance: float, ingest_port: int,
        perfex_port: int, admin_port: int) -> None:
    """Run broker, database, sandbox, all workers, the admin console and the Perfex connector
    until Ctrl-C."""
    from shared.logs import configure_logging

    configure_logging(Settings().log_level)
    _stop_on_signals()
    broker = None
    if "KAFKA_BOOTSTRAP_SERVERS" not in os.environ:
        broker = _start_broker(broker_port)
    settings = Settings(kafka_bootstrap_servers=broker.bootstrap) if broker else Settings()
    supervisor, connector = None, None
    try:
        env = _prepare(settings)
        supervisor = _DevSupervisor(env, echo=sys.stdout, log_dir=_log_dir(settings))
        if "SUNSKY_BASE_URL" not in os.environ:
            env.update(_start_sandbox(supervisor, sandbox_port, auto_advance, settings))
        for name in SERVICES:
            if name != "notifier" and _available(name):
                supervisor.start(name, dropship_argv("worker", name), env)
        connector = start_connector(supervisor, env, ingest_port, perfex_port)
        login = _start_admin(supervisor, admin_port, settings, env) if admin_port else None
        dev_file = _write_dev_settings(settings, env)
        _banner(settings, env, dev_file, connector, login, supervisor.metrics_ports)
        _wait(supervisor)
    except KeyboardInterrupt:
        pass
    finally:
        _say("stopping...")
        dev_settings_path(settings.state_dir).unlink(missing_ok=True)
        if supervisor:
            supervisor.stop_all()
        if connector and connector.perfex:
            connector.perfex.drop()
        if broker:
            broker.stop()
        _say("stopped")


def _start_broker(port: int) -> EmbeddedBroker:
    broker = EmbeddedBroker(port=port)
    try:
        broker.start()
    except BrokerError as exc:
        fail(f"{exc} (or set KAFKA_BOOTSTRAP_SERVERS to use a running broker)")
    return broker


def _prepare(settings: Settings) -> dict[str, str]:
    async def main() -> str:
        url = await resolve_database_url(settings)
        pool = await create_pool(url, settings.database_schema, max_size=1)
        try:
            await migrate(pool, settings.database_schema)
        finally:
            await pool.close()
        await ensure_topics(settings)
        return url

    url = asyncio.run(main())
    return {"KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers, "DATABASE_URL": url}


def _start_sandbox(supervisor: Supervisor, port: int, auto_advance: float,
                   settings: Settings) -> dict[str, str]:
    argv = dropship_argv("sandbox", "--port", str(port), "--callback-retry-seconds", "5")
    if settings.tracker_callback_port:  # the tracker's endpoint, as a sales manager would set it
        argv += ["--callback-url", f"http://127.0.0.1:{settings.tracker_callback_port}"
                 f"{settings.tracker_callback_path}"]
    env = {"SUNSKY_BASE_URL": f"http://127.0.0.1:{port}", "SUNSKY_API_KEY": SANDBOX_API_KEY,
           "SUNSKY_API_SECRET": SANDBOX_API_SECRET, "SUNSKY_ACCOUNT_CALLS_PER_SECOND": "0"}
    if auto_advance > 0:
        argv += ["--auto-advance", str(auto_advance)]
        # Deliveries send no callback: sweep at the sandbox's pace so demo orders finish.
        env["TRACKER_SWEEP_SECONDS"] = str(max(auto_advance / 2, 2.0))
    supervisor.start("sandbox", argv)
    return env


DEV_USER = "dev"


def _start_admin(supervisor: Supervisor, port: int, settings: Settings,
                 env: dict[str, str]) -> tuple[str, str, str]:
    """Start ``dropship admin serve`` and give the dev operator a fresh password (created on
    the first run); returns (URL, user, password) for the banner."""
    password = secrets.token_urlsafe(12)
    asyncio.run(_dev_operator(settings.model_copy(update={
        "database_url": env["DATABASE_URL"]}), password))
    supervisor.start("admin", dropship_argv("admin", "serve", "--port", str(port)), env)
    url = f"http://127.0.0.1:{port}/"
    if not wait_http_ok(url + "healthz", 20, lambda: "admin" not in supervisor.dead()):
        fail(f"the admin console did not answer at {url}; see its log above")
    return url, DEV_USER, password


async def _dev_operator(settings: Settings, password: str) -> None:
    from application import accounts
    from application.context import admin_context

    async with admin_context(settings) as ctx:
        if not await accounts.set_password(ctx, DEV_USER, password):
            await accounts.add_user(ctx, DEV_USER, "operator", password)


def _available(service: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(SERVICES[service]) is not None
    except ModuleNotFoundError:  # a service not built yet
        return False


def _log_dir(settings: Settings) -> Path:
    path = Path(settings.state_dir) / "logs"
    path.mkdir(parents=True, exist_ok=True)
    return path


# What a command in another terminal needs to talk to this stack (shared.settings.load_settings).
DEV_KEYS = ("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL", "DATABASE_SCHEMA", "SUNSKY_BASE_URL",
            "SUNSKY_API_KEY", "SUNSKY_API_SECRET", "SUNSKY_ACCOUNT_CALLS_PER_SECOND",
            "TOPIC_PREFIX", "GROUP_PREFIX", "INGEST_SECRET", "INGEST_PORT")


def _write_dev_settings(settings: Settings, env: dict[str, str]) -> Path:
    """STATE_DIR/dev.env: the settings this stack chose, for every dropship command in another
    terminal (the environment still wins), valid while this process runs."""
    chosen = {"DATABASE_SCHEMA": settings.database_schema, "TOPIC_PREFIX": settings.topic_prefix,
              "GROUP_PREFIX": settings.group_prefix, **env}
    lines = [f"{DEV_PID_KEY}={os.getpid()}"]
    lines += [f"{key}={chosen[key]}" for key in DEV_KEYS if key in chosen]
    path = dev_settings_path(settings.state_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text("\n".join(lines) + "\n")
    return path


class _DevSupervisor(Supervisor):
    """Gives each service it starts (workers, ingest, admin) a free ``METRICS_PORT`` of its
    own, for the banner: one shared port would let only the first process bind it."""

    def __init__(self, env: Mapping[str, str], **kwargs: Any) -> None:
        super().__init__(env, **kwargs)
        self.metrics_ports: dict[str, int] = {}

    def start(self, name: str, argv: Sequence[str], env: Mapping[str, str] | None = None
              ) -> Child:
        if len(argv) > 3 and argv[3] in ("worker", "ingest", "admin"):
            self.metrics_ports[name] = free_port()
            env = {**(env or {}), "METRICS_PORT": str(self.metrics_ports[name])}
        return super().start(name, argv, env)


def _banner(settings: Settings, env: dict[str, str], dev_file: Path,
            connector: Connector, login: tuple[str, str, str] | None,
            metrics_ports: dict[str, int]) -> None:
    console = [f"  console     {login[0]}  (log in as {login[1]} / {login[2]})"] if login else []
    lines = [
        "", "sunsky-dropship is up:", *console,
        f"  broker      {settings.kafka_bootstrap_servers}",
        f"  SUNSKY      {env.get('SUNSKY_BASE_URL', settings.sunsky_base_url)}",
        f"  ingest      {connector.ingest_url}/v1/events (INGEST_SECRET in {dev_file})",
        f"  notifier    {connector.notifier_line}",
        f"  logs        {Path(settings.state_dir) / 'logs'}",
        "  metrics     /metrics, /livez, /readyz of each service:",
        *(f"    {name:<18} http://127.0.0.1:{port}/metrics"
          for name, port in metrics_ports.items()),
        f"  settings    {dev_file} (read by every dropship command run from here)",
        "In another terminal:",
        "  dropship demo publish --count 20     # Perfex-like invoice events",
        "  dropship orders list                 # watch them move",
    ]
    if connector.perfex:
        lines += [f"  {connector.perfex.harness_command('paid', '--invoice', 'contract_example')}"
                  "   # a Perfex invoice through the ingest",
                  f"  {connector.perfex.harness_command('dump')}   # what Perfex got back"]
    _say("\n".join([*lines, "Ctrl-C stops everything.", ""]))


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    for sig in STOP_SIGNALS:  # the clean-up runs once: later signals do not cut it short
        if signal.getsignal(sig) is _interrupt:
            signal.signal(sig, signal.SIG_IGN)
    raise KeyboardInterrupt  # as Ctrl-C: whatever dev is doing, its clean-up runs


def _stop_on_signals() -> None:
    """SIGINT, SIGTERM and SIGHUP (a closed terminal) stop dev at any stage, so no child (each
    in its own session) outlives it. A SIGINT ignored on entry (started in the background by
    a shell) stays ignored."""
    for sig in STOP_SIGNALS:
        if signal.getsignal(sig) is not signal.SIG_IGN:
            signal.signal(sig, _interrupt)


def _say(text: str) -> None:
    """Print, unless the terminal or pipe is gone (``| tee`` and Ctrl-C): stopping must not
    fail on a closed stdout."""
    try:
        click.echo(text)
    except OSError:
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _wait(supervisor: Supervisor) -> None:
    while True:
        time.sleep(0.5)
        for name in supervisor.dead():
            fail(f"{name} exited unexpectedly; see its log above")
