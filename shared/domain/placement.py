"""Placing an order with SUNSKY: pure decisions, no I/O (STYLE.md point 4).

The placer reads as load -> decide -> call -> decide -> save: each function here takes the order
as stored, the time and what SUNSKY answered, and says what to do next. A business "no" is a
value (``Fail``), never an exception. The one-order guarantee rests on three rules, all here:

1. ``start_attempt``: the intent (Placing, a new attempt, ``placing_started_at``) is recorded
   before createOrder is sent, always with the order's one ``siteNumber``; an attempt that some
   other worker started since this one loaded the order is not ours to send. ``may_send``: the
   attempt has one hard deadline, shorter than the settle time; right before createOrder leaves
   it must still be the order's current attempt with time left, or it never leaves
   (``after_withheld``: the look-up then decides), so a stalled worker cannot send late.
2. ``on_ready``/``after_create``: an order that may already be at SUNSKY (an earlier attempt,
   an unknown outcome, SUNSKY saying "already placed") is looked up by ``siteNumber`` first,
   after the settle time, and placed again only when SUNSKY confirms it has none (or holds it
   cancelled: then under a fresh siteNumber). What it holds is adopted only where SUNSKY ships
   where we ship (``shared.domain.adoption``).
3. ``on_ready``/``mark_placed``: an order SUNSKY holds, or one that is not Ready to Place or
   Placing, is never placed; duplicates and stale messages change nothing.
Quotes may be cached; a definite refusal of a cached one re-quotes once (``quoting``, ``Requote``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from shared.domain.adoption import Found, address_differs, replacement_site_number
from shared.domain.errors import top_up_hint
from shared.domain.order import (
    FINAL,
    SUBMITTED,
    Order,
    OrderError,
    OrderStatus,
    SunskyAddress,
    SunskyPlacement,
)
from shared.domain.retry import RetryPolicy, schedule_retry, settle_until

S = OrderStatus
PLACEABLE = frozenset({S.READY_TO_PLACE, S.PLACING})
# createOrder answers after which the order may exist at SUNSKY: look it up, never re-send.
AMBIGUOUS_KINDS = frozenset({"unknown_outcome", "duplicate"})
# The SUNSKY client's kind for a createOrder refused before it left (``may_send`` said no).
NOT_SENT = "not_sent"
STALE_QUOTE_CODES = frozenset({"SHIPPING_WAY_NOT_AVAILABLE", "BALANCE_NOT_ENOUGH"})
# Less time than this left on an attempt's deadline: do not send (the answer could not come in
# time, and a late one is an unknown outcome that costs a look-up).
MIN_SECONDS_TO_SEND = 0.5


# --- what SUNSKY told us, as values -----------------------------------------------------------
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
    cached: bool = False  # from the shared quote cache, not asked of SUNSKY for this order


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
    """SUNSKY surely has no such order: quote it and place it (under ``site_number`` when SUNSKY
    holds one cancelled under the old one, which it may refuse to reuse)."""

    site_number: str | None = None


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
    sunsky_address: SunskyAddress | None = None  # SUNSKY holds it, shipping elsewhere


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


@dataclass(frozen=True)
class Requote:
    """createOrder definitely refused (``STALE_QUOTE_CODES``) what a cached quote chose: SUNSKY
    created nothing; quote afresh, place once more (a fresh quote never re-quotes)."""
    error: OrderError


@dataclass(frozen=True)
class Withheld:
    """createOrder was refused before it left: nothing happened at SUNSKY."""

    reason: str


# --- 1. an order.ready arrives ----------------------------------------------------------------
def on_ready(order: Order, now: datetime, settle_seconds: float) -> Ignore | LookUp | Quote:
    if order.status not in PLACEABLE:
        why = "already with SUNSKY" if order.status in SUBMITTED | FINAL else "not ready"
        return Ignore(f"{order.status.label} ({why})")
    settled = settle_until(order, settle_seconds)
    if settled is not None:  # an earlier attempt may have reached SUNSKY
        return LookUp(max(settled, now))
    return Quote()


def after_lookup(order: Order, found: Found | OrderError | None,
                 now: datetime) -> Adopt | Quote | Fail:
    """What a look-up by siteNumber means before placing: None is SUNSKY's "none"."""
    if isinstance(found, OrderError):
        return Fail(found)
    if found is None:
        return Quote()
    if found.cancelled:
        return Quote(replacement_site_number(order))
    return adopt_if_it_ships_there(found, "found by siteNumber", now)


def adopt_if_it_ships_there(found: Found, how: str, now: datetime) -> Adopt | Fail:
    """Placed when SUNSKY ships where createOrder would; else a person decides."""
    if not found.differing:
        return Adopt(found.sunsky, how)
    return Fail(address_differs(found, now), sunsky_address=found.address)


# --- 2. the quote (and its cache): shared.domain.quoting --------------------------------------
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
    # ``seen``'s siteNumber: a fresh one when the look-up found the old one's order cancelled.
    return Send(replace(current, attempts=current.attempts + 1, placing_started_at=now,
                        shipping=shipping, next_attempt_at=None, quoted_total=quoted.total,
                        site_number=seen.site_number, sunsky_address=None))


def may_send(current: Order | None, intent: Order, seconds_left: float) -> str | None:
    """Right before createOrder leaves: None to send it, or why not. Only the order's current
    attempt sends, and only while its deadline leaves time to hear the answer."""
    if current is None or current.status != S.PLACING or _attempt(current) != _attempt(intent):
        now = "gone" if current is None else f"{current.status.label}, attempt {current.attempts}"
        return f"attempt {intent.attempts} is no longer the order's current one (now {now})"
    if seconds_left < MIN_SECONDS_TO_SEND:
        return (f"attempt {intent.attempts} has {max(seconds_left, 0):.1f}s left of its "
                "deadline")
    return None


def _attempt(order: Order) -> tuple[int, datetime | None]:
    return order.attempts, order.placing_started_at


def after_withheld(current: Order | None, intent: Order) -> Requeue | Ignore:
    """createOrder never left. Still the current attempt (its deadline passed first): back to
    the placer, whose look-up after the settle time decides, as for any attempt that may have
    left; another attempt (or an outcome) owns the order otherwise."""
    if current is not None and current.status == S.PLACING and _attempt(current) == _attempt(
            intent):
        return Requeue("attempt_expired", f"attempt {intent.attempts} ran out of time before "
                       "createOrder left")
    return Ignore("another attempt or an outcome owns the order")


# --- 4. createOrder answered ------------------------------------------------------------------
def after_create(answer: Created | OrderError,
                 quoted: Quoted) -> Adopt | LookUp | Fail | Withheld | Requote:
    """A definite refusal fails the order, unless a cached quote explains it (``Requote``); an
    ambiguous one asks for a look-up at once (the attempt is over: nothing of ours can still be
    on its way); a send refused before it left changes nothing by itself (``after_withheld``)."""
    if isinstance(answer, Created):
        return Adopt(answer.sunsky, "createOrder")
    if answer.kind == NOT_SENT:
        return Withheld(answer.message)
    if answer.kind in AMBIGUOUS_KINDS:
        return LookUp(answer.at)
    if quoted.cached and answer.code in STALE_QUOTE_CODES:
        return Requote(answer)
    error = answer
    if error.code == "BALANCE_NOT_ENOUGH":
        error = replace(error, fix_hint=top_up_hint(quoted.total, "SUNSKY refused"))
    return Fail(error, clear_intent=True, quoted_total=quoted.total)


def after_ambiguous_lookup(cause: OrderError, found: Found | OrderError | None,
                           now: datetime) -> Adopt | Fail:
    """After an ambiguous createOrder: found (where we ship) means placed; none, a cancelled
    one or a failed look-up fails the order with the ambiguous answer as the reason (a retry
    looks it up again first)."""
    if isinstance(found, Found) and not found.cancelled:
        how = f"found by siteNumber after {cause.code}"
        return adopt_if_it_ships_there(found, how, now)
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
                   next_attempt_at=None, sunsky_address=None)


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
    return replace(failed, sunsky_address=fail.sunsky_address)
