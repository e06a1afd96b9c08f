"""``PgOrderRepository``: the Order aggregate on ``orders`` + ``order_items`` +
``order_status_history`` (0001_orders.sql; SUNSKY's address of an order it ships elsewhere:
0006_sunsky_address.sql), and the queries that pick orders for work."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

import asyncpg

from shared.db.pg.listing import list_sql
from shared.db.repository import OrderFilter
from shared.domain.order import (
    Order,
    OrderError,
    OrderItem,
    OrderStatus,
    ShippingInfo,
    ShipTo,
    StatusChange,
    SunskyAddress,
    SunskyPlacement,
    site_number_for,
)

_SHIPPING_COLUMNS = (
    "recipient", "phone", "email", "company", "address_line1", "address_line2", "city", "state",
    "postcode", "country_iso2", "country_name", "sunsky_country_id", "shipping_way_id",
    "shipping_method", "tracking_number", "tracking_url",
)
_ORDER_COLUMNS = (
    "invoice_id", "invoice_number", "source_base_url", "client_id", "customer_company",
    "contact_name", "contact_email", "currency", "subtotal", "total", "status", "site_number",
    *_SHIPPING_COLUMNS,
    "sunsky_order_number", "sunsky_status", "sunsky_amount", "sunsky_shipping_cost",
    "sunsky_total", "last_error_code", "last_error_kind", "last_error_message",
    "last_error_hint", "last_error_at", "first_failed_at", "attempts", "next_attempt_at",
    "placing_started_at", "paid_at", "placed_at", "quoted_total", "retries_exhausted",
    "last_swept_at", "auto_retries",
    "sunsky_address_number", "sunsky_address_known", "sunsky_address_country",
    "sunsky_address_receiver", "sunsky_address_telephone", "sunsky_address_line1",
    "sunsky_address_line2", "sunsky_address_city", "sunsky_address_state",
    "sunsky_address_postcode", "sunsky_address_country_id",
)
# ShipTo's fields, in the order of the last seven columns above.
_SHIP_TO_FIELDS = ("receiver", "telephone", "address", "address2", "city", "state", "postcode",
                   "country_id")


def _row_values(order: Order) -> list[Any]:
    s, p, e = order.shipping, order.sunsky, order.last_error
    return [
        order.invoice_id, order.invoice_number, order.source_base_url, order.client_id,
        order.customer_company, order.contact_name, order.contact_email, order.currency,
        order.subtotal, order.total, order.status.value, order.site_number,
        *(getattr(s, c) for c in _SHIPPING_COLUMNS),
        p.number if p else None, p.status if p else None, p.amount if p else None,
        p.shipping_cost if p else None, p.total if p else None,
        e.code if e else None, e.kind if e else None, e.message if e else None,
        e.fix_hint if e else None, e.at if e else None,
        order.first_failed_at, order.attempts, order.next_attempt_at, order.placing_started_at,
        order.paid_at, order.placed_at, order.quoted_total, order.retries_exhausted,
        order.last_swept_at, order.auto_retries, *_sunsky_address_values(order.sunsky_address),
    ]


def _sunsky_address_values(address: SunskyAddress | None) -> list[Any]:
    if address is None:
        return [None] * (3 + len(_SHIP_TO_FIELDS))
    t = address.ship_to
    return [address.number, t is not None, address.country_iso2,
            *(getattr(t, f) if t else None for f in _SHIP_TO_FIELDS)]


def _sunsky_address_from(row: asyncpg.Record) -> SunskyAddress | None:
    if not row["sunsky_address_number"]:
        return None
    columns = _ORDER_COLUMNS[-len(_SHIP_TO_FIELDS):]
    ship_to = ShipTo(**{f: row[c] for f, c in zip(_SHIP_TO_FIELDS, columns, strict=True)})
    return SunskyAddress(row["sunsky_address_number"],
                         ship_to if row["sunsky_address_known"] else None,
                         row["sunsky_address_country"])


def _order_from(row: asyncpg.Record, items: Sequence[asyncpg.Record]) -> Order:
    error = None
    if row["last_error_code"]:
        error = OrderError(row["last_error_code"], row["last_error_kind"] or "",
                           row["last_error_message"] or "", row["last_error_hint"] or "",
                           row["last_error_at"])
    placement = None
    if row["sunsky_order_number"]:
        placement = SunskyPlacement(row["sunsky_order_number"], row["sunsky_status"],
                                    row["sunsky_amount"], row["sunsky_shipping_cost"],
                                    row["sunsky_total"])
    return Order(
        id=row["id"], invoice_id=row["invoice_id"], invoice_number=row["invoice_number"],
        status=OrderStatus(row["status"]),
        items=tuple(OrderItem(i["line_no"], i["product_name"], i["sku"], i["quantity"],
                              i["unit_price"], i["line_total"]) for i in items),
        shipping=ShippingInfo(**{c: row[c] for c in _SHIPPING_COLUMNS}),
        source_base_url=row["source_base_url"], client_id=row["client_id"],
        customer_company=row["customer_company"], contact_name=row["contact_name"],
        contact_email=row["contact_email"], currency=row["currency"], subtotal=row["subtotal"],
        total=row["total"], site_number=row["site_number"], sunsky=placement, last_error=error,
        first_failed_at=row["first_failed_at"], attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"], placing_started_at=row["placing_started_at"],
        paid_at=row["paid_at"], placed_at=row["placed_at"], created_at=row["created_at"],
        quoted_total=row["quoted_total"], retries_exhausted=row["retries_exhausted"],
        last_swept_at=row["last_swept_at"], auto_retries=row["auto_retries"],
        sunsky_address=_sunsky_address_from(row),
    )


class PgOrderRepository:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn
        # (from, to, failure code) of every status change written: counted once committed
        self.changes: list[tuple[str | None, str, str | None]] = []

    async def _load(self, where: str, arg: Any, for_update: bool) -> Order | None:
        lock = " FOR UPDATE" if for_update else ""
        row = await self._conn.fetchrow(f"SELECT * FROM orders WHERE {where} = $1{lock}", arg)
        if row is None:
            return None
        items = await self._conn.fetch(
            "SELECT * FROM order_items WHERE order_id = $1 ORDER BY line_no", row["id"])
        return _order_from(row, items)

    async def get(self, order_id: int, *, for_update: bool = False) -> Order | None:
        return await self._load("id", order_id, for_update)

    async def get_by_invoice(self, invoice_id: str, *, for_update: bool = False) -> Order | None:
        return await self._load("invoice_id", invoice_id, for_update)

    async def add(self, order: Order) -> Order:
        cols = ", ".join(_ORDER_COLUMNS)
        marks = ", ".join(f"${n}" for n in range(1, len(_ORDER_COLUMNS) + 1))
        row = await self._conn.fetchrow(
            f"INSERT INTO orders ({cols}) VALUES ({marks}) RETURNING id, created_at",
            *_row_values(order))
        assert row is not None
        site = site_number_for(row["id"], order.invoice_id)
        await self._conn.execute(
            "UPDATE orders SET site_number = $2 WHERE id = $1", row["id"], site)

        saved = replace(order, id=row["id"], site_number=site, created_at=row["created_at"])
        await self._write_items(saved)
        return await self._write_history(saved)

    async def save(self, order: Order, *, items: bool = False) -> Order:
        assigns = ", ".join(f"{c} = ${n}" for n, c in enumerate(_ORDER_COLUMNS, 2))
        await self._conn.execute(
            f"UPDATE orders SET {assigns}, updated_at = now() WHERE id = $1",
            order.id, *_row_values(order))
        if items:
            await self._conn.execute("DELETE FROM order_items WHERE order_id = $1", order.id)
            await self._write_items(order)
        return await self._write_history(order)

    async def _write_items(self, order: Order) -> None:
        await self._conn.executemany(
            "INSERT INTO order_items (order_id, line_no, product_name, sku, quantity, unit_price,"
            " line_total) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            [(order.id, i.line_no, i.product_name, i.sku, i.quantity, i.unit_price, i.line_total)
             for i in order.items])

    async def _write_history(self, order: Order) -> Order:
        code = order.last_error.code if order.last_error else None
        self.changes += [(c.from_status.value if c.from_status else None, c.to_status.value,
                          code if c.to_status == OrderStatus.API_FAILED else None)
                         for c in order.history]
        await self._conn.executemany(
            "INSERT INTO order_status_history (order_id, from_status, to_status, reason, actor, at)"
            " VALUES ($1, $2, $3, $4, $5, $6)",
            [(order.id, c.from_status.value if c.from_status else None, c.to_status.value,
              c.reason, c.actor, c.at) for c in order.history])
        return replace(order, history=())

    async def history(self, order_id: int) -> list[StatusChange]:
        rows = await self._conn.fetch(
            "SELECT * FROM order_status_history WHERE order_id = $1 ORDER BY id", order_id)
        return [StatusChange(OrderStatus(r["from_status"]) if r["from_status"] else None,
                             OrderStatus(r["to_status"]), r["reason"], r["actor"], r["at"])
                for r in rows]

    async def list_orders(self, flt: OrderFilter) -> list[Order]:
        sql, args = list_sql(flt)
        return await self._with_items(await self._conn.fetch(sql, *args))

    # --- retries ---
    async def _locked(self, where: str, order_by: str, limit: int, *args: Any) -> list[Order]:
        rows = await self._conn.fetch(
            f"SELECT * FROM orders WHERE {where} ORDER BY {order_by} LIMIT {int(limit)}"
            " FOR UPDATE SKIP LOCKED", *args)
        return await self._with_items(rows)

    async def due_retries(self, now: datetime, limit: int) -> list[Order]:
        return await self._locked("status = 'api_failed' AND next_attempt_at <= $1",
                                  "next_attempt_at, id", limit, now)

    async def waiting_for_balance(self, limit: int) -> list[Order]:
        return await self._locked(
            "status = 'api_failed' AND last_error_code = 'BALANCE_NOT_ENOUGH'",
            "coalesce(first_failed_at, created_at), id", limit)

    async def stale(self, status: OrderStatus, before: datetime, limit: int) -> list[Order]:
        return await self._locked(
            "status = $1 AND updated_at < $2 AND coalesce(last_swept_at, updated_at) < $2",
            "updated_at, id", limit, status.value, before)

    # --- tracker ---
    async def get_by_sunsky_number(self, number: str, *,
                                   for_update: bool = False) -> Order | None:
        return await self._load("sunsky_order_number", number, for_update)

    async def list_by_sunsky_numbers(self, numbers: Collection[str]) -> Sequence[Order]:
        rows = await self._conn.fetch(
            "SELECT * FROM orders WHERE sunsky_order_number = ANY($1)", list(numbers))
        return await self._with_items(rows)

    async def _with_items(self, rows: Sequence[asyncpg.Record]) -> list[Order]:
        return await with_items(self._conn, rows)


async def with_items(conn: asyncpg.Connection, rows: Sequence[asyncpg.Record]) -> list[Order]:
    """The orders of ``rows`` with their items (one query for all of them)."""
    items = await conn.fetch(
        "SELECT * FROM order_items WHERE order_id = ANY($1) ORDER BY order_id, line_no",
        [r["id"] for r in rows])
    by_order: dict[int, list[asyncpg.Record]] = {}
    for item in items:
        by_order.setdefault(item["order_id"], []).append(item)
    return [_order_from(r, by_order.get(r["id"], [])) for r in rows]
