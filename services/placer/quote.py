"""From an order to a createOrder request and its total, or a business "no" (a ``Fail`` value).

Checks, in order and without calling createOrder: SUNSKY ships to the country (cached country
table), the state is one SUNSKY knows where it needs one, a shipping way by the shop's policy
(one ``getPricesAndFreights``, or the same cart's quote from the shared cache), and a balance
that covers goods + freight (cached balance). The rules are ``shared.domain.quoting``'s; this
module does the reading.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from services.placer.caches import BalanceTracker, CountryDirectory, SharedQuotes
from shared.db.repository import SHIPPING_WAY_POLICY, UnitOfWork
from shared.domain import quoting
from shared.domain.order import Order
from shared.domain.placement import Destination, Fail, Quoted
from shared.messaging.emit import utcnow
from shared.settings import Settings
from shared.sunsky.models import CreateOrderRequest, DeliveryAddress, Quote
from shared.sunsky.port import Sunsky

POLICY_TTL = timedelta(seconds=5)


@dataclass(frozen=True)
class Prepared:
    request: CreateOrderRequest
    quoted: Quoted
    quote_key: str = ""

    @property
    def total(self) -> Decimal:
        return self.quoted.total


class Quoter:
    def __init__(self, settings: Settings, uow: Callable[[], UnitOfWork], sunsky: Sunsky, *,
                 clock: Callable[[], datetime] = utcnow,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._uow, self._sunsky, self._clock = uow, sunsky, clock
        self.countries = CountryDirectory(lambda: self._sunsky.get_countries(), clock=monotonic)
        self.balance = BalanceTracker(lambda: self._sunsky.get_balance(),
                                      ttl=settings.balance_cache_seconds, clock=monotonic)
        self.quotes = SharedQuotes(uow, ttl=settings.quote_cache_seconds, clock=clock)
        self._policy_cache: tuple[datetime, dict[str, Any]] | None = None

    async def prepare(self, order: Order, *, fresh: bool = False) -> Prepared | Fail:
        """The request to send, or why not (SUNSKY errors on the reads are raised); ``fresh``:
        ask SUNSKY even when the cache holds the cart's quote."""
        now = self._clock()
        country = await self.countries.resolve(order.shipping.country_iso2)
        where = quoting.destination(order, country, now)
        if isinstance(where, Fail):
            return where
        key = quoting.quote_key(where, order.lines_for_sunsky)
        quote = None if fresh else await self.quotes.get(key)
        cached = quote is not None
        if quote is None:
            quote = await self._ask(where, order, key)
        goods = sum((p.amount for p in quote.prices), Decimal(0))
        quoted = quoting.choose_quote(order, where, goods, quote.freight_options,
                                        await self._policy(), now)
        if isinstance(quoted, Fail):
            return quoted
        quoted = replace(quoted, cached=cached)
        short = quoting.check_balance(quoted, await self.balance.available(quoted.total), now)
        if short is not None:
            return short
        return Prepared(_request(order, quoted), quoted, key)

    async def _ask(self, where: Destination, order: Order, key: str) -> Quote:
        quote = await self._sunsky.get_prices_and_freights(
            where.country_id, order.lines_for_sunsky, state=where.state)
        await self.quotes.put(key, quote)
        return quote

    async def _policy(self) -> dict[str, Any]:
        """The shipping-way policy, read at most every POLICY_TTL (an admin change applies
        within seconds; a read per order would be one more transaction per order)."""
        now = self._clock()
        if self._policy_cache is None or now - self._policy_cache[0] > POLICY_TTL:
            async with self._uow() as uow:
                policy = await uow.settings.get(SHIPPING_WAY_POLICY)
            self._policy_cache = (now, policy if isinstance(policy, dict) else {"mode": "cheapest"})
        return self._policy_cache[1]


def _request(order: Order, quoted: Quoted) -> CreateOrderRequest:
    s = order.shipping
    address = DeliveryAddress(country_id=quoted.country_id, state=quoted.state,
                              city=s.city or "", address=s.address_line1 or "",
                              address2=s.address_line2, postcode=s.postcode or "",
                              receiver=s.recipient or "", telephone=s.phone or "", email=s.email,
                              company=s.company, shipping_way_id=quoted.way_id)
    return CreateOrderRequest(site_number=order.site_number or "", items=order.lines_for_sunsky,
                              address=address, use_balance_only=True)
