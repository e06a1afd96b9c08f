"""The Orders list: one query object (``OrderQuery``) for the page, its tab counts, the CSV
export and bulk selections, so an export can never hold other orders than the list showed.

Newest first by (created_at, id); a page ends with an opaque cursor naming its last order,
the next page starts after it (keyset paging: page 1,000 costs what page 1 does).
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from application.context import AdminContext
from shared.db.admin import StatusCounts
from shared.db.repository import OrderFilter
from shared.domain.order import Order, OrderStatus

Tab = Literal["all", "needs_action", "pending_payment", "ready_to_place", "placing", "placed",
              "processing", "shipped", "delivered", "cancelled", "api_failed"]
TABS: tuple[Tab, ...] = ("all", "needs_action", "pending_payment", "ready_to_place", "placing",
                         "placed", "processing", "shipped", "delivered", "cancelled",
                         "api_failed")
MAX_PAGE = 100
EXPORT_BATCH = 500


class InvalidQuery(ValueError):
    """What the person asked for cannot be a list query (a damaged cursor)."""


@dataclass(frozen=True)
class OrderQuery:
    tab: Tab = "all"
    created_from: datetime | None = None
    created_to: datetime | None = None
    customer: str | None = None
    code: str | None = None
    search: str | None = None
    stuck_hours: float | None = None  # unchanged for longer than this, not yet final
    cursor: str | None = None
    limit: int = 50
    order_ids: tuple[int, ...] = ()  # the selected rows (export, bulk)

    def to_filter(self, now: datetime) -> OrderFilter:
        status = None if self.tab in ("all", "needs_action") else OrderStatus(self.tab)
        stuck = now - timedelta(hours=self.stuck_hours) if self.stuck_hours else None
        return OrderFilter(
            status=status, needs_action=self.tab == "needs_action",
            created_from=self.created_from, created_to=self.created_to,
            customer=_blank(self.customer), error_code=_blank(self.code),
            search=_blank(self.search), updated_before=stuck, order_ids=self.order_ids,
            after=decode_cursor(self.cursor) if self.cursor else None,
            limit=min(max(self.limit, 1), MAX_PAGE))


@dataclass(frozen=True)
class OrderPage:
    orders: list[Order]
    next_cursor: str | None


def _blank(text: str | None) -> str | None:
    return text.strip() or None if text else None


def encode_cursor(order: Order) -> str:
    assert order.created_at is not None and order.id is not None
    raw = f"{order.created_at.isoformat()}|{order.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        moment, _, order_id = raw.partition("|")
        when = datetime.fromisoformat(moment)
        if when.tzinfo is None:
            raise ValueError("naive time")
        return when, int(order_id)
    except (ValueError, UnicodeDecodeError, binascii.Error) as exc:
        raise InvalidQuery(f"cursor {cursor[:40]!r} is not one this list gave out") from exc


async def list_page(ctx: AdminContext, query: OrderQuery) -> OrderPage:
    flt = query.to_filter(ctx.clock())
    async with ctx.uow() as uow:
        found = await uow.orders.list_orders(replace(flt, limit=flt.limit + 1))
    orders = found[: flt.limit]
    more = len(found) > flt.limit
    return OrderPage(orders, encode_cursor(orders[-1]) if more and orders else None)


async def tab_counts(ctx: AdminContext) -> StatusCounts:
    async with ctx.uow() as uow:
        counts = await uow.overview.status_counts()
        await uow.commit()  # keeps the fold of the counts' rows the read may have done
    return counts


# --- CSV export ---------------------------------------------------------------------------
CSV_COLUMNS = ("order_id", "invoice_number", "invoice_id", "created_at", "status", "client_id",
               "customer_company", "contact_name", "contact_email", "total", "currency",
               "sunsky_order_number", "sunsky_total", "tracking_number", "shipping_method",
               "last_error_code", "last_error_message")


def csv_row(o: Order) -> list[str]:
    e, s = o.last_error, o.sunsky
    values = (o.id, o.invoice_number, o.invoice_id,
              o.created_at.isoformat() if o.created_at else "", o.status.label, o.client_id,
              o.customer_company, o.contact_name, o.contact_email, o.total, o.currency,
              s.number if s else None, s.total if s else None, o.shipping.tracking_number,
              o.shipping.shipping_method, e.code if e else None, e.message if e else None)
    return [_csv_safe("" if v is None else str(v)) for v in values]


def _csv_safe(text: str) -> str:
    """A cell a spreadsheet would run as a formula (=, +, -, @) is quoted as text."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def export_csv(ctx: AdminContext, query: OrderQuery, *,
               batch: int = EXPORT_BATCH) -> AsyncIterator[str]:
    """The header, then every order the query matches (all pages, whatever page the list
    was on), in list order, read in batches so memory stays flat. The query is checked
    before the first byte goes out: a refusal must not arrive as a cut-off download."""
    flt = replace(replace(query, cursor=None).to_filter(ctx.clock()), limit=batch)
    return _csv_lines(ctx, flt, batch)


async def _csv_lines(ctx: AdminContext, flt: OrderFilter, batch: int) -> AsyncIterator[str]:
    yield _line(list(CSV_COLUMNS))
    while True:
        async with ctx.uow() as uow:
            found = await uow.orders.list_orders(flt)
        for order in found:
            yield _line(csv_row(order))
        if len(found) < batch:
            return
        last = found[-1]
        assert last.created_at is not None and last.id is not None
        flt = replace(flt, after=(last.created_at, last.id))


def _line(cells: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out).writerow(cells)
    return out.getvalue()
