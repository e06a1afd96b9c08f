"""The quote before createOrder: pure checks, no I/O (the placer's ``Quoter`` reads SUNSKY).

SUNSKY ships to the country (its own ids) and knows the state where it needs one, a shipping
way by the shop's policy, and a balance that covers goods + freight; each "no" is a ``Fail``
with its code, before createOrder is sent.

Quotes are cached by cart (``quote_key``) for every placer (``QUOTE_CACHE_SECONDS``). One that
SUNSKY contradicts goes (``cached_quote_outdated``); createOrder refusing what a cached quote
chose re-quotes once, fresh (``placement.after_create`` -> ``Requote``, then ``after_requote``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from shared.domain.adoption import CountryLike, match_state
from shared.domain.errors import order_error, top_up_hint
from shared.domain.order import Order
from shared.domain.placement import Adopt, Destination, Fail, Quoted
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


def quote_key(where: Destination, items: Sequence[tuple[str, int]]) -> str:
    """The quote cache's key: SUNSKY's country, the state (any case), and each item's total
    quantity in item order, so the same cart in another line order (or split over two lines)
    shares one quote. Item numbers keep their case: SUNSKY's are case-sensitive."""
    qty: dict[str, int] = {}
    for sku, n in items:
        qty[sku.strip()] = qty.get(sku.strip(), 0) + n
    state = (where.state or "").strip().upper()
    return json.dumps([where.country_id, state, sorted(qty.items())], separators=(",", ":"))


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


def after_requote(fail: Fail) -> Fail:
    """The fresh quote after a ``Requote`` said no: createOrder was refused, so SUNSKY holds
    nothing and the next attempt needs no look-up."""
    return replace(fail, clear_intent=True)


def cached_quote_outdated(quoted: Quoted, outcome: Adopt | Fail) -> bool:
    """A cached quote SUNSKY contradicted must go: it charged another total (prices moved), or
    it no longer knows an item."""
    if not quoted.cached:
        return False
    if isinstance(outcome, Fail):
        return outcome.error.code == "ITEM_NOT_EXIST"
    charged = outcome.sunsky.total
    return charged is not None and charged != quoted.total
