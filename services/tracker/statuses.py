"""The sweep's reads by status (issue 12): only the moves that matter, where SUNSKY filters.

A sweep that lists every order of its created-date windows pages through orders long final
(and every open one unchanged). Where SUNSKY honours ``getOrderList``'s ``status`` filter, the
sweep asks instead for what an open order can have become: Paid (2) for the orders SUNSKY had
not yet shown paid, Shipped (3) for those not yet Shipped here with a tracking number (whatever
SUNSKY's status when we last read them), Delivered (5) and Cancelled (4) for all; an open order
none of these lists shows has not moved. The status filter is only reported by third parties, so
every filtered page is checked: one that carries an order in another status means SUNSKY ignores
the filter, and the tracker falls back to reading every status (``reading.py``'s unfiltered
windows) for ``RECHECK`` before it tries the filter again.

What a filtered sweep does not see: a tracking number changed on an order that stays Shipped,
and a move to a status code we do not know (``order/tracking`` callbacks and the unfiltered
reads cover the first; the latter shows as soon as the order reaches 4 or 5).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta

from shared.domain.order import Order, OrderStatus
from shared.domain.tracking import TRACKED

logger = logging.getLogger(__name__)

PAID, SHIPPED, CANCELLED, DELIVERED = 2, 3, 4, 5
RECHECK = timedelta(hours=24)


class StatusFilter:
    """Whether SUNSKY's list honours ``status``, as last seen by this process."""

    def __init__(self, clock: Callable[[], datetime], *, use: bool = True,
                 recheck: timedelta = RECHECK) -> None:
        self._clock, self._use, self._recheck = clock, use, recheck
        self._ignored_until: datetime | None = None

    def trusted(self) -> bool:
        """Use the filter: allowed (``TRACKER_STATUS_FILTER``), and not seen ignored lately."""
        return self._use and (self._ignored_until is None or self._clock() >= self._ignored_until)

    def check(self, asked: int, listed: Iterable[int]) -> bool:
        """True when a page asked for ``asked`` listed only that status; else remember that
        SUNSKY ignores the filter."""
        others = sorted({s for s in listed if s != asked})
        if not others:
            return True
        self._ignored_until = self._clock() + self._recheck
        logger.warning("SUNSKY's getOrderList ignored status=%d (it listed status %s): reading "
                       "every status until %s", asked, ", ".join(map(str, others)),
                       f"{self._ignored_until:%Y-%m-%d %H:%M}")
        return False


def passes(orders: Sequence[Order]) -> list[tuple[int, list[Order]]]:
    """(status to list, orders whose created-date windows to list it in)."""
    everything = [o for o in orders if o.sunsky is not None and o.status in TRACKED]
    # SUNSKY not yet seen paid, or Placed still (the order.placed that moves it on was lost)
    unpaid = [o for o in everything if _last_seen(o) < PAID or o.status == OrderStatus.PLACED]
    unshipped = [o for o in everything if _may_ship(o)]
    return [(status, chosen) for status, chosen in
            ((PAID, unpaid), (SHIPPED, unshipped), (DELIVERED, everything),
             (CANCELLED, everything)) if chosen]


def _may_ship(order: Order) -> bool:
    """What a Shipped list can still change: not seen shipped yet; or seen shipped (raw 3, or a
    code we do not know) but not followed (createOrder, or a look-up adopting the order, said
    "shipped" and reading its tracking number failed: the order stays Placed or Processing);
    or Shipped with no tracking number yet. Only a followed Shipped order with its number is
    left out (a new number for it: order/tracking callbacks)."""
    return (_last_seen(order) < SHIPPED or order.status != OrderStatus.SHIPPED
            or not order.shipping.tracking_number)


def _last_seen(order: Order) -> int:
    """SUNSKY's status code when we last read the order (0: never read)."""
    return (order.sunsky.status if order.sunsky else None) or 0
