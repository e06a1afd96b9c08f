from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from devtools.perfex_events import address, encode, invoice_event, item
from schemas.perfex import INVOICE_EVENT, InvoiceCreated, InvoicePaid
from shared.domain.intake import (
    Ignore,
    NoChange,
    Save,
    choose_address,
    decide_invoice_event,
    split_street,
)
from shared.domain.order import OrderStatus

NOW = datetime(2026, 11, 27, tzinfo=UTC)


def parse(raw: dict) -> InvoiceCreated | InvoicePaid:
    return INVOICE_EVENT.validate_json(encode(raw))


def decide(raw: dict, existing=None, auto_place: bool = True):
    return decide_invoice_event(existing, parse(raw), auto_place=auto_place, now=NOW)


def test_contract_example_parses_with_numbers_as_strings_or_numbers() -> None:
    raw = invoice_event("invoice.paid", 42)
    raw["data"]["invoice"]["items"][0]["qty"] = 2
    raw["data"]["invoice"]["items"][0]["rate"] = 4.5
    raw["data"]["invoice"]["id"] = 42
    event = parse(raw)
    assert event.data.invoice.id == "42"
    assert event.data.invoice.items[0].rate == Decimal("4.5")


def test_paid_invoice_becomes_ready_to_place_with_snapshots() -> None:
    decision = decide(invoice_event("invoice.paid", 42))
    assert isinstance(decision, Save) and decision.publish_ready
    order = decision.order
    assert order.status == OrderStatus.READY_TO_PLACE
    assert [(i.sku, i.quantity, i.unit_price, i.line_total) for i in order.items] == [
        ("S-CAB-0042", 2, Decimal("4.50"), Decimal("9.00"))]
    assert order.shipping.address_line1 == "12 Elm St"
    assert order.shipping.address_line2 == "Apt 4"
    assert order.shipping.recipient == "Jane Doe"
    assert order.shipping.phone == "+1 312 555 0101"


def test_created_then_paid_moves_pending_to_ready() -> None:
    created = decide(invoice_event("invoice.created", 7))
    assert isinstance(created, Save) and not created.publish_ready
    pending = created.order.__class__(**{**created.order.__dict__, "id": 1})
    paid = decide(invoice_event("invoice.paid", 7), existing=pending)
    assert isinstance(paid, Save) and paid.order.status == OrderStatus.READY_TO_PLACE
    assert [c.to_status for c in paid.order.history] == [OrderStatus.READY_TO_PLACE]


def test_late_created_and_repeated_paid_change_nothing() -> None:
    ready = decide(invoice_event("invoice.paid", 8))
    assert isinstance(ready, Save)
    existing = ready.order.__class__(**{**ready.order.__dict__, "id": 1})
    assert isinstance(decide(invoice_event("invoice.created", 8), existing=existing), NoChange)
    assert isinstance(decide(invoice_event("invoice.paid", 8), existing=existing), NoChange)


def test_auto_place_off_keeps_the_order_waiting() -> None:
    decision = decide(invoice_event("invoice.paid", 9), auto_place=False)
    assert isinstance(decision, Save) and not decision.publish_ready
    assert decision.order.status == OrderStatus.READY_TO_PLACE


def test_drafts_and_invoices_without_sunsky_lines_are_ignored_with_reason() -> None:
    draft = decide(invoice_event("invoice.created", 10, status="6"))
    assert isinstance(draft, Ignore) and "draft" in draft.reason
    plain = decide(invoice_event("invoice.paid", 11, items=[item(1, None)]))
    assert isinstance(plain, Ignore) and "sunsky_sku" in plain.reason


def test_fractional_quantity_fails_with_a_code() -> None:
    decision = decide(invoice_event("invoice.paid", 12, items=[item(1, "S-CAB-0042", "1.50")]))
    assert isinstance(decision, Save) and not decision.publish_ready
    assert decision.order.status == OrderStatus.API_FAILED
    assert decision.order.last_error is not None
    assert decision.order.last_error.code == "FRACTIONAL_QUANTITY"


def test_incomplete_address_fails_with_the_missing_fields() -> None:
    raw = invoice_event("invoice.paid", 13, shipping=address(city="", zip_code=""))
    decision = decide(raw)
    assert isinstance(decision, Save)
    error = decision.order.last_error
    assert error is not None and error.code == "ADDRESS_INCOMPLETE"
    assert "city" in error.message and "postcode" in error.message
    assert error.fix_hint


def test_missing_phone_fails() -> None:
    raw = invoice_event("invoice.paid", 14, phone="")
    raw["data"]["client"]["phonenumber"] = ""
    decision = decide(raw)
    assert isinstance(decision, Save) and decision.order.last_error is not None
    assert decision.order.last_error.code == "PHONE_MISSING"


def test_address_precedence() -> None:
    raw = invoice_event("invoice.paid", 15, include_shipping="0")
    assert choose_address(parse(raw)).street == "1 Main St"  # invoice billing
    raw["data"]["client"]["shipping"] = address("9 Client Rd", "Austin", "TX", "73301")
    assert choose_address(parse(raw)).street == "9 Client Rd"  # client shipping beats billing
    raw = invoice_event("invoice.paid", 15, include_shipping="1")
    assert choose_address(parse(raw)).street.startswith("12 Elm St")


def test_split_street_handles_br_variants() -> None:
    assert split_street("A<br />B<br>C") == ("A", "B, C")
    assert split_street("") == (None, None)


def test_single_space_company_is_no_company() -> None:
    # Perfex stores " " when a client has no company and shows the contact's name instead
    raw = invoice_event("invoice.paid", 16)
    raw["data"]["client"]["company"] = " "
    decision = decide(raw)
    assert isinstance(decision, Save)
    assert decision.order.customer_company is None
    assert decision.order.shipping.recipient == "Jane Doe"


def test_php_empty_custom_fields_and_numeric_values_are_accepted() -> None:
    raw = invoice_event("invoice.paid", 17)
    raw["data"]["invoice"]["items"][1]["custom_fields"] = []  # json_encode(array())
    raw["data"]["invoice"]["items"][0]["custom_fields"] = {"sunsky_sku": "S-CAB-0042", "n": 7}
    event = parse(raw)
    assert event.data.invoice.items[1].custom_fields == {}
    assert event.data.invoice.items[0].custom_fields["n"] == "7"
