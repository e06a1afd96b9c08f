"""``dropship sunsky ...``: talk to SUNSKY (or the sandbox) with the configured credentials.

Reads SUNSKY_BASE_URL, SUNSKY_API_KEY and SUNSKY_API_SECRET through ``load_settings()`` (the
environment, else a running ``dropship dev``'s sandbox).
Any SUNSKY or connection failure ends as one ``error: ...`` line on stderr and exit code 1.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from decimal import Decimal
from typing import TypeVar

import asyncpg
import click
from pydantic import ValidationError

from application import shop
from shared.db.connect import DatabaseUnavailable, database_url
from shared.db.migrate import migrate
from shared.db.pg.budget import attach_budget
from shared.db.pool import create_pool
from shared.settings import Settings, load_settings
from shared.sunsky.budget import CallBudget, Priority
from shared.sunsky.client import SunskyClient
from shared.sunsky.errors import SunskyAuthError, SunskyError, SunskyNotFoundError
from shared.sunsky.models import Country, SunskyOrder
from shared.sunsky.port import Sunsky

_T = TypeVar("_T")
_MAX_STATES_SHOWN = 8


@click.group()
def sunsky() -> None:
    """Query the SUNSKY Open API with the configured credentials."""


@sunsky.command()
def balance() -> None:
    """Show the prepaid SUNSKY balance."""
    amount = _run(shop.sunsky_balance)
    click.echo(f"SUNSKY balance: {amount:.4f} USD")


@sunsky.command()
def countries() -> None:
    """List the countries SUNSKY ships to, with their SUNSKY ids."""
    for line in format_countries(_run(shop.sunsky_countries)):
        click.echo(line)


@sunsky.command()
@click.argument("number")
def order(number: str) -> None:
    """Show one SUNSKY order by its SUNSKY order NUMBER."""
    for line in format_order(_run(lambda sunsky: shop.sunsky_order(sunsky, number))):
        click.echo(line)


def _run(action: Callable[[Sunsky], Awaitable[_T]]) -> _T:
    """Run one client call; turn any failure into one clear line and exit code 1."""
    try:
        settings = load_settings()
    except ValidationError as exc:
        click.echo(f"error: invalid settings: {_first_problem(exc)}", err=True)
        raise SystemExit(1) from None

    async def call() -> _T:
        async with budgeted_client(settings) as client:
            return await action(client)

    try:
        return asyncio.run(call())
    except SunskyError as exc:
        click.echo(f"error: {describe(exc, settings.sunsky_base_url)}", err=True)
        raise SystemExit(1) from None
    except (DatabaseUnavailable, OSError, asyncpg.PostgresError) as exc:
        click.echo(f"error: the account's SUNSKY call budget lives in PostgreSQL, which did not "
                   f"answer ({type(exc).__name__}); SUNSKY_ACCOUNT_CALLS_PER_SECOND=0 goes "
                   "without it", err=True)
        raise SystemExit(1) from None


@contextlib.asynccontextmanager
async def budgeted_client(settings: Settings) -> AsyncIterator[SunskyClient]:
    """A client on the account's call budget (admin priority); its row is in PostgreSQL,
    so with a budget this needs the database too."""
    budget = CallBudget.from_settings(settings)
    pool = None
    try:
        if not budget.unlimited:
            pool = await create_pool(await database_url(settings), settings.database_schema,
                                     max_size=1)
            await migrate(pool, settings.database_schema)
            attach_budget(budget, pool, settings)
        async with SunskyClient.from_settings(settings, budget=budget,
                                              priority=Priority.ADMIN) as client:
            yield client
    finally:
        if pool is not None:
            await pool.close()


def _first_problem(exc: ValidationError) -> str:
    first = exc.errors()[0]
    return f"{'.'.join(str(p) for p in first['loc']).upper()}: {first['msg']}"


def describe(exc: SunskyError, base_url: str) -> str:
    """A one-line explanation of ``exc`` for a person at a terminal."""
    if exc.code in ("CONNECT_FAILED", "CONNECT_TIMEOUT"):
        return f"cannot reach SUNSKY at {base_url}: {_connect_reason(exc)}"
    if isinstance(exc, SunskyAuthError) and exc.code == "NO_PERMISSION_DUE_TO_SIGNATURE":
        hint = "check SUNSKY_API_KEY/SUNSKY_API_SECRET"
        return f"SUNSKY rejected the credentials ({exc.code}): {hint}"
    if isinstance(exc, SunskyAuthError):
        return f"SUNSKY refused the account ({exc.code}): {exc.fix_hint}"
    if isinstance(exc, SunskyNotFoundError):
        return f"SUNSKY has no such record ({exc.code}): {'; '.join(exc.messages)}"
    detail = "; ".join(exc.messages) or "no details"
    return f"SUNSKY call {exc.endpoint} failed ({exc.code}: {detail}): {exc.fix_hint}"


def _connect_reason(exc: SunskyError) -> str:
    text = " ".join(exc.messages).lower()
    if "refused" in text or "all connection attempts failed" in text:
        return "connection refused"
    if exc.code == "CONNECT_TIMEOUT" or "timed out" in text:
        return "connection timed out"
    if "name or service not known" in text or "nodename nor servname" in text:
        return "unknown host"
    return "; ".join(exc.messages) or "connection failed"


def format_countries(rows: list[Country]) -> list[str]:
    """An aligned table: id, code, name, states."""
    table = [("ID", "CODE", "NAME", "STATES")]
    table += [(str(c.id), c.code, c.name, _states(c)) for c in sorted(rows, key=lambda c: c.id)]
    widths = [max(len(row[i]) for row in table) for i in range(3)]
    return [
        f"{r[0]:>{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]}".rstrip()
        for r in table
    ]


def _states(country: Country) -> str:
    if not country.ship_to_state:
        return "-"
    codes = [s.code for s in country.states]
    shown = ", ".join(codes[:_MAX_STATES_SHOWN])
    more = len(codes) - _MAX_STATES_SHOWN
    return f"{len(codes)}: {shown}" + (f", … (+{more})" if more > 0 else "")


def format_order(o: SunskyOrder) -> list[str]:
    """Key fields, the lines, and tracking of one order."""
    fields = [
        ("site number", o.site_number or "-"),
        ("status", f"{o.status} ({o.status_name})"),
        ("created", _when(o.gmt_created)), ("paid", _when(o.gmt_paid)),
        ("shipped", _when(o.gmt_shipped)), ("delivered", _when(o.gmt_delivered)),
        ("amount", _money(o.amount)), ("shipping cost", _money(o.shipping_cost)),
        ("total", _money(o.total_amount)),
        ("shipping way", o.shipping_way.name or "-" if o.shipping_way else "-"),
        ("tracking", o.tracking_number or "-"), ("tracking url", o.tracking_url or "-"),
        ("ship to", _address(o)),
    ]
    lines = [f"SUNSKY order {o.number}"] + [f"  {k + ':':<15}{v}" for k, v in fields]
    lines.append(f"  lines ({len(o.lines)}):")
    width = max((len(line.item_no) for line in o.lines), default=0)
    for line in o.lines:
        lines.append(f"    {line.item_no:<{width}}  x{line.qty:<4} @ {_money(line.price)}"
                     f"  = {_money(line.amount)}  {line.title or ''}".rstrip())
    return lines


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else "-"


def _money(value: Decimal | None) -> str:
    return f"{value:.4f} USD" if value is not None else "-"


def _address(o: SunskyOrder) -> str:
    a = o.delivery_address
    if a is None:
        return "-"
    parts = [a.receiver, a.address, a.address2, a.city, a.state, a.postcode,
             f"country id {a.country_id}"]
    return ", ".join(p for p in parts if p)
