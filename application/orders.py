"""Admin use cases over orders: list, details, place, retry, edit the address, accept the
address SUNSKY ships to.

Every change goes through the domain's transition table and the outbox, exactly like the
services do: a manual placement and a retry both go through ``shared.lifecycle.requeue``, the
placer's one way in. Only accepting SUNSKY's address reads SUNSKY (is its order still live, and
where does it ship now?); nothing here creates an order there. An order SUNSKY already holds is
never placed again; an order whose address is still incomplete is refused with the reason.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

from application.context import AdminContext
from schemas.orders import ReadyReason
from shared.db.repository import OrderFilter, UnitOfWork
from shared.domain import adoption
from shared.domain.intake import validate_for_placement
from shared.domain.order import (
    ADDRESS_EDITABLE,
    ADDRESS_FIELDS,
    Order,
    OrderStatus,
    StatusChange,
)
from shared.lifecycle.placed import address_of, placement_of, save_placed
from shared.lifecycle.requeue import requeue
from shared.settings import Settings
from shared.sunsky.errors import SunskyError
from shared.sunsky.models import SunskyOrder

logger = logging.getLogger(__name__)

Outcome = Literal["queued", "skipped", "refused", "not_found", "updated", "placed"]
BULK_LIMIT = 10_000


@dataclass(frozen=True)
class OrderAction:
    """One order's result: ``message`` says it for a person (the CLI prints ``line``)."""

    order_id: int
    outcome: Outcome
    message: str
    order: Order | None = None

    @property
    def line(self) -> str:
        return f"order {self.order_id}: {self.message}"


@dataclass(frozen=True)
class OrderDetails:
    order: Order
    history: list[StatusChange]
    synced_at: datetime | None = None  # read time of the last SUNSKY view applied


@dataclass(frozen=True)
class RetrySelection:
    """These orders, or (no ids) every API Failed order, optionally by code and age."""

    order_ids: tuple[int, ...] = ()
    code: str | None = None
    created_since: datetime | None = None


async def list_orders(ctx: AdminContext, flt: OrderFilter) -> list[Order]:
    async with ctx.uow() as uow:
        return await uow.orders.list_orders(flt)


async def order_details(ctx: AdminContext, order_id: int) -> OrderDetails | None:
    async with ctx.uow() as uow:
        order = await uow.orders.get(order_id)
        if order is None:
            return None
        return OrderDetails(order, await uow.orders.history(order_id),
                            await uow.tracking.synced_at(order_id))


async def place_order(ctx: AdminContext, order_id: int, *, actor: str) -> OrderAction:
    """"Place to Sunsky": a Ready to Place order goes to the placer now."""
    async with ctx.uow() as uow:
        order = await uow.orders.get(order_id, for_update=True)
        if order is None:
            return OrderAction(order_id, "not_found", "not found")
        if order.status != OrderStatus.READY_TO_PLACE:
            return OrderAction(order_id, "refused", f"it is {order.status.label}; only Ready to "
                               "Place orders can be placed (retry an API Failed one instead)",
                               order)
        order = await requeue(uow, ctx.settings, order, actor=actor, reason="manual",
                              note="placed by hand", now=ctx.clock())
        await uow.commit()
    await ctx.publish_queued()
    return OrderAction(order_id, "queued", "queued for placement (order.ready)", order)


async def retry_orders(ctx: AdminContext, selection: RetrySelection, *,
                       actor: str) -> list[OrderAction]:
    """Send API Failed orders back to the placer after a person fixed the cause."""
    async with ctx.uow() as uow:
        orders = await _select(uow, selection)
        results = [await retry_one(uow, ctx.settings, order, actor=actor, now=ctx.clock())
                   for order in orders]
        await uow.commit()
    if any(r.outcome == "queued" for r in results):
        await ctx.publish_queued()
    found = {o.id for o in orders}
    return results + [OrderAction(i, "not_found", "not found")
                      for i in selection.order_ids if i not in found]


async def _select(uow: UnitOfWork, selection: RetrySelection) -> list[Order]:
    if selection.order_ids:
        found = [await uow.orders.get(i, for_update=True) for i in selection.order_ids]
        return [o for o in found if o is not None]
    flt = OrderFilter(status=OrderStatus.API_FAILED, error_code=selection.code,
                      created_from=selection.created_since, limit=BULK_LIMIT)
    return [o for o in await uow.orders.list_orders(flt) if o.id is not None]


async def retry_one(uow: UnitOfWork, settings: Settings, order: Order, *, actor: str,
                    now: datetime, note: str = "admin retry", reason: ReadyReason = "retry",
                    headers: dict[str, str] | None = None) -> OrderAction:
    """One order's retry, or why not, in the caller's unit of work (retry and replay)."""
    order_id = order.id or 0
    locked = await uow.orders.get(order_id, for_update=True)
    if locked is None:
        return OrderAction(order_id, "not_found", "gone")
    if locked.status != OrderStatus.API_FAILED:
        return OrderAction(order_id, "skipped", f"skipped, it is {locked.status.label}", locked)
    problem = validate_for_placement(locked, now, max_quantity=settings.max_line_quantity)
    if problem is not None:
        return OrderAction(order_id, "refused", f"refused, {problem.code}: {problem.message}",
                           locked)
    queued = await requeue(uow, settings, locked, actor=actor, reason=reason, note=note, now=now,
                           headers=headers, auto_retries=0)
    return OrderAction(order_id, "queued", "queued for placement", queued)


async def edit_address(ctx: AdminContext, order_id: int, changes: Mapping[str, str], *,
                       actor: str) -> OrderAction:
    """Correct the shipping details before the order is (re)placed; ``changes`` maps
    ``ADDRESS_FIELDS`` names to new values."""
    unknown = sorted(set(changes) - set(ADDRESS_FIELDS))
    if unknown or not changes:
        why = f"unknown fields {unknown}" if unknown else "nothing to change"
        return OrderAction(order_id, "refused", why)
    fixed: dict[str, Any] = {k: (v.upper() if k == "country_iso2" else v)
                             for k, v in changes.items()}
    async with ctx.uow() as uow:
        order = await uow.orders.get(order_id, for_update=True)
        if order is None:
            return OrderAction(order_id, "not_found", "not found")
        if order.status not in ADDRESS_EDITABLE:
            return OrderAction(order_id, "refused",
                               f"it is {order.status.label}: SUNSKY already has it", order)
        fixed = {k: v for k, v in fixed.items() if getattr(order.shipping, k) != v}
        if not fixed:
            return OrderAction(order_id, "updated", "nothing changed: the address was already "
                               "so", order)
        # the timeline records who corrected what (a note in the history: the status stays)
        note = StatusChange(order.status, order.status,
                            f"shipping details corrected: {', '.join(sorted(fixed))}", actor,
                            ctx.clock())
        saved = await uow.orders.save(replace(order, shipping=replace(order.shipping, **fixed),
                                              history=(*order.history, note)))
        await uow.commit()
    logger.info("order %s: shipping details %s corrected by %s", order_id, sorted(fixed), actor)
    ship = saved.shipping
    return OrderAction(order_id, "updated",
                       f"ships to: {ship.recipient} ({ship.phone}) {ship.full_address()}", saved)


async def accept_sunsky_address(ctx: AdminContext, order_id: int, *,
                                actor: str) -> OrderAction:
    """"Accept SUNSKY's address": an order waiting on ``SUNSKY_ADDRESS_DIFFERS`` becomes Placed
    with the SUNSKY order it holds, shipping where SUNSKY ships, once SUNSKY confirms (read now)
    that the order is still live. The other way out: cancel it at SUNSKY, then retry."""
    async with ctx.uow() as uow:
        order = await uow.orders.get(order_id)
    if order is None:
        return OrderAction(order_id, "not_found", "not found")
    if not adoption.waits_on_address(order) or order.sunsky_address is None:
        return OrderAction(order_id, "refused", f"refused, it is {order.status.label}, not "
                           f"waiting on {adoption.ADDRESS_DIFFERS}", order)
    number = order.sunsky_address.number
    try:
        held = await ctx.sunsky.get_order_details(number)
        iso2 = await _iso2(ctx, order, held)
    except SunskyError as exc:
        return OrderAction(order_id, "refused", f"refused, reading SUNSKY order {number} "
                           f"failed: {exc.code}", order)
    if held.site_number not in (None, order.site_number):
        return OrderAction(order_id, "refused", f"refused, SUNSKY order {number} is not this "
                           f"order's (siteNumber {held.site_number})", order)
    return await _accept(ctx, order_id, held, iso2, actor=actor)


async def _accept(ctx: AdminContext, order_id: int, held: SunskyOrder, iso2: str | None, *,
                  actor: str) -> OrderAction:
    async with ctx.uow() as uow:
        current = await uow.orders.get(order_id, for_update=True)
        assert current is not None
        decided = adoption.accept_sunsky_address(current, placement_of(held),
                                                 address_of(held, iso2), ctx.clock(),
                                                 actor=actor)
        if isinstance(decided, str):
            return OrderAction(order_id, "refused", f"refused, {decided}", current)
        placed = await save_placed(uow, ctx.settings, decided, ctx.clock())
        await uow.commit()
    await ctx.publish_queued()
    logger.info("order %s: SUNSKY's address of order %s accepted by %s", order_id, held.number,
                actor)
    return OrderAction(order_id, "placed", f"placed: SUNSKY order {held.number}, ships to "
                       f"{placed.shipping.recipient} ({placed.shipping.phone}) "
                       f"{placed.shipping.full_address()}", placed)


async def _iso2(ctx: AdminContext, order: Order, held: SunskyOrder) -> str | None:
    """SUNSKY's country as an ISO code: as recorded, unless SUNSKY's answer names another."""
    recorded, where = order.sunsky_address, held.delivery_address
    if where is None or recorded is None:
        return None if recorded is None else recorded.country_iso2
    if recorded.ship_to is not None and recorded.ship_to.country_id == where.country_id:
        return recorded.country_iso2
    countries = await ctx.sunsky.get_countries()
    return next((c.code for c in countries if c.id == where.country_id), None)
