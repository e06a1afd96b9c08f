"""Parsing SUNSKY's flat form parameters (``items.N.itemNo``, ``deliveryAddress.city``).

Syntax only: whether an item exists or an address is deliverable is decided in ``ordering``.
Invented: the ``INVALID_PARAMETER: <name>`` message for malformed parameters (no source shows
SUNSKY's text), and accepting ``useBalanceOnly`` case-insensitively.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from sandbox.wire import ApiError, parse_int

_ITEM_PARAM = re.compile(r"^items\.(\d+)\.(itemNo|qty|remark)$")
ADDRESS_PREFIX = "deliveryAddress."


@dataclass(frozen=True)
class ItemRequest:
    item_no: str
    qty: int
    remark: str | None = None


@dataclass(frozen=True)
class OrderRequest:
    """What ``order!createOrder.do`` asked for, not yet validated."""

    items: tuple[ItemRequest, ...]
    address: Mapping[str, str]  # deliveryAddress.* without the prefix
    site_number: str | None
    use_balance_only: bool


def parse_items(params: Mapping[str, str]) -> tuple[ItemRequest, ...]:
    """``items.N.*`` in numeric order of N (indices need not be contiguous)."""
    grouped: dict[int, dict[str, str]] = {}
    for name, value in params.items():
        match = _ITEM_PARAM.match(name)
        if match:
            grouped.setdefault(int(match[1]), {})[match[2]] = value
    if not grouped:
        raise ApiError("INVALID_PARAMETER: items")
    return tuple(_item(n, grouped[n]) for n in sorted(grouped))


def _item(n: int, fields: dict[str, str]) -> ItemRequest:
    item_no = fields.get("itemNo", "").strip()
    if not item_no:
        raise ApiError(f"INVALID_PARAMETER: items.{n}.itemNo")
    qty = parse_int(fields.get("qty"), f"items.{n}.qty")
    if qty < 1:
        raise ApiError(f"INVALID_PARAMETER: items.{n}.qty")
    return ItemRequest(item_no, qty, fields.get("remark") or None)


def parse_order_request(params: Mapping[str, str]) -> OrderRequest:
    address = {
        name.removeprefix(ADDRESS_PREFIX): value.strip()
        for name, value in params.items()
        if name.startswith(ADDRESS_PREFIX)
    }
    return OrderRequest(
        items=parse_items(params),
        address=address,
        site_number=params.get("siteNumber", "").strip() or None,
        use_balance_only=params.get("useBalanceOnly", "").lower() == "true",
    )
