"""``dropship broker|postgres``: the local development stack in the foreground.

Both run until Ctrl-C or SIGTERM. Production runs Apache Kafka and its own PostgreSQL; these are
for a developer's machine and the tests.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType

import click

from cli.common import fail as _fail
from shared.settings import load_settings

logger = logging.getLogger(__name__)


@click.command()
@click.option("--port", default=9092, show_default=True, type=int, help="TCP port to listen on.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
def broker(port: int, host: str) -> None:
    """Run the embedded Kafka-compatible broker (Tansu, in-memory) in the foreground."""
    from devtools.broker import BrokerError, EmbeddedBroker

    embedded = EmbeddedBroker(port=port, host=host)
    with _stop_signals() as stop:  # before anything starts: a signal at any moment is a stop
        try:
            embedded.start()
        except BrokerError as exc:
            _fail(str(exc).splitlines()[0])
        try:
            click.echo(
                f"Kafka-compatible broker (Tansu, in-memory) listening on {embedded.bootstrap}")
            signalled = _wait_for(stop, lambda: embedded.is_running)
        finally:
            embedded.stop()
    if not signalled:
        _fail("the broker process exited unexpectedly")
    click.echo("broker stopped")


@click.command()
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="PostgreSQL data directory [default: STATE_DIR/pgdata].",
)
def postgres(data_dir: Path | None) -> None:
    """Run an embedded PostgreSQL in the foreground and print its URL."""
    from devtools.postgres import start_embedded_postgres, stop_embedded_postgres

    directory = data_dir or Path(load_settings().state_dir) / "pgdata"
    with _stop_signals() as stop:
        url = start_embedded_postgres(directory)
        try:
            click.echo(f"Embedded PostgreSQL running (data in {directory}): {url}")
            click.echo(f"export DATABASE_URL='{url}'")
            _wait_for(stop, lambda: True)
        finally:
            stop_embedded_postgres(directory)
    click.echo("PostgreSQL stopped")


@contextlib.contextmanager
def _stop_signals() -> Iterator[threading.Event]:
    """SIGINT/SIGTERM/SIGHUP set the event instead of ending the process, from the moment the
    block starts (a signal that came before the handlers would kill the process without its
    clean-up). A SIGINT ignored on entry (started in the background) stays ignored; SIGKILL is
    the child's parent-death signal's business (``devtools.lifeline``)."""
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        logger.info("Received %s, stopping", signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, _on_signal)
                for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
                if signal.getsignal(sig) is not signal.SIG_IGN}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _wait_for(stop: threading.Event, alive: Callable[[], bool]) -> bool:
    """Block until a stop signal (True) or until ``alive()`` turns false (False).

    On Ctrl-C the terminal signals the child processes too; a child that dies of it at the same
    moment is a clean stop, hence the signal wins over ``alive()``.
    """
    while alive() and not stop.wait(0.5):
        pass
    return stop.wait(0.2)
