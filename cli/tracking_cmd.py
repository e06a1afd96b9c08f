"""``dropship orders refresh ID``: the admin's "Refresh from Sunsky" (``application.tracking``)."""

from __future__ import annotations

import click

from application.tracking import refresh_order
from cli.common import SETTINGS_ACTOR, fail, with_context


@click.command("refresh")
@click.argument("order_id", type=int)
def refresh(order_id: int) -> None:
    """Re-read one order from SUNSKY now and apply what changed."""
    result = with_context(lambda ctx: refresh_order(ctx, order_id, actor=SETTINGS_ACTOR))
    if result.outcome not in ("changed", "unchanged"):
        fail(result.message)
    click.echo("\n".join([result.message, *(f"  {change}" for change in result.changes)]))
