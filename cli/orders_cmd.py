"""Admin commands over orders and settings: list, show, place, statuses; auto-place, shipping.

Every command that changes an order goes through the domain's transition table and the outbox,
exactly like the services do; none talks to SUNSKY directly.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click

from cli.common import AdminSession, as_utc, fail, with_session
from schemas.orders import OrderReady
from shared.db.repository import AUTO_PLACE, SHIPPING_WAY_POLICY, OrderFilter
from shared.domain.order import Order, OrderStatus, transitions_table_markdown
from shared.messaging.emit import emit, new_message_id, utcnow
from shared.settings import TOPIC_ORDER_READY

STATUS_CHOICES = click.Choice([s.value for s in OrderStatus])


@click.group()
def orders() -> None:
    """View and act on orders."""


@orders.command("list")
@click.option("--status", type=STATUS_CHOICES, help="Only orders in this status.")
@click.option("--from", "date_from", type=click.DateTime(), help="Created on/after (UTC).")
@click.option("--to", "date_to", type=click.DateTime(), help="Created before (UTC).")
@click.option("--customer", help="Client id, company or contact name (substring).")
@click.option("--code", help="Only orders whose last error has this code.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 100_000))
def list_orders(status: str | None, date_from: datetime | None, date_to: datetime | None,
                customer: str | None, code: str | None, limit: int) -> None:
    """Orders, newest first."""
    flt = OrderFilter(status=OrderStatus(status) if status else None,
                      created_from=as_utc(date_from), created_to=as_utc(date_to),
                      customer=customer, error_code=code, limit=limit)

    async def body(session: AdminSession) -> list[Order]:
        async with session.uow() as uow:
            return await uow.orders.list_orders(flt)

    found = with_session(body)
    click.echo(f"{'ID':>6}  {'INVOICE':<12} {'STATUS':<15} {'CUSTOMER':<20} {'TOTAL':>9}  "
               f"{'SUNSKY':<11} {'TRACKING':<16} ERROR")
    for o in found:
        click.echo(f"{o.id:>6}  {(o.invoice_number or o.invoice_id)[:12]:<12} "
                   f"{o.status.label:<15} {(o.customer_company or o.contact_name or '')[:20]:<20} "
                   f"{o.total or 0:>9}  {(o.sunsky.number if o.sunsky else '-'):<11} "
                   f"{(o.shipping.tracking_number or '-')[:16]:<16} "
                   f"{o.last_error.code if o.last_error else ''}")
    click.echo(f"{len(found)} order(s)")


@orders.command("show")
@click.argument("order_id", type=int)
def show(order_id: int) -> None:
    """Everything about one order: items, shipping, SUNSKY, history, last error."""

    async def body(session: AdminSession) -> tuple[Order | None, list[Any]]:
        async with session.uow() as uow:
            order = await uow.orders.get(order_id)
            return order, (await uow.orders.history(order_id) if order else [])

    order, history = with_session(body)
    if order is None:
        fail(f"no order {order_id}")
    click.echo("\n".join(describe(order, history)))


def describe(o: Order, history: list[Any]) -> list[str]:
    s = o.shipping
    lines = [
        f"Order {o.id}  invoice {o.invoice_number} (Perfex id {o.invoice_id})  "
        f"status {o.status.label}",
        f"Customer: {o.customer_company or '-'} / {o.contact_name or '-'} "
        f"<{o.contact_email or '-'}> (client {o.client_id})",
        f"Totals: {o.total} {o.currency}   attempts: {o.attempts}   automatic retries: "
        f"{o.auto_retries}{' (exhausted)' if o.retries_exhausted else ''}"
        f"{f', next at {o.next_attempt_at:%Y-%m-%d %H:%M:%S}' if o.next_attempt_at else ''}"
        f"   siteNumber: {o.site_number}",
        "Items:",
        *(f"  {i.line_no}. {i.product_name} [{i.sku}] x{i.quantity.normalize():f} "
          f"@ {i.unit_price} = {i.line_total}" for i in o.items),
        f"Ship to: {s.recipient} ({s.phone}) {s.full_address()}",
        f"Shipping: {s.shipping_method or '-'}  tracking {s.tracking_number or '-'} "
        f"{s.tracking_url or ''}".rstrip(),
    ]
    if o.sunsky:
        lines.append(f"SUNSKY: order {o.sunsky.number} status {o.sunsky.status} "
                     f"total {o.sunsky.total} USD")
    if o.last_error:
        e = o.last_error
        lines += [f"Last error: {e.code} ({e.kind}) at {e.at:%Y-%m-%d %H:%M:%S}: {e.message}",
                  f"  fix: {e.fix_hint}"]
    lines.append("History:")
    lines += [f"  {c.at:%Y-%m-%d %H:%M:%S}  {c.from_status.label if c.from_status else '(new)'}"
              f" -> {c.to_status.label}  by {c.actor}: {c.reason}" for c in history]
    return lines


@orders.command("place")
@click.argument("order_id", type=int)
def place(order_id: int) -> None:
    """Place a Ready to Place order now (when auto-place is off, or it was held)."""

    async def body(session: AdminSession) -> str:
        async with session.uow() as uow:
            order = await uow.orders.get(order_id, for_update=True)
            if order is None:
                return f"no order {order_id}"
            if order.status != OrderStatus.READY_TO_PLACE:
                return (f"order {order_id} is {order.status.label}; only Ready to Place orders "
                        "can be placed (use 'dropship orders retry' for API Failed)")
            message = OrderReady(message_id=new_message_id(), order_id=order_id,
                                 invoice_id=order.invoice_id, occurred_at=utcnow(),
                                 reason="manual")
            await emit(uow, session.settings.topic(TOPIC_ORDER_READY), str(order_id), message,
                       {"actor": "admin"})
            await uow.commit()
        await session.flush_outbox()
        return ""

    problem = with_session(body)
    if problem:
        fail(problem)
    click.echo(f"order {order_id} queued for placement (order.ready)")


@orders.command("statuses")
def statuses() -> None:
    """The order statuses and which changes are allowed (from the domain's one table)."""
    click.echo(transitions_table_markdown())


@click.group("settings")
def settings_group() -> None:
    """Shop settings: auto-place, shipping-way policy."""


@settings_group.command("show")
def settings_show() -> None:
    async def body(session: AdminSession) -> tuple[Any, Any]:
        async with session.uow() as uow:
            return (await uow.settings.get(AUTO_PLACE),
                    await uow.settings.get(SHIPPING_WAY_POLICY))

    auto, policy = with_session(body)
    click.echo(f"Auto-Place Orders on Payment: {'on' if auto else 'off'}")
    click.echo(f"Shipping-way policy: {policy}")


@settings_group.command("auto-place")
@click.argument("state", type=click.Choice(["on", "off"]))
def auto_place(state: str) -> None:
    """Switch "Auto-Place Orders on Payment"."""
    _set(AUTO_PLACE, state == "on")
    click.echo(f"Auto-Place Orders on Payment: {state}")


@settings_group.command("shipping-way")
@click.argument("choice")
def shipping_way(choice: str) -> None:
    """'cheapest', or a SUNSKY shipping way name or id (falls back to cheapest)."""
    policy = ({"mode": "cheapest"} if choice == "cheapest"
              else {"mode": "named", "name": choice, "fallback": "cheapest"})
    _set(SHIPPING_WAY_POLICY, policy)
    click.echo(f"Shipping-way policy: {policy}")


def _set(name: str, value: Any) -> None:
    async def body(session: AdminSession) -> None:
        async with session.uow() as uow:
            await uow.settings.set(name, value, by="admin-cli")
            await uow.commit()

    with_session(body)


# Commands other modules add to ``dropship orders`` (module, attribute); absent ones are skipped.
ORDER_EXTENSIONS = (
    ("cli.retry_cmd", "retry"),
    ("cli.retry_cmd", "edit_address"),
    ("cli.tracking_cmd", "refresh"),
)


def _register_extensions() -> None:
    import importlib

    for module_name, attr in ORDER_EXTENSIONS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        orders.add_command(getattr(module, attr))


_register_extensions()


@orders.command("codes")
def codes() -> None:
    """Every failure code an API Failed order can carry, and what to do about it."""
    from shared.failure_codes import catalogue_markdown

    click.echo(catalogue_markdown())
