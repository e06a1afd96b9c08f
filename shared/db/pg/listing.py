"""The admin list's SQL: ``OrderFilter`` to a WHERE clause every index of 0015_order_list.sql
can serve, newest first by (created_at, id), keyset paged.

Text the user typed is only ever a bound parameter; in a LIKE pattern ``%``, ``_`` and ``\\``
are escaped, so they match themselves.
"""

from __future__ import annotations

from typing import Any

from shared.db.repository import OrderFilter
from shared.domain.order import FINAL, OrderStatus

# The expression of orders_customer_text_idx (0015_order_list.sql); fragments are matched in
# order_customers (trigram index), the orders found by that b-tree.
CUSTOMER_TEXT = ("order_customer_text(client_id, customer_company, contact_name, "
                 "contact_email)")
CUSTOMERS_LIKE = "SELECT customer_text FROM order_customers WHERE customer_text LIKE {}"
SEARCH_LIKE = CUSTOMERS_LIKE.format("{1}")
# Must stay equal to the predicate of orders_needs_action_idx (and order_needs_action()).
NEEDS_ACTION = ("status = 'api_failed' AND (retries_exhausted OR coalesce(last_error_kind, '')"
                " NOT IN ('transient', 'unknown_outcome'))")
ORDER_BY = "created_at DESC, id DESC"
OPEN = [s.value for s in OrderStatus if s not in FINAL]


def like_pattern(text: str) -> str:
    """``%text%`` for LIKE, lower-cased, with LIKE's own characters escaped."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def filter_sql(flt: OrderFilter) -> tuple[str, list[Any]]:
    """The WHERE clause (``TRUE`` when nothing filters) and its parameters."""
    clauses: list[str] = []
    args: list[Any] = []

    def add(sql: str, *values: Any) -> None:
        marks = [f"${len(args) + n}" for n in range(1, len(values) + 1)]
        args.extend(values)
        clauses.append(sql.format(*marks))

    if flt.status:
        add("status = {}", flt.status.value)
    if flt.needs_action:
        clauses.append(f"({NEEDS_ACTION})")
    if flt.created_from:
        add("created_at >= {}", flt.created_from)
    if flt.created_to:
        add("created_at < {}", flt.created_to)
    if flt.error_code:
        add("last_error_code = {}", flt.error_code)
    if flt.customer:
        add(f"{CUSTOMER_TEXT} IN ({CUSTOMERS_LIKE})", like_pattern(flt.customer))
    if flt.search:  # one index per branch (an OR across them and a sub-select would scan)
        add("id IN (SELECT id FROM orders WHERE invoice_number = {0}"
            " UNION ALL SELECT id FROM orders WHERE sunsky_order_number = {0}"
            " UNION ALL SELECT id FROM orders WHERE tracking_number = {0}"
            f" UNION ALL SELECT id FROM orders WHERE {CUSTOMER_TEXT} IN ({SEARCH_LIKE}))",
            flt.search, like_pattern(flt.search))
    if flt.updated_before:  # orders_status_idx (status, updated_at) serves this
        add("status = ANY({}) AND updated_at < {}", OPEN, flt.updated_before)
    if flt.order_ids:
        add("id = ANY({})", list(flt.order_ids))
    if flt.after:
        add("(created_at, id) < ({}, {})", *flt.after)
    return " AND ".join(clauses) or "TRUE", args


def list_sql(flt: OrderFilter) -> tuple[str, list[Any]]:
    where, args = filter_sql(flt)
    return f"SELECT * FROM orders WHERE {where} ORDER BY {ORDER_BY} LIMIT {int(flt.limit)}", args
