"""The quote before createOrder: pure checks, no I/O (the placer's ``Quoter`` reads SUNSKY).

SUNSKY ships to the country (its own ids) and knows the state where it needs one, a shipping
way by the shop's policy, and a balance that covers goods + freight; each "no" is a ``Fail``
with its code, before createOrder is sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from shared.domain.adoption import CountryLike, match_state
from shared.domain.errors import order_error, top_up_hint
from shared.domain.order import Order
from shared.domain.placement import Destination, Fail, Quoted
from shared.domain.shipping import FreightLike, choose_shipping_way


def destination(order: Order, country: CountryLike | None, now: datetime) -> Destination | Fail:
    """SUNSKY ships to the country, and knows the state where it needs one."""
    ship = order.shipping
    if country is None:
        return Fail(order_error("COUNTRY_NOT_SUPPORTED", now, detail=ship.country_iso2))
    state = match_state(country, ship.state)
    if country.ship_to_state and state is None:
        return Fail(order_error("STATE_INVALID", now, detail=f"{ship.state!r}"))
    return Destination(country.id, state)


def choose_quote(order: Order, where: Destination, goods: Decimal,
                 options: Sequence[FreightLike], policy: dict[str, Any],
                 now: datetime) -> Quoted | Fail:
    """The shipping way by the shop's policy, and the order's total at SUNSKY."""
    way = choose_shipping_way(options, policy)
    if way is None:
        return Fail(order_error("SHIPPING_WAY_NOT_AVAILABLE", now,
                                detail=f"to {order.shipping.country_iso2} ({policy})"))
    return Quoted(where.country_id, where.state, way.id, way.name, goods + way.shipping_cost)


def check_balance(quoted: Quoted, balance: Decimal, now: datetime) -> Fail | None:
    """A balance that does not cover goods + freight is a "no" before createOrder."""
    if balance >= quoted.total:
        return None
    has = f"has {balance:.2f} USD"
    error = order_error("BALANCE_NOT_ENOUGH", now, detail=f"needs {quoted.total:.2f} USD, {has}")
    return Fail(replace(error, fix_hint=top_up_hint(quoted.total, has)),
                quoted_total=quoted.total)
