"""Intake refuses what Perfex never sends (issue 9, section 5): ids that are not positive
integers, text longer than its Perfex column, amounts beyond decimal(15,2) are dead-lettered;
quantities and lengths SUNSKY cannot take put the order in API Failed with their own code,
without calling SUNSKY."""

from __future__ import annotations

import json

import jsonschema
import pytest

from application.context import AdminContext
from application.orders import RetrySelection, retry_orders
from devtools.perfex_events import address, encode, invoice_event, item
from schemas.generate import JSON_DIR
from services.invoice_listener.handlers import InvoiceListener
from shared.domain.order import OrderStatus
from shared.messaging.envelope import Envelope
from shared.messaging.policy import MessageRejected
from shared.settings import Settings
from tests.fakes import FakeStore, FakeSunsky, fake_uow_factory

SETTINGS = Settings(topic_prefix="t.")
SCHEMA = json.loads((JSON_DIR / "invoice.paid.schema.json").read_text())


def envelope(event: dict, offset: int = 0) -> Envelope:
    return Envelope(topic="t.invoice.paid", partition=0, offset=offset, key="k",
                    value=encode(event))


def paid(**changes: object) -> dict:
    event = invoice_event("invoice.paid", 42)
    event["data"]["invoice"].update(changes)
    return event


async def handle(store: FakeStore, event: dict, settings: Settings = SETTINGS,
                 offset: int = 0) -> None:
    await InvoiceListener(settings, fake_uow_factory(store)).handle(envelope(event, offset))


def schema_accepts(event: dict) -> bool:
    try:
        jsonschema.validate(event, SCHEMA)
    except jsonschema.ValidationError:
        return False
    return True


BAD_IDS = ["", "0", "-1", "042", " 42", "4.2", 4.2, 0, -7, True, None, "9" * 10_000,
           "2147483648", "42abc", [], {}]


@pytest.mark.parametrize("invoice_id", BAD_IDS, ids=repr)
async def test_an_invoice_id_that_is_not_a_positive_integer_is_a_schema_violation(
        invoice_id: object) -> None:
    store = FakeStore()
    event = paid(id=invoice_id)
    with pytest.raises(MessageRejected) as caught:
        await handle(store, event)
    assert caught.value.reason == "schema_violation" and "data.invoice.id" in caught.value.detail
    assert store.orders == {} and store.processed == set()
    assert not schema_accepts(event)  # the JSON Schema the Perfex module is held to agrees


@pytest.mark.parametrize("invoice_id", ["1", "42", 42, "2147483647"], ids=repr)
async def test_positive_integer_ids_are_orders(invoice_id: object) -> None:
    store = FakeStore()
    event = paid(id=invoice_id)
    await handle(store, event)
    [order] = store.orders.values()
    assert order.invoice_id == str(invoice_id) and schema_accepts(event)


async def test_three_events_with_an_empty_id_are_three_dead_letters_not_one_order() -> None:
    store = FakeStore()
    for offset in range(3):
        with pytest.raises(MessageRejected):
            await handle(store, paid(id=""), offset=offset)
    assert store.orders == {}


@pytest.mark.parametrize(("qty", "code"), [
    ("1000000000.00", "QUANTITY_TOO_LARGE"), ("10001", "QUANTITY_TOO_LARGE"),
    ("-1.00", "QUANTITY_NOT_POSITIVE"), ("0.00", "QUANTITY_NOT_POSITIVE"),
    ("-0.50", "QUANTITY_NOT_POSITIVE"), ("1.50", "FRACTIONAL_QUANTITY"),
])
async def test_a_quantity_sunsky_must_not_get_is_api_failed_with_its_own_code(
        qty: str, code: str) -> None:
    store = FakeStore()
    await handle(store, paid(items=[item(1, "S-CAB-0042", qty=qty)]))
    [order] = store.orders.values()
    assert order.status == OrderStatus.API_FAILED and order.last_error is not None
    assert order.last_error.code == code and order.last_error.fix_hint
    assert "S-CAB-0042" in order.last_error.message
    assert store.messages("order.ready") == []  # the placer never sees it: no SUNSKY call
    assert len(store.messages("order.api_failed")) == 1


async def test_the_quantity_bound_is_a_setting() -> None:
    store = FakeStore()
    await handle(store, paid(items=[item(1, "S-CAB-0042", qty="10000.00")]))
    await handle(store, paid(id="43", items=[item(1, "S-CAB-0042", qty="6")]),
                 settings=SETTINGS.model_copy(update={"max_line_quantity": 5}))
    statuses = {o.invoice_id: o.status for o in store.orders.values()}
    assert statuses == {"42": OrderStatus.READY_TO_PLACE, "43": OrderStatus.API_FAILED}


async def test_a_retry_is_refused_until_the_bound_allows_the_quantity() -> None:
    store = FakeStore()
    await handle(store, paid(items=[item(1, "S-CAB-0042", qty="20000")]))
    [order_id] = store.orders

    def ctx(settings: Settings) -> AdminContext:
        async def flush() -> int:
            return 0

        return AdminContext(settings, fake_uow_factory(store), FakeSunsky(), None, flush)  # type: ignore[arg-type]

    [refused] = await retry_orders(ctx(SETTINGS), RetrySelection((order_id,)), actor="t")
    assert refused.outcome == "refused" and "QUANTITY_TOO_LARGE" in refused.message
    raised = SETTINGS.model_copy(update={"max_line_quantity": 50_000})
    [queued] = await retry_orders(ctx(raised), RetrySelection((order_id,)), actor="t")
    assert queued.outcome == "queued" and len(store.messages("order.ready")) == 1


@pytest.mark.parametrize(("field", "value"), [
    ("city", "C" * 41), ("state", "S" * 41), ("zip", "9" * 21), ("street", "S" * 101),
])
async def test_an_address_part_longer_than_sunsky_takes_is_api_failed_naming_it(
        field: str, value: str) -> None:
    store = FakeStore()
    await handle(store, paid(shipping=address() | {field: value}))
    [order] = store.orders.values()
    assert order.status == OrderStatus.API_FAILED and order.last_error is not None
    assert order.last_error.code == "FIELD_TOO_LONG"
    assert "SUNSKY takes" in order.last_error.message


async def test_a_recipient_name_longer_than_sunsky_takes_is_api_failed() -> None:
    store = FakeStore()
    event = paid()
    event["data"]["primary_contact"]["firstname"] = "Maximilian Alexander"
    event["data"]["primary_contact"]["lastname"] = "von Habsburg-Lothringen"
    await handle(store, event)
    [order] = store.orders.values()
    assert order.last_error is not None and order.last_error.code == "FIELD_TOO_LONG"
    assert "recipient has 44 characters (SUNSKY takes 32)" in order.last_error.message


# (change, whether the JSON Schema can say it too: qty x rate is a rule across two fields)
BEYOND_PERFEX = {
    "street": ({"shipping": address() | {"street": "S" * 201}}, True),  # varchar(200)
    "city": ({"shipping": address() | {"city": "C" * 101}}, True),  # varchar(100)
    "iso2": ({"shipping": address(iso2="USA")}, True),  # char(2)
    "sku": ({"items": [item(1, "S" * 65)]}, True),  # no SUNSKY item number is that long
    "description": ({"items": [item(1, "S-CAB-0042", description="D" * 1001)]}, True),
    "qty": ({"items": [item(1, "S-CAB-0042", qty="1" * 14)]}, True),  # decimal(15,2)
    "line amount": ({"items": [item(1, "S-CAB-0042", qty="9999999", rate="9999999.00")]},
                    False),
    "total": ({"total": "1" * 10_000}, True),
    "prefix": ({"prefix": "P" * 51}, True),  # varchar(50)
}


@pytest.mark.parametrize("name", BEYOND_PERFEX)
async def test_text_and_amounts_beyond_perfex_columns_are_schema_violations(name: str) -> None:
    change, in_schema = BEYOND_PERFEX[name]
    store = FakeStore()
    event = paid(**change)
    with pytest.raises(MessageRejected) as caught:
        await handle(store, event)
    assert caught.value.reason == "schema_violation"
    assert store.orders == {}
    assert schema_accepts(event) is not in_schema


async def test_the_longest_values_perfex_stores_are_accepted() -> None:
    store = FakeStore()
    event = paid(shipping=address(street="S" * 100, city="C" * 40, state="IL", zip_code="Z" * 20),
                 prefix="P" * 50, items=[item(1, "S" * 64, qty="10000.00", rate="99.99")])
    assert schema_accepts(event)
    await handle(store, event)
    [order] = store.orders.values()
    assert order.status == OrderStatus.READY_TO_PLACE, order.last_error
