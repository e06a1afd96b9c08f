"""``dropship outbox list|retry``: messages the relay could not publish (``application.outbox``)."""

from __future__ import annotations

import click

from application.outbox import outbox_status, retry_parked
from cli.common import with_context


@click.group()
def outbox() -> None:
    """Outgoing messages the services could not publish."""


@outbox.command("list")
def list_parked() -> None:
    """Parked messages (and how many of their order's messages wait behind each)."""
    status = with_context(outbox_status)
    click.echo(f"{status.unsent} message(s) not published yet, {status.parked_total} parked")
    if not status.parked:
        return
    click.echo(f"{'ID':>8}  {'TOPIC':<28} {'KEY':<12} {'TRIES':>5} {'BEHIND':>6}  "
               "PARKED AT            LAST ERROR")
    for parked in status.parked:
        row = parked.row
        at = f"{row.parked_at:%Y-%m-%d %H:%M:%S}" if row.parked_at else "-"
        error = (row.last_error or "").splitlines()[0][:80] if row.last_error else ""
        click.echo(f"{row.id:>8}  {row.topic[:28]:<28} {(row.key or '-')[:12]:<12} "
                   f"{row.attempts:>5} {parked.waiting_behind:>6}  {at:<20} {error}")
    click.echo("Fix the cause, then: dropship outbox retry [ID ...]")


@outbox.command("retry")
@click.argument("row_ids", nargs=-1, type=int)
def retry(row_ids: tuple[int, ...]) -> None:
    """Re-send parked messages (all of them when no ID is given), in their order."""
    result = with_context(lambda ctx: retry_parked(ctx, row_ids))
    for row_id in result.not_parked:
        click.echo(f"outbox row {row_id}: not parked (already sent, unknown, or still retrying)")
    click.echo(f"{len(result.released)} parked message(s) released, {result.published} "
               "published now" + ("" if result.released else "; nothing to do"))
