"""``dropship orders ...``: view and act on orders (``application.orders``, ``.tracking``)."""

from __future__ import annotations

from datetime import datetime

import click

from application import orders as use
from application.context import AdminContext
from application.orders import OrderDetails
from application.outbox import parked_count
from cli.common import ACTOR, as_utc, fail, with_context
from cli.retry_cmd import edit_address, retry
from cli.tracking_cmd import refresh
from shared.db.repository import OrderFilter
from shared.domain.order import Order, OrderStatus, transitions_table_markdown

STATUS_CHOICES = click.Choice([s.value for s in OrderStatus])


@click.group()
def orders() -> None:
    """View and act on orders."""


orders.add_command(retry)
orders.add_command(edit_address)
orders.add_command(refresh)


@orders.command("list")
@click.option("--status", type=STATUS_CHOICES, help="Only orders in this status.")
@click.option("--from", "date_from", type=click.DateTime(), help="Created on/after (UTC).")
@click.option("--to", "date_to", type=click.DateTime(), help="Created before (UTC).")
@click.option("--customer", help="Any part of the client id, company, contact name or e-mail.")
@click.option("--code", help="Only orders whose last error has this code.")
@click.option("--search", help="An invoice, SUNSKY order or tracking number, or a customer.")
@click.option("--needs-action", is_flag=True, help="Only API Failed orders waiting for a person.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 100_000))
def list_orders(status: str | None, date_from: datetime | None, date_to: datetime | None,
                customer: str | None, code: str | None, search: str | None, needs_action: bool,
                limit: int) -> None:
    """Orders, newest first (the admin console's list and filters)."""
    flt = OrderFilter(status=OrderStatus(status) if status else None, needs_action=needs_action,
                      created_from=as_utc(date_from), created_to=as_utc(date_to),
                      customer=customer, error_code=code, search=search, limit=limit)
    found, parked = with_context(lambda ctx: _orders_and_parked(ctx, flt))
    click.echo(f"{'ID':>6}  {'INVOICE':<12} {'STATUS':<15} {'CUSTOMER':<20} {'TOTAL':>9}  "
               f"{'SUNSKY':<11} {'TRACKING':<16} ERROR")
    for o in found:
        click.echo(row(o))
    click.echo(f"{len(found)} order(s)")
    if parked:
        click.echo(f"warning: {parked} outgoing message(s) parked, their orders' later messages "
                   "wait behind them: dropship outbox list", err=True)


async def _orders_and_parked(ctx: AdminContext, flt: OrderFilter) -> tuple[list[Order], int]:
    return await use.list_orders(ctx, flt), await parked_count(ctx)


def row(o: Order) -> str:
    return (f"{o.id:>6}  {(o.invoice_number or o.invoice_id)[:12]:<12} "
            f"{o.status.label:<15} {(o.customer_company or o.contact_name or '')[:20]:<20} "
            f"{o.total or 0:>9}  {(o.sunsky.number if o.sunsky else '-'):<11} "
            f"{(o.shipping.tracking_number or '-')[:16]:<16} "
            f"{o.last_error.code if o.last_error else ''}")


@orders.command("show")
@click.argument("order_id", type=int)
def show(order_id: int) -> None:
    """Everything about one order: items, shipping, SUNSKY, history, last error."""
    details = with_context(lambda ctx: use.order_details(ctx, order_id))
    if details is None:
        fail(f"no order {order_id}")
    click.echo("\n".join(describe(details)))


def describe(details: OrderDetails) -> list[str]:
    o, s = details.order, details.order.shipping
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
    if o.sunsky_address:
        held = o.sunsky_address
        lines.append(f"SUNSKY holds order {held.number} under this siteNumber, shipping to: "
                     f"{held.full_address()}")
    if o.last_error:
        e = o.last_error
        lines += [f"Last error: {e.code} ({e.kind}) at {e.at:%Y-%m-%d %H:%M:%S}: {e.message}",
                  f"  fix: {e.fix_hint}"]
    lines.append("History:")
    lines += [f"  {c.at:%Y-%m-%d %H:%M:%S}  {c.from_status.label if c.from_status else '(new)'}"
              f" -> {c.to_status.label}  by {c.actor}: {c.reason}" for c in details.history]
    return lines


@orders.command("place")
@click.argument("order_id", type=int)
def place(order_id: int) -> None:
    """Place a Ready to Place order now (when auto-place is off, or it was held)."""
    action = with_context(lambda ctx: use.place_order(ctx, order_id, actor=ACTOR))
    if action.outcome != "queued":
        fail(action.line)
    click.echo(action.line)


@orders.command("accept-sunsky-address")
@click.argument("order_id", type=int)
def accept_sunsky_address(order_id: int) -> None:
    """Keep the address SUNSKY ships to (SUNSKY_ADDRESS_DIFFERS): the order becomes Placed with
    the SUNSKY order it holds. To ship to ours instead, cancel it at SUNSKY and retry."""
    action = with_context(lambda ctx: use.accept_sunsky_address(ctx, order_id, actor=ACTOR))
    if action.outcome != "placed":
        fail(action.line)
    click.echo(action.line)


@orders.command("statuses")
def statuses() -> None:
    """The order statuses and which changes are allowed (from the domain's one table)."""
    click.echo(transitions_table_markdown())


@orders.command("codes")
def codes() -> None:
    """Every failure code an API Failed order can carry, and what to do about it."""
    from shared.failure_codes import catalogue_markdown

    click.echo(catalogue_markdown())
