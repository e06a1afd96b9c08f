"""Reading many SUNSKY orders for few calls: ``getOrderList`` over created-date windows.

SUNSKY has no "orders changed since" call. What it has is ``getOrderList`` filtered by creation
date (and, per third-party clients, by status), 100 orders a page. So the tracker groups the
orders it wants by the day they were placed, pads each day by one on both sides (SUNSKY's time
zone is unstated), merges overlapping days into windows, and pages through each window only
until every wanted order was seen. Orders SUNSKY still lists under another status are matched by
number on our side, so a status filter SUNSKY ignored costs pages, never correctness.

Each view carries the time its page was requested (``read_at``): the tracker ignores a view read
before the one it last applied. With ``tolerate_errors`` (the sweep) a window whose page fails
is logged and given up, its orders left for the next sweep, and the other windows still read.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from shared.domain.order import Order
from shared.domain.tracking import SunskyView
from shared.lifecycle.tracking import view_of
from shared.sunsky.port import Sunsky

logger = logging.getLogger(__name__)

PAGE_SIZE = 100  # SUNSKY's maximum
PAD = timedelta(days=1)


@dataclass(frozen=True)
class Window:
    """Created-date range (inclusive) and the SUNSKY numbers we want from it."""

    start: date
    end: date
    numbers: frozenset[str]


def placed_day(order: Order) -> date:
    moment = order.placed_at or order.created_at or datetime.now(UTC)
    return moment.astimezone(UTC).date()


def windows(orders: Iterable[Order]) -> list[Window]:
    """Padded, merged created-date windows covering ``orders`` (which have SUNSKY numbers)."""
    days: dict[date, set[str]] = {}
    for order in orders:
        if order.sunsky is not None:
            days.setdefault(placed_day(order), set()).add(order.sunsky.number)
    merged: list[Window] = []
    for day in sorted(days):
        start, end = day - PAD, day + PAD
        if merged and start <= merged[-1].end + timedelta(days=1):
            last = merged.pop()
            start, numbers = last.start, last.numbers | days[day]
        else:
            numbers = frozenset(days[day])
        merged.append(Window(start, end, frozenset(numbers)))
    return merged


@dataclass
class Listing:
    """What paging found: wanted orders by number, how many pages it cost, and the numbers of
    windows whose paging failed (``tolerate_errors`` only)."""

    found: dict[str, SunskyView]
    pages: int = 0
    failed: set[str] = field(default_factory=set)
    errors: int = 0
    # the statuses of every order listed (``status`` asked: a check that SUNSKY honoured it)
    statuses: set[int] = field(default_factory=set)


async def read_listed(sunsky: Sunsky, wanted: list[Window], clock: Callable[[], datetime], *,
                      status: int | None = None, max_pages: int | None = None,
                      tolerate_errors: bool = False) -> Listing:
    """Page through each window until its numbers are all seen (or ``max_pages`` in total)."""
    listing = Listing({})
    for window in wanted:
        missing = set(window.numbers)
        try:
            await _read_window(sunsky, window, missing, listing, clock, status, max_pages)
        except Exception as exc:  # CancelledError is no Exception: shutdown still stops us
            if not tolerate_errors:
                raise
            listing.errors += 1
            listing.failed |= missing
            logger.error("getOrderList %s..%s failed (%r): %d orders left for the next sweep "
                         "(SUNSKY %s)", window.start, window.end, exc, len(missing),
                         ", ".join(sorted(missing)[:10]))
    return listing


async def _read_window(sunsky: Sunsky, window: Window, missing: set[str], listing: Listing,
                       clock: Callable[[], datetime], status: int | None,
                       max_pages: int | None) -> None:
    page, page_count = 1, 1
    while missing and page <= page_count:
        if max_pages is not None and listing.pages >= max_pages:
            return
        read_at = clock()
        result = await sunsky.get_order_list(created_from=window.start, created_to=window.end,
                                             page=page, page_size=PAGE_SIZE, status=status)
        listing.pages += 1
        listing.statuses |= {order.status for order in result.orders}
        for order in result.orders:
            if order.number in missing:
                missing.discard(order.number)
                listing.found[order.number] = view_of(order, read_at)
        if not result.orders:
            return
        page, page_count = page + 1, result.page_count
