"""``dropship orders refresh ID``: the admin's "Refresh from Sunsky" button.

Reads the order from SUNSKY now (one ``getOrderDetails``) and applies it through the tracker's
own code path (``Tracker.apply``: the transition table, the outbox), then prints what changed.
"""

from __future__ import annotations

import click

from cli.common import AdminSession, fail, with_session
from services.tracker.handlers import Refreshed, Tracker
from shared.sunsky.client import SunskyClient
from shared.sunsky.errors import SunskyError

ACTOR = "admin-cli"


@click.command("refresh")
@click.argument("order_id", type=int)
def refresh(order_id: int) -> None:
    """Re-read one order from SUNSKY now and apply what changed."""

    async def body(session: AdminSession) -> Refreshed | str:
        async with SunskyClient.from_settings(session.settings) as sunsky:
            tracker = Tracker(session.settings, session.uow, sunsky, actor=ACTOR)
            try:
                result = await tracker.refresh(order_id)
            except SunskyError as exc:
                return f"SUNSKY did not answer for order {order_id}: {exc}"
        if result.outcome == "changed":
            await session.flush_outbox()
        return result

    result = with_session(body)
    if isinstance(result, str):
        fail(result)
    click.echo("\n".join(describe(order_id, result)))


def describe(order_id: int, result: Refreshed) -> list[str]:
    if result.outcome == "not_found":
        fail(f"no order {order_id}")
    order = result.order
    assert order is not None
    if result.outcome == "not_placed" or order.sunsky is None:
        fail(f"order {order_id} is {order.status.label}: it has no SUNSKY order to refresh")
    head = f"order {order_id} (SUNSKY {order.sunsky.number}) is {order.status.label}"
    if result.outcome == "unchanged":
        return [f"{head}: nothing changed at SUNSKY"]
    return [f"{head}:", *(f"  {change}" for change in result.changes)]
