"""``dropship orders retry`` and ``dropship orders edit-address``: a person fixes the cause
(balance, address), then sends failed orders back to the placer (``application.orders``)."""

from __future__ import annotations

from datetime import datetime

import click

from application import orders as use
from application.orders import RetrySelection
from cli.common import ACTOR, as_utc, fail, with_context


@click.command()
@click.argument("order_ids", nargs=-1, type=int)
@click.option("--status", type=click.Choice(["api_failed"]),
              help="Bulk: every order in this status (API Failed).")
@click.option("--code", help="Bulk: only orders whose last error has this code.")
@click.option("--since", type=click.DateTime(), help="Bulk: only orders created since (UTC).")
def retry(order_ids: tuple[int, ...], status: str | None, code: str | None,
          since: datetime | None) -> None:
    """Send API Failed orders back to the placer after fixing the cause."""
    if not order_ids and not status:
        fail("name order ids, or --status api_failed for a bulk retry")
    selection = RetrySelection(order_ids, code, as_utc(since))
    results = with_context(lambda ctx: use.retry_orders(ctx, selection, actor=ACTOR))
    click.echo("\n".join(r.line for r in results) if results else "no matching orders")
    queued = sum(1 for r in results if r.outcome == "queued")
    click.echo(f"{queued} queued, {len(results) - queued} not retried")
    if any(r.outcome == "not_found" for r in results):
        raise SystemExit(1)


@click.command("edit-address")
@click.argument("order_id", type=int)
@click.option("--recipient")
@click.option("--phone")
@click.option("--email")
@click.option("--company")
@click.option("--street", "address_line1")
@click.option("--street2", "address_line2")
@click.option("--city")
@click.option("--state")
@click.option("--postcode")
@click.option("--country", "country_iso2", help="ISO alpha-2, e.g. US")
def edit_address(order_id: int, **fields: str | None) -> None:
    """Correct an order's shipping details before it is (re)placed."""
    changes = {k: v for k, v in fields.items() if v is not None}
    if not changes:
        fail("nothing to change: give at least one of --street, --city, --postcode, ...")
    action = with_context(lambda ctx: use.edit_address(ctx, order_id, changes, actor=ACTOR))
    if action.outcome != "updated":
        fail(action.line)
    click.echo(action.line)
