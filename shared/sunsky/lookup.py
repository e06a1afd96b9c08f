"""Finding the order we created under a ``siteNumber``, at a bounded cost (issue 9).

SUNSKY has no "get by siteNumber": ``getOrderList`` takes a date window and, by third-party
reports only, a ``siteNumber`` filter; its entries are only known to carry ``number``. So:

- the window is what the attempt implies: nothing of it can predate the attempt's start, and
  SUNSKY's times are in an unstated time zone, so ``not_before - 14 h`` to ``now + 14 h`` (every
  UTC offset), asked as whole days (the list takes dates);
- the filter is sent, but every entry is matched here: by its ``siteNumber`` when it carries
  one (free), else by its details (one ``getOrderDetails`` each), and only for entries whose
  ``gmtCreated`` lies in the window (an entry outside it cannot be that attempt's order);
- a match SUNSKY cancelled is returned only when no live one exists (an order cancelled at
  SUNSKY is never adopted as placed);
- at most ``max_calls`` calls (pages and details): a look-up that needs more raises
  ``SunskyLookupBudgetError``, an unknown outcome, never "none" (callers place again on None);
- one INFO line says what the look-up cost.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from shared.sunsky.errors import ErrorKind, SunskyUnknownOutcomeError, bad_response
from shared.sunsky.models import SunskyOrder, parse_sunsky_time, readable_order

logger = logging.getLogger("shared.sunsky.client")

TIME_ZONE_PAD = timedelta(hours=14)  # UTC-12 .. UTC+14
CANCELLED = 4  # SUNSKY's status code (sunsky-open-api.md section 8)
GET_ORDER_LIST = "order!getOrderList.do"

Page = tuple[int, list[dict[str, Any]]]  # (pageCount, raw entries)


class SunskyLookupBudgetError(SunskyUnknownOutcomeError):
    """The look-up would need more calls than it may spend: it cannot tell.

    The outcome stays unknown (the order is never placed again on it), but it waits for a
    person: an automatic retry would spend the whole cap again and end the same way."""

    kind = ErrorKind.NEEDS_ACTION

    default_hint = (
        "SUNSKY's order list did not narrow the look-up by siteNumber, so it reads orders one by "
        "one: check at SUNSKY whether an order with this siteNumber exists (dropship orders "
        "show ID), or raise PLACING_LOOKUP_MAX_CALLS, then dropship orders retry ID")


@dataclass
class SiteNumberSearch:
    """One look-up: ``list_page(page)`` reads a raw ``getOrderList`` page of the window
    (``siteNumber`` filter sent), ``details(number)`` one order."""

    site_number: str
    earliest: datetime
    latest: datetime
    list_page: Callable[[int], Awaitable[Page]]
    details: Callable[[str], Awaitable[SunskyOrder]]
    max_calls: int | None = None
    pages: int = 0
    detail_reads: int = 0
    outside: int = 0  # entries without our siteNumber left out by their gmtCreated
    _cancelled: SunskyOrder | None = field(default=None, repr=False)

    async def run(self) -> SunskyOrder | None:
        try:
            found = await self._search()
        except Exception:
            self._log("could not tell")
            raise
        self._log(f"found {found.number} (status {found.status})" if found else "none")
        return found

    async def _search(self) -> SunskyOrder | None:
        async with aclosing(self._entries()) as entries:
            async for entry in entries:
                order = await self._matching(entry)
                if order is None:
                    continue
                if order.status != CANCELLED:
                    return order
                self._cancelled = self._cancelled or order
        return self._cancelled

    async def _entries(self) -> AsyncGenerator[dict[str, Any], None]:
        page, page_count = 1, 1
        while page <= page_count:
            self._spend()
            page_count, entries = await self.list_page(page)
            self.pages += 1
            for entry in entries:
                yield entry
            if not entries:
                return
            page += 1

    async def _matching(self, entry: dict[str, Any]) -> SunskyOrder | None:
        """The order if this entry is ours. None must mean "not ours", never "could not
        tell": an entry without ``siteNumber``, or one our model cannot read, in the window
        is checked against its details."""
        listed = entry.get("siteNumber")
        if listed not in (None, "", self.site_number):
            return None
        number = entry.get("number")
        if not number:
            raise bad_response(GET_ORDER_LIST, ["an order list entry without a number"])
        if listed == self.site_number and readable_order(entry):
            return SunskyOrder.model_validate(entry)
        if listed != self.site_number and not self._in_window(entry):
            self.outside += 1
            return None
        self._spend()
        self.detail_reads += 1
        order = await self.details(str(number))
        return order if order.site_number == self.site_number else None

    def _in_window(self, entry: dict[str, Any]) -> bool:
        created = parse_sunsky_time(entry.get("gmtCreated"))
        if not isinstance(created, datetime):
            return True  # cannot tell: check it
        return self.earliest <= created <= self.latest

    def _spend(self) -> None:
        if self.max_calls is not None and self.calls >= self.max_calls:
            raise SunskyLookupBudgetError("LOOKUP_BUDGET_EXCEEDED", [
                f"the look-up of siteNumber {self.site_number} needs more than {self.max_calls} "
                f"SUNSKY calls ({self.pages} list pages, {self.detail_reads} order details read "
                "so far): SUNSKY may or may not hold the order"], endpoint=GET_ORDER_LIST)

    @property
    def calls(self) -> int:
        return self.pages + self.detail_reads

    def _log(self, outcome: str) -> None:
        logger.info("look-up of siteNumber %s cost %d SUNSKY calls (%d list pages, %d order "
                    "details; %d entries outside the window): %s", self.site_number,
                    self.calls, self.pages, self.detail_reads, self.outside, outcome)
