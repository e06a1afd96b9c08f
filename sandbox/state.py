"""The sandbox's pure in-memory state: orders, stock, balance, bills and the request log.

No I/O and no clock: every change takes ``now``. The protocol and control routes call into it;
tests can drive it directly. Invented beyond sunsky-open-api.md: order numbers are ``yyMMdd`` plus a
process-wide sequence (never reset, so numbers stay unique across resets and sandboxes in one
process), cancelling a balance-paid order refunds it (bill ``txType`` ``"refund"``) and restores
stock, control deposits are bills with ``txType`` ``"deposit"``/``"adjustment"``, and marking an
unpaid order paid through the controls does not touch the balance (paid "by other means").
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal

from sandbox import ordering
from sandbox.catalogue import CATALOGUE
from sandbox.orders import EVENT_BY_STATUS, TRANSITIONS, Order, OrderStatus
from sandbox.params import OrderRequest
from sandbox.wire import ApiError, money, timestamp

RECORD_NOT_FOUND = "The record you visiting does NOT exist."  # [DOC old]
_ORDER_SEQUENCE: Iterator[int] = itertools.count(1)


class TransitionError(Exception):
    """A control asked for a status change the lifecycle does not allow."""


@dataclass(frozen=True)
class Bill:
    amount: Decimal
    balance: Decimal
    created: datetime
    tx_type: str
    ref_id: str | None

    def wire(self) -> dict[str, object]:
        return {"amount": money(self.amount), "balance": money(self.balance),
                "gmtCreated": timestamp(self.created), "txType": self.tx_type,
                "refId": self.ref_id}


@dataclass
class RequestRecord:
    """One protocol request as received; ``outcome`` is filled in when it is answered."""

    path: str
    params: dict[str, str]
    at: datetime
    outcome: str = "pending"
    messages: list[str] = field(default_factory=list)

    def wire(self) -> dict[str, object]:
        return {"path": self.path, "params": self.params, "at": self.at.isoformat(),
                "outcome": self.outcome, "messages": self.messages}


@dataclass
class Placed:
    """An order plus how it was paid (a refund on cancel goes back only to the balance)."""

    order: Order
    paid_from_balance: bool


class SandboxState:
    def __init__(self, initial_balance: Decimal, duplicate_message: str, *,
                 dedupe: bool = True,
                 sequence: Callable[[], int] = lambda: next(_ORDER_SEQUENCE),
                 rng: random.Random | None = None) -> None:
        self.initial_balance = initial_balance
        self.duplicate_message = duplicate_message
        self.default_dedupe = dedupe
        self._sequence = sequence
        self._rng = rng or random.Random()
        self.reset()

    def reset(self) -> None:
        self.balance = self.initial_balance
        # Refuse a reused siteNumber; off, it creates a second order (the worst-case SUNSKY).
        self.dedupe = self.default_dedupe
        self.placed: dict[str, Placed] = {}
        self.bills: list[Bill] = []
        self.requests: list[RequestRecord] = []
        self.stock = {item_no: p.stock for item_no, p in CATALOGUE.items()}
        # the controls' changes to the world: new prices, shipping ways no longer offered
        self.prices: dict[str, Decimal] = {}
        self.withdrawn_ways: set[int] = set()
        self._site_numbers: dict[tuple[str, str], str] = {}

    # --- reading ------------------------------------------------------------------------

    def order(self, number: str) -> Order:
        return self._placed(number).order

    def _placed(self, number: str) -> Placed:
        placed = self.placed.get(number)
        if placed is None:
            raise ApiError(RECORD_NOT_FOUND)
        return placed

    def orders(self) -> list[Order]:
        """Every order, oldest first."""
        return [p.order for p in self.placed.values()]

    def find_orders(self, *, start: date | None = None, end: date | None = None,
                    status: int | None = None, site_number: str | None = None) -> list[Order]:
        """``getOrderList`` filtering (dates inclusive, UTC), newest first."""
        return [
            o for o in reversed(self.orders())
            if _within(o.created, start, end)
            and (status is None or o.status == status)
            and (site_number is None or o.site_number == site_number)
        ]

    def find_bills(self, start: date | None = None, end: date | None = None) -> list[Bill]:
        return [b for b in reversed(self.bills) if _within(b.created, start, end)]

    # --- the protocol -------------------------------------------------------------------

    def create_order(self, key: str, request: OrderRequest, now: datetime) -> Order:
        """All of createOrder's checks, in order, then the order; raises ``ApiError``."""
        self._check_site_number(key, request.site_number)
        lines = ordering.order_lines(request.items, self.prices)
        address = ordering.delivery_address(request.address)
        way = ordering.shipping_way(address, self.withdrawn_ways)
        ordering.check_stock(lines, self.stock)
        cost = way.cost(ordering.total_weight(lines), ordering.total_qty(lines))
        number = f"{now:%y%m%d}{self._sequence():04d}"
        order = Order(number, key, request.site_number, OrderStatus.UNPAID, lines, way, cost,
                      address, now)
        if request.use_balance_only:
            ordering.check_balance(order.total_amount, self.balance)
            self._move_money(-order.total_amount, now, "createOrder", number)
            order = replace(order, status=OrderStatus.PAID, paid=now)
        self._store(order, request.use_balance_only)
        return order

    def _check_site_number(self, key: str, site_number: str | None) -> None:
        if self.dedupe and site_number and (key, site_number) in self._site_numbers:
            raise ApiError(self.duplicate_message.format(site_number=site_number))

    def _store(self, order: Order, paid_from_balance: bool) -> None:
        for line in order.lines:
            self.stock[line.item_no] -= line.qty
        if order.site_number:
            self._site_numbers[(order.key, order.site_number)] = order.number
        self.placed[order.number] = Placed(order, paid_from_balance)

    def _move_money(self, amount: Decimal, now: datetime, tx_type: str,
                    ref_id: str | None) -> None:
        self.balance += amount
        self.bills.append(Bill(amount, self.balance, now, tx_type, ref_id))

    def log_request(self, path: str, params: dict[str, str], now: datetime) -> RequestRecord:
        masked = {k: ("***" if k == "signature" else v) for k, v in params.items()}
        record = RequestRecord(path, masked, now)
        self.requests.append(record)
        return record

    # --- the controls -------------------------------------------------------------------

    def advance(self, number: str, target: OrderStatus, now: datetime, *,
                tracking_number: str | None = None,
                reason: str | None = None) -> tuple[Order, str | None]:
        """Move an order along the lifecycle; returns it and the callback event to fire."""
        placed = self._placed(number)
        if target not in TRANSITIONS[placed.order.status]:
            raise TransitionError(f"cannot move order {number} from "
                                  f"{placed.order.status.name.lower()} to {target.name.lower()}")
        placed.order = self._moved(placed, target, now, tracking_number, reason)
        return placed.order, EVENT_BY_STATUS.get(target)

    def _moved(self, placed: Placed, target: OrderStatus, now: datetime,
               tracking_number: str | None, reason: str | None) -> Order:
        order = replace(placed.order, status=target)
        if target is OrderStatus.PAID:
            return replace(order, paid=now)
        if target is OrderStatus.SHIPPED:
            return replace(order, shipped=now,
                           tracking_number=tracking_number or self._tracking_number())
        if target is OrderStatus.DELIVERED:
            return replace(order, delivered=now)
        self._undo(placed, now)
        return replace(order, cancel_reason=reason)

    def _undo(self, placed: Placed, now: datetime) -> None:
        """Cancelling gives the stock back and refunds what the balance paid (invented)."""
        for line in placed.order.lines:
            self.stock[line.item_no] += line.qty
        if placed.paid_from_balance:
            self._move_money(placed.order.total_amount, now, "refund", placed.order.number)

    def _tracking_number(self) -> str:
        return f"YT{self._rng.randrange(10**15, 10**16)}"

    def set_tracking(self, number: str, tracking_number: str) -> Order:
        """Change the tracking number of a shipped (or delivered) order."""
        placed = self._placed(number)
        if placed.order.status not in (OrderStatus.SHIPPED, OrderStatus.DELIVERED):
            raise TransitionError(f"order {number} is {placed.order.status.name.lower()}, "
                                  "not shipped: it has no tracking number to change")
        placed.order = replace(placed.order, tracking_number=tracking_number)
        return placed.order

    def add_balance(self, amount: Decimal, now: datetime) -> None:
        self._move_money(amount, now, "deposit", None)

    def set_balance(self, amount: Decimal, now: datetime) -> None:
        self._move_money(amount - self.balance, now, "adjustment", None)

    def due_steps(self, now: datetime, step_seconds: float) -> list[tuple[str, OrderStatus]]:
        """Orders paid or shipped at least ``step_seconds`` ago, with their next status."""
        due = []
        for order in self.orders():
            if order.status is OrderStatus.PAID and _waited(order.paid, now, step_seconds):
                due.append((order.number, OrderStatus.SHIPPED))
            elif order.status is OrderStatus.SHIPPED and _waited(order.shipped, now, step_seconds):
                due.append((order.number, OrderStatus.DELIVERED))
        return due

def _within(moment: datetime, start: date | None, end: date | None) -> bool:
    day = moment.date()
    return (start is None or day >= start) and (end is None or day <= end)


def _waited(since: datetime | None, now: datetime, seconds: float) -> bool:
    return since is not None and (now - since).total_seconds() >= seconds
