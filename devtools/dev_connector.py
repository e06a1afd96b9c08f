"""The Perfex connector in ``dropship dev``: the ingest, and the notifier pointed somewhere real.

- ``dropship ingest --port INGEST_PORT`` with ``INGEST_SECRET`` from the environment, else a
  fresh one for this run (written to ``STATE_DIR/dev.env``, mode 600, for the Perfex module you
  point at it);
- the notifier posts to ``PERFEX_WEBHOOK_URL`` when it is set (with ``PERFEX_WEBHOOK_SECRET``);
  else to a local Perfex module under ``php -S`` when PHP and MariaDB are here
  (``devtools.perfex_dev``); else it is not started, and one line says why.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import click

from devtools import perfex_dev
from devtools.supervisor import Supervisor, dropship_argv
from services.notifier.handlers import loggable_url
from shared.settings import ConfigurationError, Settings


@dataclass(frozen=True)
class Connector:
    ingest_url: str
    notifier_line: str
    perfex: perfex_dev.LocalPerfex | None = None


def start_connector(supervisor: Supervisor, env: dict[str, str], ingest_port: int,
                    perfex_port: int) -> Connector:
    env["INGEST_SECRET"] = os.environ.get("INGEST_SECRET") or perfex_dev.new_secret()
    env["INGEST_PORT"] = str(ingest_port)
    supervisor.start("ingest", dropship_argv("ingest", "--port", str(ingest_port)), env)
    ingest_url = f"http://127.0.0.1:{ingest_port}"
    if os.environ.get("PERFEX_WEBHOOK_URL"):
        return _configured_perfex(supervisor, env, ingest_url)
    perfex = perfex_dev.start(supervisor, perfex_port, ingest_url, env["INGEST_SECRET"])
    if isinstance(perfex, str):
        return _off(ingest_url, perfex)
    supervisor.start("notifier", dropship_argv("worker", "notifier"), {
        **env, "PERFEX_WEBHOOK_URL": perfex.webhook_url,
        "PERFEX_WEBHOOK_SECRET": perfex.webhook_secret})
    return Connector(ingest_url, f"-> {perfex.webhook_url} (the Perfex module under php -S, "
                     f"MariaDB database {perfex.database})", perfex)


def _configured_perfex(supervisor: Supervisor, env: dict[str, str],
                       ingest_url: str) -> Connector:
    from services.notifier.app import check_settings

    try:
        check_settings(Settings())
    except ConfigurationError as exc:
        return _off(ingest_url, str(exc))
    supervisor.start("notifier", dropship_argv("worker", "notifier"), env)
    url = loggable_url(os.environ["PERFEX_WEBHOOK_URL"])
    return Connector(ingest_url, f"-> {url} (PERFEX_WEBHOOK_URL)")


def _off(ingest_url: str, reason: str) -> Connector:
    click.echo(f"notifier: not started: {reason}")
    return Connector(ingest_url, f"off: {reason}")
