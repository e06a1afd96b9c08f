"""``dropship sandbox``: run the SUNSKY sandbox in the foreground until Ctrl-C."""

from __future__ import annotations

import logging
from decimal import Decimal, InvalidOperation

import click

from sandbox.config import SandboxConfig
from sandbox.runner import PortInUseError, serve

logger = logging.getLogger(__name__)


def _decimal(ctx: click.Context, param: click.Parameter, value: str | None) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(value)
    except InvalidOperation:
        raise click.BadParameter(f"not a number: {value!r}") from None


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535),
              help="TCP port (0: any free port).")
@click.option("--balance", callback=_decimal, default=None,
              help="Starting prepaid balance in USD  [default: 10000.0000].")
@click.option("--auto-advance", "auto_advance", type=click.FloatRange(min=0, min_open=True),
              default=None, metavar="SECONDS",
              help="Ship each paid order after SECONDS, deliver it SECONDS later.")
@click.option("--callback-retry-seconds", type=click.FloatRange(min=0), default=300.0,
              show_default=True, help="Re-send a callback this often until it gets HTTP 200.")
@click.option("--callback-url", default=None,
              help="Register a callback URL at start (else POST /_sandbox/callbacks).")
@click.option("--dedupe/--no-dedupe", default=True, show_default=True,
              help="Refuse a reused siteNumber (已下单); --no-dedupe creates a second order, "
                   "as the worst-case SUNSKY would.")
def sandbox(host: str, port: int, balance: Decimal | None, auto_advance: float | None,
            callback_retry_seconds: float, callback_url: str | None, dedupe: bool) -> None:
    """Run a fake SUNSKY Open API (key sandbox-key, secret sandbox-secret) with /_sandbox
    controls for tests and demos."""
    config = SandboxConfig(callback_retry_seconds=callback_retry_seconds,
                           auto_advance_seconds=auto_advance, callback_url=callback_url,
                           dedupe=dedupe)
    if balance is not None:
        config.initial_balance = balance
    try:
        serve(config, host, port)
    except PortInUseError:
        click.echo(f"error: port {port} on {host} is already in use; pick another with --port",
                   err=True)
        raise SystemExit(1) from None
    except OSError as exc:
        click.echo(f"error: cannot listen on {host}:{port}: {exc.strerror or exc}", err=True)
        raise SystemExit(1) from None
    click.echo("SUNSKY sandbox stopped")
