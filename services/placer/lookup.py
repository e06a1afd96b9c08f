"""SUNSKY's answers as the placement rules see them, and the look-up by siteNumber.

``SiteNumberLookup.find`` asks SUNSKY for the order it holds under our siteNumber, created no
earlier than the attempt that may have created it, and says what it found next to what
createOrder would send now (``shared.domain.adoption.Found``): an order SUNSKY holds is adopted
only where it ships where we ship. "None" is SUNSKY confirming it holds none; a look-up that
cannot tell (a failed read, its call budget spent) is an ``OrderError``, never "none".
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from services.placer.caches import CountryDirectory
from shared.domain.adoption import Found, expected_ship_to
from shared.domain.order import Order, OrderError
from shared.lifecycle.placed import address_of, placement_of
from shared.settings import Settings
from shared.sunsky.errors import SunskyError
from shared.sunsky.models import SunskyOrder
from shared.sunsky.port import Sunsky


def sunsky_error(exc: SunskyError, now: datetime) -> OrderError:
    message = "; ".join(exc.messages) or str(exc)
    return OrderError(code=exc.code, kind=str(exc.kind), message=message,
                      fix_hint=exc.fix_hint, at=now)


class SiteNumberLookup:
    def __init__(self, settings: Settings, sunsky: Sunsky, countries: CountryDirectory, *,
                 clock: Callable[[], datetime]) -> None:
        self._settings, self._sunsky, self._countries, self._clock = (settings, sunsky,
                                                                      countries, clock)

    async def find(self, order: Order) -> Found | OrderError | None:
        """What SUNSKY holds under the order's siteNumber, or None when it confirms none."""
        assert order.site_number is not None and order.placing_started_at is not None
        try:
            held = await self._sunsky.find_order_by_site_number(
                order.site_number, not_before=order.placing_started_at,
                max_calls=self._settings.placing_lookup_max_calls)
            if held is None:
                return None
            if held.delivery_address is None:  # a thin list entry: where does it ship?
                held = await self._sunsky.get_order_details(held.number)
            return await self._found(order, held)
        except SunskyError as exc:
            return sunsky_error(exc, self._clock())

    async def _found(self, order: Order, held: SunskyOrder) -> Found:
        where = held.delivery_address
        iso2 = await self._countries.iso2_of(where.country_id) if where else None
        ours = expected_ship_to(order, await self._countries.resolve(order.shipping.country_iso2))
        return Found(placement_of(held), address_of(held, iso2), ours)
