"""The placer's decisions, table-driven, without fakes: shared.domain.placement (and
.quoting) are pure."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta
from decimal import Decimal

import pytest

from shared.domain import placement, quoting
from shared.domain.adoption import Found, expected_ship_to
from shared.domain.errors import order_error, top_up_hint
from shared.domain.order import (
    Order,
    OrderError,
    OrderStatus,
    ShipTo,
    SunskyAddress,
    SunskyPlacement,
)
from shared.domain.placement import (
    Adopt,
    Created,
    Destination,
    Fail,
    Ignore,
    LookUp,
    Quote,
    Quoted,
    Requeue,
    Requote,
    Send,
    Withheld,
)
from shared.domain.retry import RetryPolicy
from tests.builders import NOW, paid_order

S = OrderStatus
SETTLE = 30.0
FOUND = SunskyPlacement("2611270001", 2, Decimal("2.40"), Decimal("2.93"), Decimal("5.33"))
QUOTED = Quoted(41, "IL", 246, "Postnord", Decimal("5.33"))
POLICY = RetryPolicy(settle=SETTLE)


def order(status: OrderStatus = S.READY_TO_PLACE, **changes: object) -> Order:
    return replace(paid_order(), id=7, site_number="DS7-INV42", status=status, **changes)


def error(code: str, kind: str, at_offset: float = 0) -> OrderError:
    return OrderError(code, kind, f"{code} message", f"{code} hint",
                      NOW + timedelta(seconds=at_offset))


@dataclass(frozen=True)
class St:
    code: str
    name: str


@dataclass(frozen=True)
class Co:
    id: int
    ship_to_state: bool
    states: tuple[St, ...] = ()


@dataclass(frozen=True)
class Way:
    id: int
    name: str
    shipping_cost: Decimal


US = Co(41, True, (St("IL", "Illinois"), St("NY", "New York")))
GB = Co(235, False)
OURS = expected_ship_to(order(), US)  # where createOrder would ship order() now
OLD = replace(OURS, address="1 Old Rd", postcode="60602")  # before an admin's correction


def found(status: int = 2, ship_to: ShipTo | None = OURS) -> Found:
    return Found(replace(FOUND, status=status), SunskyAddress(FOUND.number, ship_to, "US"), OURS)


# --- 1. an order.ready arrives ----------------------------------------------------------------
@pytest.mark.parametrize(("status", "why"), [
    (S.PENDING_PAYMENT, "not ready"), (S.API_FAILED, "not ready"),
    (S.PLACED, "already with SUNSKY"), (S.PROCESSING, "already with SUNSKY"),
    (S.SHIPPED, "already with SUNSKY"), (S.DELIVERED, "already with SUNSKY"),
    (S.CANCELLED, "already with SUNSKY"),
])
def test_orders_that_are_not_placeable_are_ignored(status: OrderStatus, why: str) -> None:
    step = placement.on_ready(order(status), NOW, SETTLE)
    assert isinstance(step, Ignore) and why in step.reason


@pytest.mark.parametrize(("status", "started", "last_error", "expected"), [
    (S.READY_TO_PLACE, None, None, Quote()),
    # an earlier attempt may have reached SUNSKY: look up once it has settled
    (S.READY_TO_PLACE, NOW, None, LookUp(NOW + timedelta(seconds=SETTLE))),
    (S.PLACING, NOW - timedelta(minutes=5), None, LookUp(NOW)),
    # an unknown outcome noticed after the start: settle counts from when we gave up on it
    (S.READY_TO_PLACE, NOW - timedelta(seconds=20), error("UNKNOWN_OUTCOME", "unknown_outcome"),
     LookUp(NOW + timedelta(seconds=SETTLE))),
])
def test_on_ready(status: OrderStatus, started: object, last_error: OrderError | None,
                  expected: object) -> None:
    subject = order(status, placing_started_at=started, last_error=last_error)
    assert placement.on_ready(subject, NOW, SETTLE) == expected


@pytest.mark.parametrize(("held", "expected"), [
    (found(), Adopt(FOUND, "found by siteNumber")),
    (None, Quote()),
    (error("TIMEOUT", "transient"), Fail(error("TIMEOUT", "transient"))),
    # SUNSKY cancelled it (a person did, to re-place it): placed again under a new siteNumber
    (found(status=4), Quote("DS7-INV42-A1")),
    (found(status=4, ship_to=OLD), Quote("DS7-INV42-A1")),
])
def test_after_lookup(held: object, expected: object) -> None:
    assert placement.after_lookup(order(), held, NOW) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(("ship_to", "what"), [
    (OLD, "ships elsewhere (address, postcode differ)"),
    (replace(OURS, receiver="John Doe"), "ships elsewhere (receiver differ)"),
    (replace(OURS, country_id=235, state=None), "ships elsewhere (state, country_id differ)"),
    (None, "says nothing of where it ships"),
])
def test_a_found_order_shipping_elsewhere_is_never_adopted(ship_to: ShipTo | None,
                                                           what: str) -> None:
    step = placement.after_lookup(order(), found(ship_to=ship_to), NOW)
    assert isinstance(step, Fail) and step.error.code == "SUNSKY_ADDRESS_DIFFERS"
    assert step.error.message.endswith(f"SUNSKY order 2611270001 (found by siteNumber) {what}")
    assert step.error.kind == "needs_action" and not step.clear_intent  # a person decides
    assert step.sunsky_address == SunskyAddress(FOUND.number, ship_to, "US")
    assert "Elm" not in step.error.message and "Old Rd" not in step.error.message  # no PII


# --- 2. the quote -----------------------------------------------------------------------------
@pytest.mark.parametrize(("country", "iso2", "state", "expected"), [
    (None, "BR", "SP", "COUNTRY_NOT_SUPPORTED"),
    (US, "US", "ZZ", "STATE_INVALID"),
    (US, "US", None, "STATE_INVALID"),
    (US, "US", "illinois", Destination(41, "IL")),
    (US, "US", "NY", Destination(41, "NY")),
    (GB, "GB", "Kent", Destination(235, "Kent")),
    (GB, "GB", None, Destination(235, None)),
])
def test_destination(country: Co | None, iso2: str, state: str | None, expected: object) -> None:
    subject = order()
    subject = replace(subject, shipping=replace(subject.shipping, country_iso2=iso2, state=state))
    result = quoting.destination(subject, country, NOW)
    if isinstance(expected, str):
        assert isinstance(result, Fail) and result.error.code == expected
    else:
        assert result == expected


POSTNORD, DHL = Way(246, "Postnord", Decimal("2.93")), Way(7, "DHL Express", Decimal("9.10"))


@pytest.mark.parametrize(("options", "policy", "expected"), [
    ([POSTNORD, DHL], {"mode": "cheapest"}, Quoted(41, "IL", 246, "Postnord", Decimal("5.33"))),
    ([POSTNORD, DHL], {"mode": "named", "name": "dhl express"},
     Quoted(41, "IL", 7, "DHL Express", Decimal("11.50"))),
    ([POSTNORD], {"mode": "named", "name": "DHL", "fallback": "none"},
     "SHIPPING_WAY_NOT_AVAILABLE"),
    ([], {"mode": "cheapest"}, "SHIPPING_WAY_NOT_AVAILABLE"),
])
def test_choose_quote(options: list[Way], policy: dict[str, str], expected: object) -> None:
    result = quoting.choose_quote(order(), Destination(41, "IL"), Decimal("2.40"), options,
                                    policy, NOW)
    if isinstance(expected, str):
        assert isinstance(result, Fail) and result.error.code == expected
    else:
        assert result == expected


@pytest.mark.parametrize(("balance", "refused"), [
    (Decimal("5.33"), False), (Decimal("100"), False), (Decimal("5.32"), True), (Decimal(0), True),
])
def test_check_balance(balance: Decimal, refused: bool) -> None:
    result = quoting.check_balance(QUOTED, balance, NOW)
    if not refused:
        assert result is None
        return
    assert isinstance(result, Fail) and result.error.code == "BALANCE_NOT_ENOUGH"
    assert result.quoted_total == Decimal("5.33") and not result.clear_intent
    assert result.error.fix_hint.startswith("Top up SUNSKY balance: needs 5.33 USD")
    assert f"has {balance:.2f} USD" in result.error.fix_hint


# --- 3. the intent ----------------------------------------------------------------------------
def test_start_attempt_from_ready_records_the_intent() -> None:
    seen = order()
    step = placement.start_attempt(seen, seen, QUOTED, NOW, actor="placer")
    assert isinstance(step, Send)
    sent = step.order
    assert sent.status == S.PLACING and sent.attempts == seen.attempts + 1
    assert sent.placing_started_at == NOW and sent.next_attempt_at is None
    assert (sent.shipping.sunsky_country_id, sent.shipping.shipping_way_id,
            sent.shipping.shipping_method) == (41, 246, "Postnord")
    assert sent.quoted_total == Decimal("5.33")
    assert [(c.from_status, c.to_status) for c in sent.history][-1] == (S.READY_TO_PLACE,
                                                                         S.PLACING)


def test_start_attempt_under_a_fresh_site_number_after_sunsky_cancelled_the_old() -> None:
    current = order(S.API_FAILED, sunsky_address=SunskyAddress("1", OLD, "US"))
    current = current.transition(S.READY_TO_PLACE, reason="retry", actor="admin", now=NOW)
    step = placement.start_attempt(current, replace(current, site_number="DS7-INV42-A1"),
                                   QUOTED, NOW, actor="placer")
    assert isinstance(step, Send)
    assert step.order.site_number == "DS7-INV42-A1" and step.order.sunsky_address is None


def test_start_attempt_after_a_look_up_found_nothing_stays_placing() -> None:
    seen = order(S.PLACING, placing_started_at=NOW - timedelta(minutes=5), attempts=1)
    step = placement.start_attempt(seen, seen, QUOTED, NOW, actor="placer")
    assert isinstance(step, Send)
    assert step.order.status == S.PLACING and step.order.attempts == 2
    assert step.order.placing_started_at == NOW


SEEN = order()


@pytest.mark.parametrize(("current", "expected"), [
    (None, Ignore("no longer Ready to Place or Placing")),
    (replace(SEEN, status=S.PLACED), Ignore("no longer Ready to Place or Placing")),
    (replace(SEEN, status=S.API_FAILED), Ignore("no longer Ready to Place or Placing")),
    # another worker started an attempt since this one loaded the order
    (replace(SEEN, status=S.PLACING, placing_started_at=NOW),
     Ignore("another worker is placing it")),
    # an admin corrected the address while this worker quoted the old one
    (replace(SEEN, shipping=replace(SEEN.shipping, postcode="60699")),
     Requeue("address_changed", "address changed")),
])
def test_start_attempt_refusals(current: Order | None, expected: object) -> None:
    assert placement.start_attempt(current, SEEN, QUOTED, NOW, actor="placer") == expected


INTENT = order(S.PLACING, attempts=2, placing_started_at=NOW)


@pytest.mark.parametrize(("current", "seconds_left", "refusal"), [
    (INTENT, 10.0, None),
    (INTENT, 0.5, None),
    # its deadline leaves too little time, or has passed (a stall, a long wait for a slot)
    (INTENT, 0.49, "attempt 2 has 0.5s left of its deadline"),
    (INTENT, -3.0, "attempt 2 has 0.0s left of its deadline"),
    # another placer took the order over: a newer attempt, or the order already moved on
    (replace(INTENT, attempts=3, placing_started_at=NOW + timedelta(seconds=31)), 10.0,
     "attempt 2 is no longer the order's current one (now Placing, attempt 3)"),
    (replace(INTENT, status=S.PLACED), 10.0,
     "attempt 2 is no longer the order's current one (now Placed, attempt 2)"),
    (replace(INTENT, status=S.API_FAILED), 10.0,
     "attempt 2 is no longer the order's current one (now API Failed, attempt 2)"),
    (replace(INTENT, placing_started_at=NOW - timedelta(seconds=1)), 10.0,
     "attempt 2 is no longer the order's current one (now Placing, attempt 2)"),
    (None, 10.0, "attempt 2 is no longer the order's current one (now gone)"),
])
def test_may_send(current: Order | None, seconds_left: float, refusal: str | None) -> None:
    assert placement.may_send(current, INTENT, seconds_left) == refusal


@pytest.mark.parametrize(("current", "expected"), [
    # still our attempt (its deadline passed): the look-up after the settle time decides
    (INTENT, Requeue("attempt_expired", "attempt 2 ran out of time before createOrder left")),
    (replace(INTENT, attempts=3), Ignore("another attempt or an outcome owns the order")),
    (replace(INTENT, status=S.PLACED), Ignore("another attempt or an outcome owns the order")),
    (None, Ignore("another attempt or an outcome owns the order")),
])
def test_after_withheld(current: Order | None, expected: object) -> None:
    assert placement.after_withheld(current, INTENT) == expected


# --- 4. createOrder answered ------------------------------------------------------------------
@pytest.mark.parametrize(("answer", "expected"), [
    (Created(FOUND), Adopt(FOUND, "createOrder")),
    (error("UNKNOWN_OUTCOME", "unknown_outcome", 15), LookUp(NOW + timedelta(seconds=15))),
    (error("DUPLICATE_SITE_NUMBER", "duplicate"), LookUp(NOW)),
    (error("INVALID_DELIVERY_ADDRESS", "needs_action"),
     Fail(error("INVALID_DELIVERY_ADDRESS", "needs_action"), clear_intent=True,
          quoted_total=Decimal("5.33"))),
    (error("RATE_LIMITED", "transient"),
     Fail(error("RATE_LIMITED", "transient"), clear_intent=True, quoted_total=Decimal("5.33"))),
    (error("NOT_SENT", "not_sent"), Withheld("NOT_SENT message")),
])
def test_after_create(answer: object, expected: object) -> None:
    assert placement.after_create(answer, QUOTED) == expected  # type: ignore[arg-type]


CACHED = replace(QUOTED, cached=True)
BALANCE = error("BALANCE_NOT_ENOUGH", "needs_action")
WAY_GONE = error("SHIPPING_WAY_NOT_AVAILABLE", "needs_action")


@pytest.mark.parametrize(("answer", "quoted", "requote"), [
    # a cached quote SUNSKY's refusal explains: quote afresh once
    (WAY_GONE, CACHED, True),
    (BALANCE, CACHED, True),
    # a fresh quote is never re-quoted: the refusal stands
    (WAY_GONE, QUOTED, False),
    (BALANCE, QUOTED, False),
    # refusals a quote cannot explain, and answers that may have created the order
    (error("INVALID_DELIVERY_ADDRESS", "needs_action"), CACHED, False),
    (error("OUT_OF_STOCK", "needs_action"), CACHED, False),
    (error("UNKNOWN_OUTCOME", "unknown_outcome"), CACHED, False),
    (error("DUPLICATE_SITE_NUMBER", "duplicate"), CACHED, False),
    (error("NOT_SENT", "not_sent"), CACHED, False),
    (Created(FOUND), CACHED, False),
])
def test_after_create_requotes_only_a_cached_quote_sunsky_refused(
        answer: object, quoted: Quoted, requote: bool) -> None:
    step = placement.after_create(answer, quoted)  # type: ignore[arg-type]
    assert (step == Requote(answer)) is requote  # type: ignore[arg-type]
    if not requote and isinstance(answer, OrderError) and answer.kind == "needs_action":
        assert isinstance(step, Fail) and step.clear_intent


def test_a_fresh_quote_that_says_no_after_a_requote_needs_no_look_up() -> None:
    fail = quoting.after_requote(Fail(error("SHIPPING_WAY_NOT_AVAILABLE", "needs_action")))
    assert fail.clear_intent and fail.error.code == "SHIPPING_WAY_NOT_AVAILABLE"


CHARGED_MORE = SunskyPlacement("2611270001", 2, Decimal("3.40"), Decimal("2.93"),
                               Decimal("6.33"))


@pytest.mark.parametrize(("quoted", "outcome", "outdated"), [
    (CACHED, Adopt(FOUND, "createOrder"), False),  # charged what it said
    (CACHED, Adopt(CHARGED_MORE, "createOrder"), True),  # prices moved
    (QUOTED, Adopt(CHARGED_MORE, "createOrder"), False),  # not from the cache
    (CACHED, Fail(error("ITEM_NOT_EXIST", "needs_action")), True),
    (CACHED, Fail(error("INVALID_DELIVERY_ADDRESS", "needs_action")), False),
])
def test_cached_quote_outdated(quoted: Quoted, outcome: Adopt | Fail, outdated: bool) -> None:
    assert quoting.cached_quote_outdated(quoted, outcome) is outdated


US_IL = Destination(41, "IL")


@pytest.mark.parametrize(("a", "b", "same"), [
    ((US_IL, [("A", 1), ("B", 2)]), (US_IL, [("B", 2), ("A", 1)]), True),  # line order
    ((US_IL, [("A", 2)]), (US_IL, [("A", 1), ("A", 1)]), True),  # one item over two lines
    ((US_IL, [("A", 1)]), (Destination(41, " il "), [(" A", 1)]), True),  # case, spaces
    ((US_IL, [("A", 1)]), (Destination(41, None), [("A", 1)]), False),  # state
    ((US_IL, [("A", 1)]), (Destination(41, "NY"), [("A", 1)]), False),
    ((US_IL, [("A", 1)]), (Destination(235, "IL"), [("A", 1)]), False),  # country
    ((US_IL, [("A", 1)]), (US_IL, [("A", 2)]), False),  # quantity
    ((US_IL, [("A", 1)]), (US_IL, [("a", 1)]), False),  # SUNSKY's item numbers keep case
    ((US_IL, [("A", 1)]), (US_IL, [("A", 1), ("B", 1)]), False),
])
def test_quote_key(a: tuple[Destination, list[tuple[str, int]]],
                   b: tuple[Destination, list[tuple[str, int]]], same: bool) -> None:
    assert (quoting.quote_key(*a) == quoting.quote_key(*b)) is same


def test_a_balance_refusal_from_sunsky_keeps_its_words_and_gets_the_top_up_hint() -> None:
    refusal = error("BALANCE_NOT_ENOUGH", "needs_action")
    step = placement.after_create(refusal, QUOTED)
    assert isinstance(step, Fail) and step.clear_intent
    assert step.error.message == refusal.message
    assert step.error.fix_hint == top_up_hint(Decimal("5.33"), "SUNSKY refused")


CAUSE = error("UNKNOWN_OUTCOME", "unknown_outcome")


@pytest.mark.parametrize(("held", "expected"), [
    (found(), Adopt(FOUND, "found by siteNumber after UNKNOWN_OUTCOME")),
    (None, Fail(CAUSE)),
    (error("TIMEOUT", "transient"),
     Fail(replace(CAUSE, message="UNKNOWN_OUTCOME message; look-up by siteNumber failed: "
                                 "TIMEOUT"))),
    (found(status=4), Fail(CAUSE)),  # never adopted; a retry's look-up re-places it
])
def test_after_ambiguous_lookup(held: object, expected: object) -> None:
    assert placement.after_ambiguous_lookup(CAUSE, held, NOW) == expected  # type: ignore[arg-type]


def test_after_an_ambiguous_create_an_old_order_shipping_elsewhere_is_not_adopted() -> None:
    """createOrder with the corrected address said 已下单: SUNSKY holds the old one."""
    step = placement.after_ambiguous_lookup(CAUSE, found(ship_to=OLD), NOW)
    assert isinstance(step, Fail) and step.error.code == "SUNSKY_ADDRESS_DIFFERS"
    assert step.sunsky_address is not None and step.sunsky_address.ship_to == OLD


# --- 5. the outcome ---------------------------------------------------------------------------
@pytest.mark.parametrize("status", [S.READY_TO_PLACE, S.PLACING, S.API_FAILED])
def test_mark_placed(status: OrderStatus) -> None:
    current = order(status, last_error=error("TIMEOUT", "transient"),
                    next_attempt_at=NOW + timedelta(minutes=1))
    placed = placement.mark_placed(current, Adopt(FOUND, "createOrder"), NOW, actor="placer")
    assert placed is not None and placed.status == S.PLACED
    assert placed.sunsky == FOUND and placed.placed_at == NOW
    assert placed.last_error is None and placed.next_attempt_at is None
    assert placed.history[-1].reason == "SUNSKY order 2611270001 (createOrder)"
    assert placed.sunsky_address is None


@pytest.mark.parametrize("status", [S.PLACED, S.PROCESSING, S.SHIPPED, S.DELIVERED, S.CANCELLED])
def test_an_order_past_placing_is_not_marked_again(status: OrderStatus) -> None:
    assert placement.mark_placed(order(status), Adopt(FOUND, "x"), NOW, actor="placer") is None
    assert placement.mark_placed(None, Adopt(FOUND, "x"), NOW, actor="placer") is None


@pytest.mark.parametrize(("fail", "retried", "intent_kept"), [
    (Fail(error("TIMEOUT", "transient")), True, True),
    (Fail(error("UNKNOWN_OUTCOME", "unknown_outcome")), True, True),
    (Fail(error("INVALID_DELIVERY_ADDRESS", "needs_action"), clear_intent=True), False, False),
    (Fail(order_error("BALANCE_NOT_ENOUGH", NOW), quoted_total=Decimal("9.99")), False, True),
])
def test_mark_failed(fail: Fail, retried: bool, intent_kept: bool) -> None:
    current = order(S.PLACING, placing_started_at=NOW)
    failed = placement.mark_failed(current, fail, POLICY, NOW, 0.5, actor="placer")
    assert failed is not None and failed.status == S.API_FAILED
    assert failed.last_error == fail.error and failed.first_failed_at == fail.error.at
    assert (failed.next_attempt_at is not None) is retried
    assert (failed.placing_started_at is not None) is intent_kept
    if fail.quoted_total is not None:
        assert failed.quoted_total == fail.quoted_total


def test_a_failure_keeps_where_sunsky_ships() -> None:
    elsewhere = SunskyAddress(FOUND.number, OLD, "US")
    fail = Fail(order_error("SUNSKY_ADDRESS_DIFFERS", NOW), sunsky_address=elsewhere)
    failed = placement.mark_failed(order(S.PLACING, placing_started_at=NOW), fail, POLICY, NOW,
                                   0.5, actor="placer")
    assert failed is not None and failed.sunsky_address == elsewhere
    assert failed.next_attempt_at is None and failed.placing_started_at == NOW


@pytest.mark.parametrize("status", [S.PLACED, S.API_FAILED, S.CANCELLED, S.PENDING_PAYMENT])
def test_an_order_that_left_placing_is_not_failed(status: OrderStatus) -> None:
    failed = placement.mark_failed(order(status), Fail(error("TIMEOUT", "transient")), POLICY,
                                   NOW, 0.5, actor="placer")
    assert failed is None
