"""The SUNSKY actions the sandbox answers: params in, ``data`` out, ``ApiError`` for a "no".

Paths and parameters follow sunsky-open-api.md sections 5-6. Invented: ``priceList`` as the key of
item prices (one [3P] client reads ``items`` instead), the product fields beyond the reference's
[3P] list, newest-first order of order and bill lists, products listed oldest ``gmtModified`` first
(what the incremental-sync recipe needs), unknown ``countryId`` in a quote answered with
``INVALID_PARAMETER: countryId``, ``state`` not checked by quotes, and a missing ``status``
filter on ``product!search.do`` meaning "all".
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from sandbox import ordering
from sandbox.catalogue import (
    CATALOGUE,
    COUNTRIES,
    Product,
    country,
    freight_list,
    live_status,
    product_wire,
)
from sandbox.faults import FaultSettings
from sandbox.orders import Order
from sandbox.params import parse_items, parse_order_request
from sandbox.state import SandboxState
from sandbox.wire import (
    DEFAULT_PAGE_SIZE,
    ApiError,
    money,
    optional_us_date,
    page,
    parse_int,
    parse_us_datetime,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class Call:
    """One authenticated protocol call."""

    params: Mapping[str, str]
    key: str
    now: datetime
    state: SandboxState
    faults: FaultSettings = field(default_factory=FaultSettings)


Action = Callable[[Call], object]


def get_countries(call: Call) -> object:
    return COUNTRIES


def get_prices_and_freights(call: Call) -> object:
    lines = ordering.order_lines(parse_items(call.params), call.state.prices)
    country_id = parse_int(call.params.get("countryId"), "countryId")
    if country(country_id) is None:
        raise ApiError("INVALID_PARAMETER: countryId")
    weight, qty = ordering.total_weight(lines), ordering.total_qty(lines)
    return {
        "freightList": freight_list(country_id, weight, qty, call.state.withdrawn_ways),
        "priceList": [{"itemNo": line.item_no, "qty": line.qty, "price": money(line.price),
                       "amount": money(line.amount)} for line in lines],
    }


def create_order(call: Call) -> object:
    request = parse_order_request(call.params)
    order = call.state.create_order(call.key, request, call.now)
    logger.info("created order %s (siteNumber=%s, status=%s, totalAmount=%s)", order.number,
                order.site_number, order.status.name.lower(), money(order.total_amount))
    return order.wire()


def get_order_details(call: Call) -> object:
    return call.state.order(call.params.get("number", "")).wire()


def get_order_list(call: Call) -> object:
    status, faults = call.params.get("status"), call.faults
    orders = call.state.find_orders(
        start=optional_us_date(call.params, "gmtCreatedStart"),
        end=optional_us_date(call.params, "gmtCreatedEnd"),
        status=parse_int(status, "status") if status and not faults.list_ignores_status
        else None,
        site_number=None if faults.list_ignores_site_number else (
            call.params.get("siteNumber") or None),
    )
    return _paged(call.params, orders, lambda order: _listed(order, faults))


def _listed(order: Order, faults: FaultSettings) -> dict[str, object]:
    entry = order.wire(details=False)
    if faults.list_omits_site_number:
        del entry["siteNumber"]
    return entry


def get_balance(call: Call) -> object:
    return money(call.state.balance)


def get_bill_list(call: Call) -> object:
    bills = call.state.find_bills(optional_us_date(call.params, "gmtCreatedStart"),
                                  optional_us_date(call.params, "gmtCreatedEnd"))
    return _paged(call.params, bills, lambda bill: bill.wire())


def product_search(call: Call) -> object:
    products = sorted(_matching_products(call.params, call.state.stock),
                      key=lambda p: (p.gmt_modified, p.item_no))
    return _paged(call.params, products,
                  lambda p: product_wire(p, call.state.stock[p.item_no]))


def _matching_products(params: Mapping[str, str], stock: Mapping[str, int]) -> Iterable[Product]:
    category = params.get("categoryId")
    since = params.get("gmtModifiedStart")
    status = parse_int(params.get("status"), "status", -1)
    category_id = parse_int(category, "categoryId") if category else None
    modified_from = parse_us_datetime(since, "gmtModifiedStart") if since else None
    for product in CATALOGUE.values():
        if category_id is not None and product.category_id != category_id:
            continue
        if modified_from is not None and product.gmt_modified < modified_from:
            continue
        if status in (-1, live_status(product, stock[product.item_no])):
            yield product


def product_detail(call: Call) -> object:
    product = CATALOGUE.get(call.params.get("itemNo", ""))
    if product is None:
        raise ApiError(ordering.ITEM_NOT_EXIST)
    wire = product_wire(product, call.state.stock[product.item_no])
    wire["description"] = f"<p>{product.name}. Sandbox product, not a real SUNSKY item.</p>"
    return wire


def _paged(params: Mapping[str, str], rows: Sequence[T],
           wire: Callable[[T], object]) -> dict[str, object]:
    page_no = parse_int(params.get("page"), "page", 1)
    page_size = parse_int(params.get("pageSize"), "pageSize", DEFAULT_PAGE_SIZE)
    header, rows_on_page = page(rows, page_no, page_size)
    return {**header, "result": [wire(row) for row in rows_on_page]}


ACTIONS: dict[str, Action] = {
    "order!getCountries.do": get_countries,
    "order!getPricesAndFreights.do": get_prices_and_freights,
    "order!createOrder.do": create_order,
    "order!getOrderDetails.do": get_order_details,
    "order!getOrderList.do": get_order_list,
    "order!getBalance.do": get_balance,
    "order!getBillList.do": get_bill_list,
    "product!search.do": product_search,
    "product!detail.do": product_detail,
}
