"""From an order to a createOrder request and its total, or a business "no" (``Refused``).

Checks, in order and without calling createOrder: SUNSKY ships to the country (cached country
table), the state is one SUNSKY knows where it needs one, a shipping way by the shop's policy
(one ``getPricesAndFreights``), and a balance that covers goods + freight (cached balance).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from services.placer.caches import BalanceTracker, CountryDirectory
from shared.db.repository import SHIPPING_WAY_POLICY, UnitOfWork
from shared.domain.errors import order_error
from shared.domain.order import Order, OrderError
from shared.domain.shipping import choose_shipping_way
from shared.messaging.emit import utcnow
from shared.settings import Settings
from shared.sunsky.models import CreateOrderRequest, DeliveryAddress
from shared.sunsky.port import Sunsky

POLICY_TTL = timedelta(seconds=5)


@dataclass(frozen=True)
class Prepared:
    request: CreateOrderRequest
    total: Decimal
    country_id: int
    way_id: int
    way_name: str


class Refused(Exception):
    """A business "no" found before createOrder, with the order's quote when there is one."""

    def __init__(self, error: OrderError, *, quoted_total: Decimal | None = None) -> None:
        super().__init__(error.code)
        self.error, self.quoted_total = error, quoted_total


class Quoter:
    def __init__(self, settings: Settings, uow: Callable[[], UnitOfWork], sunsky: Sunsky, *,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self._uow, self._sunsky, self._clock = uow, sunsky, clock
        self.countries = CountryDirectory(lambda: self._sunsky.get_countries())
        self.balance = BalanceTracker(lambda: self._sunsky.get_balance(),
                                      ttl=settings.balance_cache_seconds)
        self._policy_cache: tuple[datetime, dict[str, Any]] | None = None

    async def prepare(self, order: Order) -> Prepared:
        now, ship = self._clock(), order.shipping
        country = await self.countries.resolve(ship.country_iso2)
        if country is None:
            raise Refused(order_error("COUNTRY_NOT_SUPPORTED", now, detail=ship.country_iso2))
        state = _match_state(country, ship.state)
        if country.ship_to_state and state is None:
            raise Refused(order_error("STATE_INVALID", now, detail=f"{ship.state!r}"))
        quote = await self._sunsky.get_prices_and_freights(
            country.id, order.lines_for_sunsky, state=state)
        policy = await self._policy()
        way = choose_shipping_way(quote.freight_options, policy)
        if way is None:
            raise Refused(order_error("SHIPPING_WAY_NOT_AVAILABLE", now,
                                      detail=f"to {ship.country_iso2} ({policy})"))
        total = sum((p.amount for p in quote.prices), Decimal(0)) + way.shipping_cost
        await self._check_balance(total, now)
        request = CreateOrderRequest(site_number=order.site_number or "",
                                     items=order.lines_for_sunsky,
                                     address=_address(order, country.id, state, way.id),
                                     use_balance_only=True)
        return Prepared(request, total, country.id, way.id, way.name)

    async def _check_balance(self, total: Decimal, now: datetime) -> None:
        balance = await self.balance.available(total)
        if balance < total:
            has = f"has {balance:.2f} USD"
            error = order_error("BALANCE_NOT_ENOUGH", now, detail=f"needs {total:.2f} USD, {has}")
            raise Refused(replace(error, fix_hint=top_up_hint(total, has)), quoted_total=total)

    async def _policy(self) -> dict[str, Any]:
        """The shipping-way policy, read at most every POLICY_TTL (an admin change applies
        within seconds; a read per order would be one more transaction per order)."""
        now = self._clock()
        if self._policy_cache is None or now - self._policy_cache[0] > POLICY_TTL:
            async with self._uow() as uow:
                policy = await uow.settings.get(SHIPPING_WAY_POLICY)
            self._policy_cache = (now, policy if isinstance(policy, dict) else {"mode": "cheapest"})
        return self._policy_cache[1]


def top_up_hint(total: Decimal, has: str) -> str:
    return (f"Top up SUNSKY balance: needs {total:.2f} USD, {has}; waiting orders are retried "
            "once it covers them")


def _match_state(country: Any, state: str | None) -> str | None:
    wanted = (state or "").strip().lower()
    for candidate in country.states:
        if wanted in {candidate.code.lower(), candidate.name.lower()}:
            return str(candidate.code)
    return None if country.ship_to_state else (state or None)


def _address(order: Order, country_id: int, state: str | None, way_id: int) -> DeliveryAddress:
    s = order.shipping
    return DeliveryAddress(country_id=country_id, state=state, city=s.city or "",
                           address=s.address_line1 or "", address2=s.address_line2,
                           postcode=s.postcode or "", receiver=s.recipient or "",
                           telephone=s.phone or "", email=s.email, company=s.company,
                           shipping_way_id=way_id)
