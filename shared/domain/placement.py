"""Placing an order with SUNSKY: pure decisions, no I/O (STYLE.md point 4).

The placer reads as load -> decide -> call -> decide -> save: each function here takes the order
as stored, the time and what SUNSKY answered, and says what to do next. A business "no" is a
value (``Fail``), never an exception. The one-order guarantee rests on three rules, all here:

1. ``start_attempt``: the intent (Placing, a new attempt, ``placing_started_at``) is recorded
   before createOrder is sent, always with the order's one ``siteNumber``; an attempt that some
   other worker started since this one loaded the order is not ours to send.
2. ``on_ready``/``after_create``: an order that may already be at SUNSKY (an earlier attempt,
   an unknown outcome, SUNSKY saying "already placed") is looked up by ``siteNumber`` first,
   after the settle time, and placed again only when SUNSKY confirms it has none.
3. ``on_ready``/``mark_placed``: an order SUNSKY holds, or one that is not Ready to Place or
   Placing, is never placed; duplicates and stale messages change nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from shared.domain.errors import order_error
from shared.domain.order import (
    FINAL,
    SUBMITTED,
    Order,
    OrderError,
    OrderStatus,
    SunskyPlacement,
)
from shared.domain.retry import RetryPolicy, schedule_retry, settle_until
from shared.domain.shipping import FreightLike, choose_shipping_way

S = OrderStatus
PLACEABLE = frozenset({S.READY_TO_PLACE, S.PLACING})
# createOrder answers after which the order may exist at SUNSKY: look it up, never re-send.
AMBIGUOUS_KINDS = frozenset({"unknown_outcome", "duplicate"})


# --- what SUNSKY told us, as values -----------------------------------------------------------
class StateLike(Protocol):
    @property
    def code(self) -> str: ...
    @property
    def name(self) -> str: ...


class CountryLike(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def ship_to_state(self) -> bool: ...
    @property
    def states(self) -> Sequence[StateLike]: ...


@dataclass(frozen=True)
class Destination:
    country_id: int
    state: str | None


@dataclass(frozen=True)
class Quoted:
    """The shipping way chosen and what the order costs at SUNSKY (goods + freight)."""

    country_id: int
    state: str | None
    way_id: int
    way_name: str
    total: Decimal


# --- what to do next --------------------------------------------------------------------------
@dataclass(frozen=True)
class Ignore:
    """Nothing to do (a duplicate, a stale message, another worker's attempt)."""

    reason: str


@dataclass(frozen=True)
class LookUp:
    """Ask SUNSKY for the order by siteNumber, not before ``not_before``."""

    not_before: datetime


@dataclass(frozen=True)
class Quote:
    """SUNSKY surely has no such order: quote it and place it."""


@dataclass(frozen=True)
class Adopt:
    """SUNSKY holds the order: record it as Placed."""

    sunsky: SunskyPlacement
    how: str


@dataclass(frozen=True)
class Fail:
    """API Failed with this coded reason. ``clear_intent``: SUNSKY definitely did not create
    it, so the next attempt needs no look-up."""

    error: OrderError
    clear_intent: bool = False
    quoted_total: Decimal | None = None


@dataclass(frozen=True)
class Requeue:
    """Send the order back to the placer (its address changed while it was quoted)."""

    reason: str
    note: str


@dataclass(frozen=True)
class Send:
    """The intent, ready to commit: then send createOrder."""

    order: Order


@dataclass(frozen=True)
class Created:
    """createOrder answered with the order."""

    sunsky: SunskyPlacement


# --- 1. an order.ready arrives ----------------------------------------------------------------
def on_ready(order: Order, now: datetime, settle_seconds: float) -> Ignore | LookUp | Quote:
    if order.status not in PLACEABLE:
        why = "already with SUNSKY" if order.status in SUBMITTED | FINAL else "not ready"
        return Ignore(f"{order.status.label} ({why})")
    settled = settle_until(order, settle_seconds)
    if settled is not None:  # an earlier attempt may have reached SUNSKY
        return LookUp(max(settled, now))
    return Quote()


def after_lookup(found: SunskyPlacement | OrderError | None) -> Adopt | Quote | Fail:
    """What a look-up by siteNumber means before placing: None is SUNSKY's "none"."""
    if isinstance(found, OrderError):
        return Fail(found)
    if found is None:
        return Quote()
    return Adopt(found, "found by siteNumber")


# --- 2. the quote -----------------------------------------------------------------------------
def destination(order: Order, country: CountryLike | None, now: datetime) -> Destination | Fail:
    """SUNSKY ships to the country, and knows the state where it needs one."""
    ship = order.shipping
    if country is None:
        return Fail(order_error("COUNTRY_NOT_SUPPORTED", now, detail=ship.country_iso2))
    state = match_state(country, ship.state)
    if country.ship_to_state and state is None:
        return Fail(order_error("STATE_INVALID", now, detail=f"{ship.state!r}"))
    return Destination(country.id, state)


def match_state(country: CountryLike, state: str | None) -> str | None:
    wanted = (state or "").strip().lower()
    for candidate in country.states:
        if wanted in {candidate.code.lower(), candidate.name.lower()}:
            return str(candidate.code)
    return None if country.ship_to_state else (state or None)


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


def top_up_hint(total: Decimal, has: str) -> str:
    return (f"Top up SUNSKY balance: needs {total:.2f} USD, {has}; waiting orders are retried "
            "once it covers them")


# --- 3. the intent ----------------------------------------------------------------------------
def ship_to(order: Order) -> tuple[str | None, ...]:
    """The shipping details a createOrder request is built from."""
    s = order.shipping
    return (s.recipient, s.phone, s.email, s.company, s.address_line1, s.address_line2,
            s.city, s.state, s.postcode, s.country_iso2)


def start_attempt(current: Order | None, seen: Order, quoted: Quoted, now: datetime, *,
                  actor: str) -> Send | Requeue | Ignore:
    """Placing + a new attempt, from the order as it is now (``current``, locked) and as this
    worker saw it before its look-up and quote (``seen``)."""
    if current is None or current.status not in PLACEABLE:
        return Ignore("no longer Ready to Place or Placing")
    if ship_to(current) != ship_to(seen):
        return Requeue("address_changed", "address changed")
    if current.placing_started_at != seen.placing_started_at:
        # A rebalance handed the same message to two workers: the one that started an attempt
        # since we loaded the order owns the outcome; a sweep covers its crash.
        return Ignore("another worker is placing it")
    if current.status == S.READY_TO_PLACE:
        current = current.transition(S.PLACING, reason=f"attempt {current.attempts + 1}",
                                     actor=actor, now=now)
    shipping = replace(current.shipping, sunsky_country_id=quoted.country_id,
                       shipping_way_id=quoted.way_id, shipping_method=quoted.way_name)
    return Send(replace(current, attempts=current.attempts + 1, placing_started_at=now,
                        shipping=shipping, next_attempt_at=None, quoted_total=quoted.total))


# --- 4. createOrder answered ------------------------------------------------------------------
def after_create(answer: Created | OrderError, quoted: Quoted) -> Adopt | LookUp | Fail:
    """A definite refusal fails the order; an ambiguous one asks for a look-up at once (the
    attempt is over: nothing of ours can still be on its way)."""
    if isinstance(answer, Created):
        return Adopt(answer.sunsky, "createOrder")
    if answer.kind in AMBIGUOUS_KINDS:
        return LookUp(answer.at)
    error = answer
    if error.code == "BALANCE_NOT_ENOUGH":
        error = replace(error, fix_hint=top_up_hint(quoted.total, "SUNSKY refused"))
    return Fail(error, clear_intent=True, quoted_total=quoted.total)


def after_ambiguous_lookup(cause: OrderError,
                           found: SunskyPlacement | OrderError | None) -> Adopt | Fail:
    """After an ambiguous createOrder: found means placed; none or a failed look-up fails the
    order with the ambiguous answer as the reason (a retry looks it up again first)."""
    if isinstance(found, SunskyPlacement):
        return Adopt(found, f"found by siteNumber after {cause.code}")
    if isinstance(found, OrderError):
        detail = f"{cause.message}; look-up by siteNumber failed: {found.code}"
        return Fail(replace(cause, message=detail))
    return Fail(cause)


# --- 5. the outcome, applied to the order as it is now ---------------------------------------
def mark_placed(current: Order | None, adopt: Adopt, now: datetime, *,
                actor: str) -> Order | None:
    """Placed with SUNSKY's order; None when the order already moved past placing."""
    if current is None or current.status in SUBMITTED | FINAL:
        return None
    placed = current.transition(S.PLACED, reason=f"SUNSKY order {adopt.sunsky.number} "
                                f"({adopt.how})", actor=actor, now=now)
    return replace(placed, sunsky=adopt.sunsky, placed_at=now, last_error=None,
                   next_attempt_at=None)


def mark_failed(current: Order | None, fail: Fail, policy: RetryPolicy, now: datetime,
                unit_random: float, *, actor: str) -> Order | None:
    """API Failed with the reason and, when retryable, its next try; None when the order is
    no longer the placer's (Placed by another worker, cancelled, ...)."""
    if current is None or current.status not in PLACEABLE:
        return None
    failed = current.fail(fail.error, actor=actor)
    # Scheduled in the failure's own transaction, so a lost order.api_failed message cannot
    # strand a retryable order; the retrier releases it when due.
    failed = schedule_retry(failed, policy, now, unit_random).order
    if fail.clear_intent:
        failed = replace(failed, placing_started_at=None)
    if fail.quoted_total is not None:
        failed = replace(failed, quoted_total=fail.quoted_total)
    return failed
