"""createOrder's checks as pure functions: items, delivery address, shipping way, stock, money.

Message texts: ``ITEM_NOT_EXIST`` is [3P]; ``INVALID_DELIVERY_ADDRESS: <field>``,
``SHIPPING_WAY_NOT_AVAILABLE``, ``OUT_OF_STOCK: <itemNo>`` and
``BALANCE_NOT_ENOUGH: needs X, has Y`` are sandbox inventions (sunsky-open-api.md section 3
suggests the names; no source shows the real texts).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from decimal import Decimal

from sandbox.catalogue import CATALOGUE, ShippingWay, country, shipping_ways
from sandbox.orders import DeliveryAddress, OrderLine
from sandbox.params import ItemRequest
from sandbox.wire import ApiError, money

ITEM_NOT_EXIST = "ITEM_NOT_EXIST"
SHIPPING_WAY_NOT_AVAILABLE = "SHIPPING_WAY_NOT_AVAILABLE"
REQUIRED_ADDRESS_FIELDS = ("receiver", "address", "city", "postcode", "telephone")


def order_lines(items: Iterable[ItemRequest],
                prices: Mapping[str, Decimal] | None = None) -> tuple[OrderLine, ...]:
    """Price each requested item (``prices``: the controls' changed prices); one unknown item
    fails the whole call, naming none [3P]."""
    lines = []
    for item in items:
        product = CATALOGUE.get(item.item_no)
        if product is None:
            raise ApiError(ITEM_NOT_EXIST)
        price = (prices or {}).get(item.item_no, product.price)
        lines.append(OrderLine(item.item_no, product.name, item.qty, price, item.remark))
    return tuple(lines)


def total_weight(lines: Iterable[OrderLine]) -> Decimal:
    return sum((CATALOGUE[line.item_no].weight_kg * line.qty for line in lines), Decimal(0))


def total_qty(lines: Iterable[OrderLine]) -> int:
    return sum(line.qty for line in lines)


def delivery_address(raw: Mapping[str, str]) -> DeliveryAddress:
    """Validate ``deliveryAddress.*``; the first problem found is reported."""
    country_id = _country_id(raw.get("countryId", ""))
    for field in REQUIRED_ADDRESS_FIELDS:
        if not raw.get(field):
            raise ApiError(f"INVALID_DELIVERY_ADDRESS: {field}")
    state = _state(country_id, raw.get("state", ""))
    return DeliveryAddress(
        country_id=country_id, shipping_way_id=_shipping_way_id(raw), receiver=raw["receiver"],
        address=raw["address"], city=raw["city"], postcode=raw["postcode"],
        telephone=raw["telephone"], state=state, company=raw.get("company") or None,
        address2=raw.get("address2") or None, email=raw.get("email") or None,
        shipment=raw.get("shipment") or None,
    )


def _country_id(text: str) -> int:
    if text.isdigit() and country(int(text)) is not None:
        return int(text)
    raise ApiError("INVALID_DELIVERY_ADDRESS: countryId")


def _state(country_id: int, code: str) -> str | None:
    known = country(country_id)
    if known is None or not known["shipToState"]:
        return code or None
    if code not in {s["code"] for s in known["stateList"]}:
        raise ApiError("INVALID_DELIVERY_ADDRESS: state")
    return code


def _shipping_way_id(raw: Mapping[str, str]) -> int:
    text = raw.get("shippingWayId", "")
    if not text.isdigit():
        raise ApiError(SHIPPING_WAY_NOT_AVAILABLE)
    return int(text)


def shipping_way(address: DeliveryAddress, withdrawn: Collection[int] = ()) -> ShippingWay:
    """The chosen way must be one the country offers (Brazil offers none) and the controls did
    not withdraw."""
    for way in shipping_ways(address.country_id):
        if way.id == address.shipping_way_id and way.id not in withdrawn:
            return way
    raise ApiError(SHIPPING_WAY_NOT_AVAILABLE)


def check_stock(lines: Iterable[OrderLine], stock: Mapping[str, int]) -> None:
    wanted: Counter[str] = Counter()
    for line in lines:
        wanted[line.item_no] += line.qty
    for item_no, qty in wanted.items():
        if stock.get(item_no, 0) < qty:
            raise ApiError(f"OUT_OF_STOCK: {item_no}")


def check_balance(total: Decimal, balance: Decimal) -> None:
    if balance < total:
        raise ApiError(f"BALANCE_NOT_ENOUGH: needs {money(total)}, has {money(balance)}")
