"""Re-reading orders from SUNSKY in bulk: callback verification and the reconciliation sweep.

Both read through ``getOrderList`` windows (``reading.py``) so one call covers up to 100 orders,
and fall back to one ``getOrderDetails`` per order only where that is cheaper (a lone callback)
or the list did not show the order. Only orders whose SUNSKY state differs from ours reach
``Tracker.apply``, so an unchanged order costs no database write either.

The sweep runs in every tracker process and is claimed in a short transaction: under a
PostgreSQL advisory lock (transaction-scoped) the process that finds it due records the sweep
time in ``app_settings`` and commits, so the other processes find it not due. The sweep itself
then holds no lock and no transaction across SUNSKY calls. As the time is recorded before the
sweep, a sweep that fails half-way still waits its interval instead of re-paging every tick.

A sweep lists the open orders placed within the window newest first, a page at a time, and
applies each page's list reads before the next page. Where SUNSKY honours the list's status
filter, a page is read by status (``statuses.py``: what an open order can have become), so
SUNSKY's pages carry only orders that moved; where it ignores it (until that is known again),
or with ``TRACKER_STATUS_FILTER=false``, every status of the page's windows is read. Then it
re-reads one by one, each group within its own ``tracker_sweep_stragglers`` budget and least
recently read first: the recent orders SUNSKY's list did not show (read by every status only),
and the open orders older than the window. One order's failure (a SUNSKY error, a database
error while applying) is logged with our order id and the SUNSKY number and counted, and the
sweep goes on; a one-by-one read that failed still counts as tried (``mark_tried``), so it goes
to the back of the queue instead of blocking it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from services.tracker.handlers import ACTOR, Tracker
from services.tracker.reading import read_listed, windows
from services.tracker.statuses import StatusFilter, passes
from shared.db.repository import UnitOfWork
from shared.domain.order import FINAL, Order
from shared.domain.tracking import TRACKED, SunskyView, differs
from shared.lifecycle.tracking import view_of
from shared.messaging.emit import utcnow
from shared.settings import Settings
from shared.sunsky.errors import SunskyNotFoundError
from shared.sunsky.port import Sunsky

logger = logging.getLogger(__name__)

SWEEP_LOCK = "tracker.sweep"
LAST_SWEEP = "tracker_last_sweep_at"
# Open orders the sweep loads (and reads from SUNSKY's list) at a time. Each page boundary
# re-reads a day or two of SUNSKY's list (the windows' padding), so not much smaller.
SWEEP_PAGE = 5000
# The callback event tells which status SUNSKY should list the order under.
EXPECTED_STATUS = {"order/shipped": 3, "order/tracking": 3, "order/cancelled": 4}


@dataclass
class ReadReport:
    """What one verification or sweep did (the benchmark and the logs read it)."""

    orders: int = 0
    list_pages: int = 0
    details: int = 0
    applied: int = 0
    errors: int = 0
    skipped: str | None = None
    not_ours: list[str] = field(default_factory=list)


class Reconciler:
    def __init__(self, settings: Settings, uow: Callable[[], UnitOfWork], sunsky: Sunsky,
                 tracker: Tracker, *, clock: Callable[[], datetime] = utcnow,
                 page_size: int = SWEEP_PAGE) -> None:
        self._settings, self._uow, self._sunsky = settings, uow, sunsky
        self._tracker, self._clock, self._page_size = tracker, clock, page_size
        self.status_filter = StatusFilter(clock, use=settings.tracker_status_filter)

    # --- callbacks ------------------------------------------------------------------------
    async def verify(self, events: Mapping[str, str]) -> ReadReport:
        """Callbacks named these SUNSKY orders (number -> event): read them, apply them."""
        report = ReadReport()
        ours = await self._ours(list(events), report)
        groups: dict[int | None, list[Order]] = {}
        for number, order in ours.items():
            groups.setdefault(EXPECTED_STATUS.get(events[number]), []).append(order)
        for status, orders in groups.items():
            await self._read(orders, status, "callback", report)
        logger.info("callbacks verified for %s: %d list pages, %d details, %d changed",
                    " ".join(list(events)[:20]), report.list_pages, report.details,
                    report.applied)
        return report

    async def _ours(self, numbers: list[str], report: ReadReport) -> dict[str, Order]:
        """Our still-open orders among ``numbers``; the rest is logged and dropped here."""
        async with self._uow() as uow:
            found = {_number(o): o for o in await uow.orders.list_by_sunsky_numbers(numbers)}
        report.not_ours = [n for n in numbers if n not in found]
        if report.not_ours:
            logger.warning("callbacks for SUNSKY orders that are not ours ignored: %s",
                           ", ".join(report.not_ours[:20]))
        return {n: o for n, o in found.items() if o.status not in FINAL}

    async def _read(self, orders: list[Order], status: int | None, source: str,
                    report: ReadReport) -> None:
        """One getOrderDetails for a lone order; else list pages, details for leftovers."""
        report.orders += len(orders)
        if len(orders) == 1:
            await self._read_one(orders[0], source, report)
            return
        status = status if self.status_filter.trusted() else None
        listing = await read_listed(self._sunsky, windows(orders), self._clock, status=status,
                                    max_pages=max(1, len(orders) // 2))
        report.list_pages += listing.pages
        if status is not None:
            self.status_filter.check(status, listing.statuses)
        for order in orders:
            view = listing.found.get(_number(order))
            if view is None:
                await self._read_one(order, source, report)
            elif differs(order, view):
                await self._apply(view, source, report)

    async def _read_one(self, order: Order, source: str, report: ReadReport) -> None:
        number = _number(order)
        report.details += 1
        read_at = self._clock()
        try:
            details = await self._sunsky.get_order_details(number)
        except SunskyNotFoundError:
            logger.warning("order %s: SUNSKY does not know order %s (%s)", order.id, number,
                           source)
            return
        view = view_of(details, read_at)
        if differs(order, view):
            await self._apply(view, source, report)

    async def _apply(self, view: SunskyView, source: str, report: ReadReport) -> None:
        decision = await self._tracker.apply(view, source=source)
        report.applied += int(decision is not None and decision.changed)

    # --- the sweep ------------------------------------------------------------------------
    async def sweep(self, *, force: bool = False) -> ReadReport:
        """Catch up with SUNSKY for every open order, unless another process just did."""
        now = self._clock()
        skipped = await self._claim(now, force)
        if skipped is not None:
            return ReadReport(skipped=skipped)
        report = await self._sweep(now)
        level = logging.WARNING if report.errors else (
            logging.INFO if report.orders else logging.DEBUG)
        logger.log(level, "sweep: %d open orders, %d list pages, %d details, %d changed, "
                   "%d failed", report.orders, report.list_pages, report.details,
                   report.applied, report.errors)
        return report

    async def _claim(self, now: datetime, force: bool) -> str | None:
        """Record this sweep as done now, in one short transaction; or say why not to sweep."""
        async with self._uow() as uow:
            if not await uow.locks.try_lock(SWEEP_LOCK):
                return "another tracker is claiming the sweep"
            if not force and not await self._due(uow, now):
                return "not due"
            await uow.settings.set(LAST_SWEEP, now.isoformat(), by=ACTOR)
            await uow.commit()
        return None

    async def _due(self, uow: UnitOfWork, now: datetime) -> bool:
        last = await uow.settings.get(LAST_SWEEP)
        try:
            elapsed = (now - datetime.fromisoformat(str(last))).total_seconds()
        except ValueError:  # never swept (None), or a value we cannot read: sweep and rewrite
            return True
        # A little slack so a timer that fires a moment early does not wait a whole interval.
        return elapsed >= self._settings.tracker_sweep_seconds * 0.95

    async def _sweep(self, now: datetime) -> ReadReport:
        cutoff = now - timedelta(days=self._settings.tracker_sweep_window_days)
        report, unlisted = ReadReport(), []
        after: tuple[datetime, int] | None = None
        while True:
            async with self._uow() as uow:
                page = await uow.tracking.list_tracked(TRACKED, cutoff, self._page_size,
                                                     after=after)
            unlisted += await self._sweep_page(page, report)
            if len(page) < self._page_size:
                break
            after = _placed_key(page[-1])
        await self._reread_unlisted(unlisted, report)
        await self._reread_old(cutoff, report)
        return report

    async def _sweep_page(self, page: Sequence[Order], report: ReadReport) -> list[int]:
        """Read a page of open orders from SUNSKY's list and apply it; returns the ids of those
        the list did not show (orders of a window whose paging failed are left for later)."""
        report.orders += len(page)
        if self.status_filter.trusted() and await self._sweep_by_status(page, report):
            return []  # an open order no list showed has not moved
        listing = await read_listed(self._sunsky, windows(page), self._clock,
                                    tolerate_errors=True)
        report.list_pages += listing.pages
        report.errors += listing.errors
        unlisted = []
        for order in page:
            view = listing.found.get(_number(order))
            if view is None and _number(order) not in listing.failed:
                unlisted.append(order.id or 0)
            elif view is not None and differs(order, view):
                await self._isolated(order, report, self._apply(view, "sweep", report))
        return unlisted

    async def _sweep_by_status(self, page: Sequence[Order], report: ReadReport) -> bool:
        """Each status an open order may have moved to, in its windows; False as soon as a page
        shows that SUNSKY ignores the filter (the caller then reads every status)."""
        for status, orders in passes(page):
            listing = await read_listed(self._sunsky, windows(orders), self._clock,
                                        status=status, tolerate_errors=True)
            report.list_pages += listing.pages
            report.errors += listing.errors
            if not self.status_filter.check(status, listing.statuses):
                return False
            for order in orders:
                view = listing.found.get(_number(order))
                if view is not None and differs(order, view):
                    await self._isolated(order, report, self._apply(view, "sweep", report))
        return True

    async def _reread_unlisted(self, unlisted: Collection[int], report: ReadReport) -> None:
        if not unlisted:
            return
        logger.warning("sweep: %d open orders missing from SUNSKY's list", len(unlisted))
        async with self._uow() as uow:
            orders = await uow.tracking.least_recently_read(
                unlisted, self._settings.tracker_sweep_stragglers)
        await self._reread(orders, report)

    async def _reread_old(self, cutoff: datetime, report: ReadReport) -> None:
        """Open orders older than the window: the list is not paged that far back."""
        async with self._uow() as uow:
            old = await uow.tracking.list_stragglers(TRACKED, cutoff,
                                                   self._settings.tracker_sweep_stragglers)
        report.orders += len(old)
        await self._reread(old, report)

    async def _reread(self, orders: Sequence[Order], report: ReadReport) -> None:
        """One by one; each read counts as tried, failed or not, for the next sweep's order."""
        for order in orders:
            tried_at = self._clock()
            await self._isolated(order, report, self._read_one(order, "sweep", report))
            await self._isolated(order, report, self._mark_tried(order.id or 0, tried_at))

    async def _mark_tried(self, order_id: int, at: datetime) -> None:
        async with self._uow() as uow:
            await uow.tracking.mark_tried(order_id, at)
            await uow.commit()

    @staticmethod
    async def _isolated(order: Order, report: ReadReport, work: Awaitable[None]) -> None:
        """One order's failure is logged and counted; the sweep goes on with the others."""
        try:
            await work
        except Exception as exc:  # CancelledError is no Exception: shutdown still stops us
            report.errors += 1
            logger.error("sweep: order %s (SUNSKY %s) failed (%r); the sweep goes on",
                         order.id, _number(order), exc)


def _number(order: Order) -> str:
    assert order.sunsky is not None
    return order.sunsky.number


def _placed_key(order: Order) -> tuple[datetime, int]:
    assert order.placed_at is not None and order.id is not None
    return order.placed_at, order.id
