"""An order SUNSKY holds under our siteNumber: the address check and a person's accept, table
driven (shared.domain.adoption is pure)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from shared.domain.adoption import (
    Found,
    accept_sunsky_address,
    differing_fields,
    expected_ship_to,
    replacement_site_number,
)
from shared.domain.errors import order_error
from shared.domain.order import (
    Order,
    OrderStatus,
    ShipTo,
    SunskyAddress,
    SunskyPlacement,
    site_number_for,
)
from tests.builders import NOW, paid_order
from tests.unit.test_placement import US

S = OrderStatus
HELD = SunskyPlacement("2611270001", 2, Decimal("2.40"), Decimal("2.93"), Decimal("5.33"))




def order(status: OrderStatus = S.API_FAILED, **changes: object) -> Order:
    base = replace(paid_order(), id=7, site_number="DS7-INV42", status=status, attempts=2)
    return replace(base, **changes)


OURS = expected_ship_to(order(), US)
SUNSKYS = replace(OURS, receiver="J. Doe", address="1 Old Rd", address2=None, postcode="60602")


def test_what_create_order_would_send() -> None:
    assert OURS == ShipTo("Jane Doe", "+1 312 555 0101", "12 Elm St", "Apt 4", "Chicago", "IL",
                          "60601", 41)
    by_name = replace(order().shipping, state="illinois")
    assert expected_ship_to(replace(order(), shipping=by_name), US).state == "IL"
    assert expected_ship_to(order(), None).country_id is None  # SUNSKY does not ship there


@pytest.mark.parametrize(("theirs", "differs"), [
    (OURS, ()),
    # blanks, spacing and case are not a different address
    (replace(OURS, address="12  ELM st ", address2="apt 4"), ()),
    (replace(OURS, address2=""), ("address2",)),
    (replace(OURS, telephone="+1 312 555 0199"), ("telephone",)),
    (replace(OURS, city="Evanston", postcode="60201"), ("city", "postcode")),
    (replace(OURS, country_id=235), ("country_id",)),
    (None, ("receiver", "telephone", "address", "address2", "city", "state", "postcode",
            "country_id")),
])
def test_differing_fields(theirs: ShipTo | None, differs: tuple[str, ...]) -> None:
    assert differing_fields(OURS, theirs) == differs


def waiting(**changes: object) -> Order:
    error = order_error("SUNSKY_ADDRESS_DIFFERS", NOW, detail="SUNSKY order 2611270001 ...")
    return order(last_error=error, sunsky_address=SunskyAddress(HELD.number, SUNSKYS, "US"),
                 **changes)


def held(status: int = 2, ship_to: ShipTo | None = SUNSKYS) -> Found:
    return Found(replace(HELD, status=status), SunskyAddress(HELD.number, ship_to, "US"), OURS)


def accept(subject: Order, sunsky: Found) -> Order | str:
    return accept_sunsky_address(subject, sunsky.sunsky, sunsky.address, NOW, actor="admin")


def test_accepting_sunskys_address_places_the_order_where_sunsky_ships() -> None:
    placed = accept(waiting(), held())
    assert isinstance(placed, Order) and placed.status == S.PLACED
    assert placed.sunsky == HELD and placed.placed_at == NOW and placed.last_error is None
    assert placed.sunsky_address is None
    s = placed.shipping
    assert (s.recipient, s.address_line1, s.address_line2, s.postcode, s.sunsky_country_id) == (
        "J. Doe", "1 Old Rd", None, "60602", 41)
    assert placed.history[-1].from_status == S.API_FAILED
    assert placed.history[-1].reason == ("SUNSKY order 2611270001 (its address accepted by a "
                                         "person)")


def test_accepting_when_sunsky_said_nothing_of_its_address_keeps_ours() -> None:
    placed = accept(waiting(), held(ship_to=None))
    assert isinstance(placed, Order) and placed.shipping == waiting().shipping


@pytest.mark.parametrize(("subject", "sunsky", "refusal"), [
    (waiting(), held(status=4), "SUNSKY cancelled order 2611270001: retry the order to place "
                                "it again (dropship orders retry ID)"),
    (waiting(status=S.PLACED), held(), "it is Placed, not waiting on SUNSKY_ADDRESS_DIFFERS"),
    (order(last_error=order_error("BALANCE_NOT_ENOUGH", NOW)), held(),
     "it is API Failed, not waiting on SUNSKY_ADDRESS_DIFFERS"),
    (order(), held(), "it is API Failed, not waiting on SUNSKY_ADDRESS_DIFFERS"),
])
def test_accepting_is_refused(subject: Order, sunsky: Found, refusal: str) -> None:
    assert accept(subject, sunsky) == refusal


def test_a_replacement_site_number_is_new_unique_and_short_enough() -> None:
    assert replacement_site_number(order()) == "DS7-INV42-A3"
    long = site_number_for(12345678901, "9" * 40, attempt=123)
    assert len(long) == 32 and long.startswith("DS12345678901-INV") and long.endswith("-A123")
    assert site_number_for(7, "42") == "DS7-INV42"
