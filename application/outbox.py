"""Admin use cases over the outbox: what waits to be published, and re-sending parked rows.

A row the relay could not publish after ``OUTBOX_MAX_ATTEMPTS`` (or one that can never be
published as it is, such as a record over the broker's size limit) is parked: it and the rows of
its key behind it wait for a person, everything else flows. After fixing the cause (create the
topic, raise the broker's limit, grant the ACL), ``retry_parked`` gives the rows a fresh set of
attempts and publishes them, in their original order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from application.context import AdminContext
from shared.db.repository import ParkedRow

LIST_LIMIT = 200


@dataclass(frozen=True)
class OutboxStatus:
    unsent: int  # rows not published yet, parked ones included
    parked: list[ParkedRow] = field(default_factory=list)
    parked_total: int = 0


@dataclass(frozen=True)
class RetryParked:
    released: list[int]
    not_parked: list[int]  # ids asked for that were not parked (sent, unknown, still trying)
    published: int  # what the flush right after sent (0 when the broker is still down)


async def outbox_status(ctx: AdminContext, limit: int = LIST_LIMIT) -> OutboxStatus:
    async with ctx.uow() as uow:
        unsent, parked = await uow.outbox.count_unsent()
        rows = await uow.outbox.parked(limit) if parked else []
    return OutboxStatus(unsent, rows, parked)


async def parked_count(ctx: AdminContext) -> int:
    async with ctx.uow() as uow:
        return (await uow.outbox.count_unsent())[1]


async def retry_parked(ctx: AdminContext, row_ids: tuple[int, ...]) -> RetryParked:
    """Re-send these parked rows, or every parked row when ``row_ids`` is empty."""
    async with ctx.uow() as uow:
        released = await uow.outbox.unpark(row_ids or None)
        await uow.commit()
    published = await ctx.publish_queued() if released else 0
    return RetryParked(released, sorted(set(row_ids) - set(released)), published)
