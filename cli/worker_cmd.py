"""``dropship worker NAME``: run one service as its own process (its own consumer group)."""

from __future__ import annotations

import asyncio
import importlib
import logging

import click

from cli.common import fail
from shared.settings import ConfigurationError, load_settings, url_password

logger = logging.getLogger(__name__)

SERVICES = {
    "invoice-listener": "services.invoice_listener.app",
    "placer": "services.placer.app",
    "tracker": "services.tracker.app",
    "retrier": "services.retrier.app",
    "notifier": "services.notifier.app",
}


@click.command()
@click.argument("name", type=click.Choice(sorted(SERVICES)))
def worker(name: str) -> None:
    """Run one worker service until Ctrl-C. Start more processes of it to scale out."""
    from shared.logs import configure_logging, register_secret
    from shared.messaging.faust_app import run_worker
    from shared.messaging.topics import ensure_topics

    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    register_secret(settings.sunsky_api_secret.get_secret_value(),
                    url_password(settings.database_url))
    module = importlib.import_module(SERVICES[name])
    try:  # before anything connects: a worker that cannot run says why in one line
        getattr(module, "check_settings", lambda s: None)(settings)
    except ConfigurationError as exc:
        fail(str(exc))
    logger.info("starting %s with %s", name, settings.redacted())
    asyncio.run(ensure_topics(settings))
    app = module.build_app(settings)
    run_worker(app, loglevel=settings.log_level.lower())
