"""Re-reading orders from SUNSKY in bulk: callback verification and the reconciliation sweep.

Both read through ``getOrderList`` windows (``reading.py``) so one call covers up to 100 orders,
and fall back to one ``getOrderDetails`` per order only where that is cheaper (a lone callback)
or the list did not show the order. Only orders whose SUNSKY state differs from ours reach
``Tracker.apply``, so an unchanged order costs no database write either.

The sweep runs in every tracker process, but a PostgreSQL advisory lock (transaction-scoped)
lets one sweep at a time, and the time of the last sweep, kept in ``app_settings``, stops the
other processes from sweeping again right after it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from services.tracker.handlers import ACTOR, Tracker
from services.tracker.reading import read_listed, view_of, windows
from shared.db.repository import UnitOfWork
from shared.domain.order import FINAL, Order
from shared.domain.tracking import TRACKED, differs
from shared.messaging.emit import utcnow
from shared.settings import Settings
from shared.sunsky.errors import SunskyNotFoundError

logger = logging.getLogger(__name__)

SWEEP_LOCK = "tracker.sweep"
LAST_SWEEP = "tracker_last_sweep_at"
MAX_TRACKED = 50_000
# The callback event tells which status SUNSKY should list the order under.
EXPECTED_STATUS = {"order/shipped": 3, "order/tracking": 3, "order/cancelled": 4}


@dataclass
class ReadReport:
    """What one verification or sweep did (the benchmark and the logs read it)."""

    orders: int = 0
    list_pages: int = 0
    details: int = 0
    applied: int = 0
    skipped: str | None = None
    not_ours: list[str] = field(default_factory=list)


class Reconciler:
    def __init__(self, settings: Settings, uow: Callable[[], UnitOfWork], sunsky: Any,
                 tracker: Tracker, *, clock: Callable[[], datetime] = utcnow) -> None:
        self._settings, self._uow, self._sunsky = settings, uow, sunsky
        self._tracker, self._clock = tracker, clock

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
        return report

    async def _ours(self, numbers: list[str], report: ReadReport) -> dict[str, Order]:
        """Our still-open orders among ``numbers``; the rest is logged and dropped here."""
        found: dict[str, Order] = {}
        async with self._uow() as uow:
            for number in numbers:
                order = await uow.orders.get_by_sunsky_number(number)
                if order is None:
                    report.not_ours.append(number)
                elif order.status not in FINAL:
                    found[number] = order
        if report.not_ours:
            logger.warning("callbacks for SUNSKY orders that are not ours ignored: %s",
                           ", ".join(report.not_ours[:20]))
        return found

    async def _read(self, orders: list[Order], status: int | None, source: str,
                    report: ReadReport) -> None:
        """One getOrderDetails for a lone order; else list pages, details for leftovers."""
        report.orders += len(orders)
        if len(orders) == 1:
            await self._read_one(orders[0], source, report)
            return
        listing = await read_listed(self._sunsky, windows(orders), status=status,
                                    max_pages=max(1, len(orders) // 2))
        report.list_pages += listing.pages
        for order in orders:
            assert order.sunsky is not None
            view = listing.found.get(order.sunsky.number)
            if view is None:
                await self._read_one(order, source, report)
            elif differs(order, view):
                report.applied += await self._apply(view, source)

    async def _read_one(self, order: Order, source: str, report: ReadReport) -> None:
        assert order.sunsky is not None and order.id is not None
        report.details += 1
        try:
            details = await self._sunsky.get_order_details(order.sunsky.number)
        except SunskyNotFoundError:
            logger.warning("order %s: SUNSKY does not know order %s (%s)", order.id,
                           order.sunsky.number, source)
            return
        view = view_of(details)
        if differs(order, view):
            report.applied += await self._apply(view, source)

    async def _apply(self, view: Any, source: str) -> int:
        decision = await self._tracker.apply(view, source=source)
        return int(decision is not None and decision.changed)

    # --- the sweep ------------------------------------------------------------------------
    async def sweep(self, *, force: bool = False) -> ReadReport:
        """Catch up with SUNSKY for every open order, unless another process just did."""
        now = self._clock()
        # The lock lives as long as this transaction, which is never committed: every change
        # commits in its own unit of work, so a long sweep holds no row locks.
        async with self._uow() as lock:
            if not await lock.orders.try_lock(SWEEP_LOCK):
                return ReadReport(skipped="another tracker is sweeping")
            if not force and not await self._due(lock, now):
                return ReadReport(skipped="not due")
            report = await self._sweep(now)
            async with self._uow() as uow:
                await uow.orders.set_setting(LAST_SWEEP, now.isoformat(), by=ACTOR)
                await uow.commit()
        logger.log(logging.INFO if report.orders else logging.DEBUG,
                   "sweep: %d open orders, %d list pages, %d details, %d changed",
                   report.orders, report.list_pages, report.details, report.applied)
        return report

    async def _due(self, uow: UnitOfWork, now: datetime) -> bool:
        last = await uow.orders.get_setting(LAST_SWEEP)
        try:
            elapsed = (now - datetime.fromisoformat(str(last))).total_seconds()
        except ValueError:  # never swept (None), or a value we cannot read: sweep and rewrite
            return True
        # A little slack so a timer that fires a moment early does not wait a whole interval.
        return elapsed >= self._settings.tracker_sweep_seconds * 0.95

    async def _sweep(self, now: datetime) -> ReadReport:
        cutoff = now - timedelta(days=self._settings.tracker_sweep_window_days)
        async with self._uow() as uow:
            open_orders = await uow.orders.list_tracked(TRACKED, MAX_TRACKED)
        recent = [o for o in open_orders if o.placed_at is None or o.placed_at >= cutoff]
        report = ReadReport(orders=len(recent))
        listing = await read_listed(self._sunsky, windows(recent))
        report.list_pages = listing.pages
        unlisted = []
        for order in recent:
            assert order.sunsky is not None
            view = listing.found.get(order.sunsky.number)
            if view is None:
                unlisted.append(order)
            elif differs(order, view):
                report.applied += await self._apply(view, "sweep")
        await self._stragglers(cutoff, unlisted, report)
        return report

    async def _stragglers(self, cutoff: datetime, unlisted: list[Order],
                          report: ReadReport) -> None:
        """Open orders the list did not show, then ones older than the window: one by one,
        least recently read first, at most ``tracker_sweep_stragglers`` per sweep."""
        budget = self._settings.tracker_sweep_stragglers
        if unlisted:
            logger.warning("sweep: %d open orders missing from SUNSKY's list", len(unlisted))
        old_budget = max(budget - len(unlisted), 0)
        async with self._uow() as uow:
            old = await uow.orders.list_stragglers(TRACKED, cutoff, old_budget)
        report.orders += len(old)
        for order in [*unlisted[:budget], *old]:
            await self._read_one(order, "sweep", report)
            await self._tracker.mark_synced(order.id or 0)
