"""Place, Retry or Refresh many selected orders, with one result per order.

Each order is its own unit of work, so one refusal (or a SUNSKY error on one refresh) never
undoes the others; ``on_result`` hears each result as it comes (the admin API's job progress).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from application.context import AdminContext
from application.orders import RetrySelection, place_order, retry_orders
from application.tracking import refresh_order
from shared.domain.order import Order

BulkAction = Literal["place", "retry", "refresh"]
MAX_BULK = 1000
OK_OUTCOMES = frozenset({"queued", "updated", "changed", "unchanged"})


@dataclass(frozen=True)
class BulkResult:
    order_id: int
    ok: bool
    outcome: str
    message: str
    status: str | None = None  # the order's status afterwards, when there is an order


async def run_bulk(ctx: AdminContext, action: BulkAction, order_ids: Sequence[int], *,
                   actor: str, on_result: Callable[[BulkResult], None] = lambda r: None
                   ) -> list[BulkResult]:
    results = []
    for order_id in dict.fromkeys(order_ids):  # once each, in the order given
        result = await _one(ctx, action, order_id, actor)
        on_result(result)
        results.append(result)
    return results


async def _one(ctx: AdminContext, action: BulkAction, order_id: int, actor: str) -> BulkResult:
    if action == "place":
        placed = await place_order(ctx, order_id, actor=actor)
        return _result(order_id, placed.outcome, placed.message, placed.order)
    if action == "retry":
        (retried,) = await retry_orders(ctx, RetrySelection((order_id,)), actor=actor)
        return _result(order_id, retried.outcome, retried.message, retried.order)
    refreshed = await refresh_order(ctx, order_id, actor=actor)
    message = "; ".join([refreshed.message, *refreshed.changes])
    return _result(order_id, refreshed.outcome, message, refreshed.order)


def _result(order_id: int, outcome: str, message: str, order: Order | None) -> BulkResult:
    return BulkResult(order_id, outcome in OK_OUTCOMES, outcome, message,
                      order.status.label if order else None)
