"""The sandbox's pure parts, without HTTP: state, createOrder rules, formats, faults, catalogue."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import count

import pytest

from sandbox import CATALOGUE, COUNTRIES
from sandbox.catalogue import country, freight_list, shipping_ways
from sandbox.config import DEFAULT_DUPLICATE_SITE_NUMBER_MESSAGE
from sandbox.faults import FaultInjector, FaultSettings
from sandbox.orders import Order, OrderStatus
from sandbox.params import parse_order_request
from sandbox.state import RECORD_NOT_FOUND, SandboxState, TransitionError
from sandbox.wire import ApiError, money, page, parse_us_datetime, timestamp

NOW = datetime(2026, 11, 7, 9, 5, 3, tzinfo=UTC)
KEY = "sandbox-key"


def make_state(balance: str = "100.0000") -> SandboxState:
    sequence = count(1)
    return SandboxState(Decimal(balance), DEFAULT_DUPLICATE_SITE_NUMBER_MESSAGE,
                        sequence=lambda: next(sequence), rng=random.Random(7))


def order_params(**overrides: str) -> dict[str, str]:
    params = {
        "items.1.itemNo": "S-CAB-0042", "items.1.qty": "2",
        "deliveryAddress.countryId": "41", "deliveryAddress.state": "IL",
        "deliveryAddress.city": "Chicago", "deliveryAddress.address": "1 Main St",
        "deliveryAddress.postcode": "60601", "deliveryAddress.receiver": "Ann Lee",
        "deliveryAddress.telephone": "3125550100", "deliveryAddress.shippingWayId": "25",
        "useBalanceOnly": "true",
    }
    params.update(overrides)
    return {name: value for name, value in params.items() if value != "<drop>"}


def create(state: SandboxState, at: datetime = NOW, **overrides: str) -> Order:
    return state.create_order(KEY, parse_order_request(order_params(**overrides)), at)


def rejection(state: SandboxState, **overrides: str) -> list[str]:
    with pytest.raises(ApiError) as caught:
        create(state, **overrides)
    return caught.value.messages


# --- createOrder ------------------------------------------------------------------------------

def test_paid_order_debits_balance_and_writes_a_bill() -> None:
    state = make_state()
    order = create(state, siteNumber="INV-1")
    way = shipping_ways(41)[0]
    expected_total = Decimal("2.4") + way.cost(Decimal("0.060"), 2)
    assert order.status is OrderStatus.PAID and order.paid == NOW
    assert order.total_amount == expected_total
    assert state.balance == Decimal("100") - expected_total
    bill = state.bills[-1].wire()
    assert bill == {"amount": f"-{money(expected_total)}", "balance": money(state.balance),
                    "gmtCreated": "2026-11-7 09:05:03", "txType": "createOrder",
                    "refId": order.number}
    assert state.stock["S-CAB-0042"] == CATALOGUE["S-CAB-0042"].stock - 2


def test_order_number_is_date_and_sequence() -> None:
    assert create(make_state()).number == "2611070001"


def test_unpaid_order_when_balance_is_not_required() -> None:
    state = make_state()
    order = create(state, useBalanceOnly="<drop>")
    assert order.status is OrderStatus.UNPAID and order.paid is None
    assert state.balance == Decimal("100") and state.bills == []


def test_balance_too_low_changes_nothing() -> None:
    state = make_state("1.0000")
    (message,) = rejection(state)
    assert message.startswith("BALANCE_NOT_ENOUGH: needs ") and message.endswith("has 1.0000")
    assert state.orders() == [] and state.bills == []
    assert state.stock["S-CAB-0042"] == CATALOGUE["S-CAB-0042"].stock


def test_duplicate_site_number_is_refused_but_empty_ones_are_not() -> None:
    state = make_state()
    create(state, siteNumber="INV-9")
    (message,) = rejection(state, siteNumber="INV-9")
    assert "已下单" in message and "INV-9" in message
    create(state)
    create(state)
    assert len(state.orders()) == 3


def test_without_dedupe_a_reused_site_number_creates_a_second_order() -> None:
    state = SandboxState(Decimal("100"), DEFAULT_DUPLICATE_SITE_NUMBER_MESSAGE, dedupe=False)
    first, second = create(state, siteNumber="INV-9"), create(state, siteNumber="INV-9")
    assert first.number != second.number
    assert [o.number for o in state.find_orders(site_number="INV-9")] == [second.number,
                                                                         first.number]
    state.dedupe = True  # switched on at run time: refused from now on
    assert "已下单" in rejection(state, siteNumber="INV-9")[0]
    state.reset()  # back to the configured default
    assert state.dedupe is False


def test_duplicate_message_is_configurable() -> None:
    state = SandboxState(Decimal(100), "dup {site_number}")
    create(state, siteNumber="A")
    assert rejection(state, siteNumber="A") == ["dup A"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"items.1.itemNo": "NOPE-1"}, "ITEM_NOT_EXIST"),
        ({"items.1.itemNo": "S-OOS-0001"}, "OUT_OF_STOCK: S-OOS-0001"),
        ({"items.1.qty": "501"}, "OUT_OF_STOCK: S-CAB-0042"),
        ({"items.1.qty": "0"}, "INVALID_PARAMETER: items.1.qty"),
        ({"deliveryAddress.countryId": "999"}, "INVALID_DELIVERY_ADDRESS: countryId"),
        ({"deliveryAddress.receiver": ""}, "INVALID_DELIVERY_ADDRESS: receiver"),
        ({"deliveryAddress.postcode": "<drop>"}, "INVALID_DELIVERY_ADDRESS: postcode"),
        ({"deliveryAddress.state": "<drop>"}, "INVALID_DELIVERY_ADDRESS: state"),
        ({"deliveryAddress.state": "ZZ"}, "INVALID_DELIVERY_ADDRESS: state"),
        ({"deliveryAddress.shippingWayId": "118"}, "SHIPPING_WAY_NOT_AVAILABLE"),
        ({"deliveryAddress.shippingWayId": "<drop>"}, "SHIPPING_WAY_NOT_AVAILABLE"),
        ({"deliveryAddress.countryId": "30", "deliveryAddress.state": "<drop>"},
         "SHIPPING_WAY_NOT_AVAILABLE"),
    ],
)
def test_create_order_rejections(overrides: dict[str, str], message: str) -> None:
    state = make_state()
    assert rejection(state, **overrides) == [message]
    assert state.orders() == []


def test_same_item_on_two_lines_counts_against_stock_together() -> None:
    stock = CATALOGUE["S-KEY-0713"].stock
    half = str(stock // 2 + 1)
    state = make_state("100000")
    messages = rejection(state, **{"items.1.itemNo": "S-KEY-0713", "items.1.qty": half,
                                   "items.7.itemNo": "S-KEY-0713", "items.7.qty": half})
    assert messages == ["OUT_OF_STOCK: S-KEY-0713"]


def test_country_without_states_keeps_optional_state() -> None:
    order = create(make_state(), **{"deliveryAddress.countryId": "222",
                                    "deliveryAddress.state": "<drop>",
                                    "deliveryAddress.shippingWayId": "246"})
    assert order.address.state is None and order.shipping_way.name == "Postnord"


def test_order_wire_shape() -> None:
    order = create(make_state(), siteNumber="S1", **{"items.1.remark": "gift"})
    wire = order.wire()
    assert wire["gmtCreated"] == "2026-11-7 09:05:03"
    assert wire["trackingNumber"] is None and wire["coupon"] is None
    assert wire["detailList"] == [{"itemNo": "S-CAB-0042", "title": "USB-C Cable 1m", "qty": 2,
                                   "price": "1.2000", "amount": "2.4000", "remark": "gift"}]
    assert "detailList" not in order.wire(details=False)
    assert order.address.wire()["receiver"] == "Ann Lee"


# --- lifecycle --------------------------------------------------------------------------------

def test_shipping_sets_tracking_and_names_the_event() -> None:
    state = make_state()
    number = create(state).number
    later = NOW + timedelta(hours=1)
    order, event = state.advance(number, OrderStatus.SHIPPED, later)
    assert event == "order/shipped" and order.shipped == later
    assert order.tracking_number is not None and order.tracking_number.startswith("YT")
    assert order.tracking_number[2:].isdigit()
    given, _ = state.advance(number, OrderStatus.DELIVERED, later)
    assert given.status is OrderStatus.DELIVERED and given.delivered == later


@pytest.mark.parametrize(("first", "then"), [
    (OrderStatus.SHIPPED, OrderStatus.PAID),
    (OrderStatus.CANCELLED, OrderStatus.SHIPPED),
    (OrderStatus.SHIPPED, OrderStatus.CANCELLED),
])
def test_disallowed_transitions(first: OrderStatus, then: OrderStatus) -> None:
    state = make_state()
    number = create(state).number
    state.advance(number, first, NOW)
    with pytest.raises(TransitionError):
        state.advance(number, then, NOW)


def test_delivering_an_unshipped_order_is_refused() -> None:
    state = make_state()
    number = create(state).number
    with pytest.raises(TransitionError):
        state.advance(number, OrderStatus.DELIVERED, NOW)


def test_cancelling_a_balance_paid_order_refunds_it_and_restores_stock() -> None:
    state = make_state()
    number = create(state).number
    order, event = state.advance(number, OrderStatus.CANCELLED, NOW, reason="no stock")
    assert event == "order/cancelled" and order.cancel_reason == "no stock"
    assert state.balance == Decimal("100") and state.bills[-1].tx_type == "refund"
    assert state.stock["S-CAB-0042"] == CATALOGUE["S-CAB-0042"].stock


def test_tracking_changes_only_once_shipped() -> None:
    state = make_state()
    number = create(state).number
    with pytest.raises(TransitionError):
        state.set_tracking(number, "LX1")
    state.advance(number, OrderStatus.SHIPPED, NOW)
    assert state.set_tracking(number, "LX1").tracking_number == "LX1"


def test_unknown_order_number() -> None:
    with pytest.raises(ApiError) as caught:
        make_state().order("1")
    assert caught.value.messages == [RECORD_NOT_FOUND]


def test_due_steps_follow_paid_then_shipped_times() -> None:
    state = make_state()
    paid = create(state).number
    create(state, useBalanceOnly="<drop>")  # unpaid: never auto-advanced
    assert state.due_steps(NOW + timedelta(seconds=4), 5) == []
    assert state.due_steps(NOW + timedelta(seconds=5), 5) == [(paid, OrderStatus.SHIPPED)]
    state.advance(paid, OrderStatus.SHIPPED, NOW + timedelta(seconds=5))
    assert state.due_steps(NOW + timedelta(seconds=10), 5) == [(paid, OrderStatus.DELIVERED)]


# --- queries, balance, request log, reset -----------------------------------------------------

def test_find_orders_filters_and_lists_newest_first() -> None:
    state = make_state("1000")
    first = create(state, at=NOW - timedelta(days=2), siteNumber="A").number
    second = create(state, siteNumber="B").number
    third = create(state, useBalanceOnly="<drop>").number
    assert [o.number for o in state.find_orders()] == [third, second, first]
    assert [o.number for o in state.find_orders(site_number="A")] == [first]
    assert [o.number for o in state.find_orders(start=NOW.date())] == [third, second]
    assert [o.number for o in state.find_orders(end=date(2026, 11, 5))] == [first]
    assert [o.number for o in state.find_orders(status=1)] == [third]


def test_balance_controls_write_bills() -> None:
    state = make_state()
    state.add_balance(Decimal("5.5"), NOW)
    state.set_balance(Decimal("20"), NOW)
    assert state.balance == Decimal("20")
    assert [(b.tx_type, money(b.amount)) for b in state.bills] == [
        ("deposit", "5.5000"), ("adjustment", "-85.5000")]


def test_request_log_masks_the_signature() -> None:
    state = make_state()
    record = state.log_request("order!getBalance.do", {"key": "k", "signature": "abc"}, NOW)
    assert record.wire()["params"] == {"key": "k", "signature": "***"}
    assert record.outcome == "pending"


def test_reset_restores_everything_but_keeps_numbers_unique() -> None:
    state = make_state()
    first = create(state, siteNumber="R").number
    state.log_request("order!getBalance.do", {}, NOW)
    state.reset()
    assert state.orders() == [] and state.bills == [] and state.requests == []
    assert state.balance == Decimal("100")
    assert state.stock == {item_no: p.stock for item_no, p in CATALOGUE.items()}
    assert create(state, siteNumber="R").number != first


# --- formats ----------------------------------------------------------------------------------

def test_wire_formats() -> None:
    assert money(Decimal("1.2")) == "1.2000"
    assert money(Decimal("-0.00005")) == "-0.0001"
    assert money(Decimal("1E+2")) == "100.0000"
    assert timestamp(datetime(2026, 1, 4, 5, 6, 7)) == "2026-1-4 05:06:07"
    assert timestamp(None) is None


@pytest.mark.parametrize(("text", "expected"), [
    ("11/07/2026", datetime(2026, 11, 7, tzinfo=UTC)),
    ("1/4/2026", datetime(2026, 1, 4, tzinfo=UTC)),
    ("01/04/2026 13:45:09", datetime(2026, 1, 4, 13, 45, 9, tzinfo=UTC)),
    ("1/4/2026 13:45", datetime(2026, 1, 4, 13, 45, tzinfo=UTC)),
])
def test_us_dates(text: str, expected: datetime) -> None:
    assert parse_us_datetime(text, "d") == expected


@pytest.mark.parametrize("text", ["2026-11-07", "13/01/2026", "1/2", "1/2/2026 xx"])
def test_bad_us_dates(text: str) -> None:
    with pytest.raises(ApiError, match="INVALID_PARAMETER: d"):
        parse_us_datetime(text, "d")


def test_paging() -> None:
    rows = list(range(95))
    assert page(rows, 1, 40) == ({"total": 95, "pageCount": 3}, rows[:40])
    assert page(rows, 3, 40)[1] == rows[80:]
    assert page(rows, 1, 500)[0]["pageCount"] == 1  # pageSize is capped at 100
    assert page([], 1, 40) == ({"total": 0, "pageCount": 0}, [])


# --- faults -----------------------------------------------------------------------------------

def test_throttle_is_a_sliding_one_second_window() -> None:
    clock = [100.0]
    faults = FaultInjector(clock=lambda: clock[0])
    faults.configure(FaultSettings(throttle_per_second=2))
    assert [faults.pre_call_fault("p") for _ in range(3)] == [None, None, "throttle"]
    clock[0] += 1.0
    assert faults.pre_call_fault("p") is None


def test_throttle_counts_each_account_in_a_window_of_its_own() -> None:
    clock = [100.0]
    faults = FaultInjector(clock=lambda: clock[0])
    faults.configure(FaultSettings(throttle_per_second=2, throttle_window_seconds=2))
    assert [faults.pre_call_fault("p", "a") for _ in range(5)] == [None] * 4 + ["throttle"]
    assert faults.pre_call_fault("p", "b") is None  # another account: its own budget
    clock[0] += 1.5
    assert faults.pre_call_fault("p", "a") == "throttle"  # still inside the 2 s window
    clock[0] += 0.5
    assert faults.pre_call_fault("p", "a") is None


def test_seeded_rates_are_reproducible_and_path_scoped() -> None:
    def rolls() -> list[object]:
        faults = FaultInjector()
        faults.configure(FaultSettings(error_rate=0.5, seed=3,
                                       fault_paths=["/openapi/order!createOrder.do"]))
        assert faults.pre_call_fault("order!getBalance.do") is None
        return [faults.pre_call_fault("order!createOrder.do") for _ in range(20)]

    first = rolls()
    assert first == rolls() and {"error", None} == set(first)


def test_drop_response_defaults_to_create_order_only() -> None:
    faults = FaultInjector()
    faults.configure(FaultSettings(drop_response_rate=1.0))
    assert faults.drops_response("order!createOrder.do")
    assert not faults.drops_response("order!getBalance.do")


def test_fault_settings_refuse_unknown_fields() -> None:
    with pytest.raises(ValueError, match="extra"):
        FaultSettings.model_validate({"eror_rate": 1})


# --- catalogue --------------------------------------------------------------------------------

def test_catalogue_has_the_items_other_code_uses() -> None:
    needed = {"S-CAB-0042", "S-IP4G-0363", "S-MAC-0230", "EDA008394601A", "S-PWR-0101",
              "S-EAR-0777", "S-CAS-0555", "S-LED-0909", "S-OOS-0001"}
    assert needed <= CATALOGUE.keys() and len(CATALOGUE) >= 12
    assert CATALOGUE["S-CAB-0042"].price == Decimal("1.2000")
    assert CATALOGUE["S-OOS-0001"].stock == 0


def test_countries_and_shipping_ways() -> None:
    us = country(41)
    assert us is not None and us["code"] == "US" and us["shipToState"]
    assert {"IL", "NY", "CA", "TX", "FL", "WA"} <= {s["code"] for s in us["stateList"]}
    codes = {c["code"] for c in COUNTRIES}
    assert {"GB", "DE", "FR", "SA", "AE", "AU", "CA", "BR"} <= codes
    for c in COUNTRIES:
        ways = freight_list(c["id"], Decimal("0.1"), 1)
        assert (ways == []) if c["code"] == "BR" else (2 <= len(ways) <= 3)
    postnord = shipping_ways(41)[1].wire()
    assert postnord == {"id": 246, "name": "Postnord", "queryUrl": "https://t.17track.net/en#nums="}
