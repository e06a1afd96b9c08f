"""``dropship replay``: re-run a window of a failed-order or dead-letter topic (the rules are
``application.replay``'s)."""

from __future__ import annotations

import getpass
from datetime import UTC, datetime

import click

from application.replay import ReplayRequest
from application.replay import replay as replay_window
from cli.common import as_utc, with_context


@click.command()
@click.option("--topic", required=True,
              help="order.api_failed, or a dead-letter topic such as invoice.paid.dlq")
@click.option("--since", type=click.DateTime(), help="Records at/after this time (UTC).")
@click.option("--until", type=click.DateTime(), help="Records before this time (default: now).")
@click.option("--to", "target", help="Send DLQ records here instead of their original topic.")
@click.option("--dry-run", is_flag=True, help="Show what would happen; change nothing.")
def replay(topic: str, since: datetime | None, until: datetime | None, target: str | None,
           dry_run: bool) -> None:
    """Replay failed orders (back to the placer) or dead-lettered messages (to their topic)."""
    request = ReplayRequest(topic, as_utc(since), as_utc(until) or datetime.now(UTC), target,
                            dry_run)

    def progress(line: str) -> None:
        click.echo(line, err=line.startswith("  ..."))

    outcome = with_context(lambda ctx: replay_window(ctx, request, actor=getpass.getuser(),
                                                     progress=progress))
    click.echo(outcome.line)
