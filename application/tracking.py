"""The admin's "Refresh from Sunsky": re-read one order now and apply what changed.

One ``getOrderDetails``, applied through the tracker's own code path
(``shared.lifecycle.tracking``: the pure ``decide_tracking``, the transition table, the outbox),
so a refresh and the tracker can never disagree on what an answer means.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from application.context import AdminContext
from shared.domain.order import Order
from shared.lifecycle.tracking import TrackingApplier
from shared.sunsky.errors import SunskyError

RefreshOutcome = Literal["changed", "unchanged", "not_found", "not_placed", "sunsky_unavailable"]


@dataclass(frozen=True)
class Refresh:
    order_id: int
    outcome: RefreshOutcome
    message: str
    order: Order | None = None
    changes: tuple[str, ...] = ()


async def refresh_order(ctx: AdminContext, order_id: int, *, actor: str) -> Refresh:
    applier = TrackingApplier(ctx.settings, ctx.uow, ctx.sunsky, clock=ctx.clock, actor=actor)
    try:
        result = await applier.refresh(order_id)
    except SunskyError as exc:
        return Refresh(order_id, "sunsky_unavailable",
                       f"SUNSKY did not answer for order {order_id}: {exc}")
    order = result.order
    if result.outcome == "not_found" or order is None:
        return Refresh(order_id, "not_found", f"no order {order_id}")
    if result.outcome == "not_placed" or order.sunsky is None:
        return Refresh(order_id, "not_placed", f"order {order_id} is {order.status.label}: it "
                       "has no SUNSKY order to refresh", order)
    head = f"order {order_id} (SUNSKY {order.sunsky.number}) is {order.status.label}"
    if result.outcome == "unchanged":
        return Refresh(order_id, "unchanged", f"{head}: nothing changed at SUNSKY", order)
    await ctx.publish_queued()
    return Refresh(order_id, "changed", f"{head}:", order, result.changes)
