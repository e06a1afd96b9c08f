"""``dropship ingest``: serve the signed Perfex ingest until SIGTERM, SIGINT or SIGHUP."""

from __future__ import annotations

import asyncio
import logging

import click

from cli.common import fail

logger = logging.getLogger(__name__)


@click.command()
@click.option("--host", default=None, help="Interface to listen on [default: INGEST_HOST, "
                                           "127.0.0.1].")
@click.option("--port", type=int, default=None, help="Port [default: INGEST_PORT, 8790].")
def ingest(host: str | None, port: int | None) -> None:
    """Accept the Perfex module's signed events on POST /v1/events and publish them."""
    from services.ingest.app import check_settings, serve
    from shared.db.connect import DatabaseUnavailable
    from shared.logs import configure_logging
    from shared.settings import ConfigurationError, load_settings

    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    try:
        check_settings(settings)
    except ConfigurationError as exc:
        fail(str(exc))
    logger.info("starting ingest with %s", settings.redacted())
    host, port = host or settings.ingest_host, settings.ingest_port if port is None else port
    try:
        asyncio.run(serve(settings, host, port))
    except DatabaseUnavailable as exc:
        fail(str(exc))
    except OSError as exc:  # the port is taken, the interface does not exist
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")
