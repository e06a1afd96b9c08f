"""``dropship orders retry`` and ``dropship orders edit-address``: an admin fixes the cause
(balance, address), then sends failed orders back to the placer. An order SUNSKY already holds
is never placed again; an order whose address is still incomplete is refused with the reason."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

import click

from cli.common import AdminSession, as_utc, fail, with_session
from schemas.orders import ReadyReason
from shared.db.repository import OrderFilter, UnitOfWork
from shared.domain.intake import validate_for_placement
from shared.domain.order import Order, OrderStatus
from shared.messaging.emit import utcnow
from shared.requeue import requeue
from shared.settings import Settings


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

    async def body(session: AdminSession) -> list[str]:
        async with session.uow() as uow:
            orders = await _select(uow, order_ids, code, as_utc(since))
            lines = [await retry_one(uow, session.settings, order) for order in orders]
            await uow.commit()
        await session.flush_outbox()
        found = {o.id for o in orders}
        return lines + [f"order {i}: not found" for i in order_ids if i not in found]

    lines = with_session(body)
    click.echo("\n".join(lines) if lines else "no matching orders")
    retried = sum(1 for line in lines if line.endswith("queued for placement"))
    click.echo(f"{retried} queued, {len(lines) - retried} not retried")
    if any(line.endswith("not found") for line in lines):
        raise SystemExit(1)


async def _select(uow: UnitOfWork, ids: tuple[int, ...], code: str | None,
                  since: datetime | None) -> list[Order]:
    if ids:
        found = [await uow.orders.get(i, for_update=True) for i in ids]
        return [o for o in found if o is not None]
    flt = OrderFilter(status=OrderStatus.API_FAILED, error_code=code, created_from=since,
                      limit=10_000)
    return [o for o in await uow.orders.list_orders(flt) if o.id is not None]


async def retry_one(uow: UnitOfWork, settings: Settings, order: Order, *,
                    actor: str = "admin", note: str = "admin retry",
                    reason: ReadyReason = "retry", headers: dict[str, str] | None = None) -> str:
    """One order's retry, or why not. Shared by ``orders retry`` and ``replay``."""
    locked = await uow.orders.get(order.id or 0, for_update=True)
    if locked is None:
        return f"order {order.id}: gone"
    if locked.status != OrderStatus.API_FAILED:
        return f"order {locked.id}: skipped, it is {locked.status.label}"
    problem = validate_for_placement(locked, utcnow())
    if problem is not None:
        return f"order {locked.id}: refused, {problem.code}: {problem.message}"
    await requeue(uow, settings, locked, actor=actor, reason=reason, note=note, now=utcnow(),
                  headers=headers, auto_retries=0)
    return f"order {locked.id}: queued for placement"


ADDRESS_FIELDS = ("recipient", "phone", "email", "company", "address_line1", "address_line2",
                  "city", "state", "postcode", "country_iso2")
EDITABLE = (OrderStatus.PENDING_PAYMENT, OrderStatus.READY_TO_PLACE, OrderStatus.API_FAILED)


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
    changes: dict[str, Any] = {k: v for k, v in fields.items() if v is not None}
    if not changes:
        fail("nothing to change: give at least one of --street, --city, --postcode, ...")
    if "country_iso2" in changes:
        changes["country_iso2"] = (changes["country_iso2"] or "").upper()

    async def body(session: AdminSession) -> str:
        async with session.uow() as uow:
            order = await uow.orders.get(order_id, for_update=True)
            if order is None:
                return f"no order {order_id}"
            if order.status not in EDITABLE:
                return f"order {order_id} is {order.status.label}: SUNSKY already has it"
            shipping = replace(order.shipping, **changes)
            await uow.orders.save(replace(order, shipping=shipping))
            await uow.commit()
        click.echo(f"order {order_id} ships to: {shipping.recipient} ({shipping.phone}) "
                   f"{shipping.full_address()}")
        return ""

    problem = with_session(body)
    if problem:
        fail(problem)
