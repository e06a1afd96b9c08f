"""Property-based: whatever arrives, every message ends in exactly one fate (issue 9, 5).

- The invoice listener: any bytes or JSON, including Perfex-like events with any part
  replaced, removed or made huge, either become one order with a valid invoice id, or one
  ignored invoice, or a dead letter (``MessageRejected``); never a crash (any other exception
  would dead-letter it as ``handler_error``, a bug) and never two of them.
- The tracker's public callback endpoint: any body, nested as deep as an attacker likes, gets
  200 when an order number can be read from it and 400 with a JSON reason otherwise.
"""

from __future__ import annotations

import asyncio
import json
import random
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devtools.perfex_events import encode, invoice_event, random_valid_event
from schemas._types import PERFEX_ID_MAX
from services.invoice_listener.handlers import InvoiceListener
from services.tracker.callbacks import CallbackInbox, CallbackServer, read_callback
from shared.messaging.envelope import Envelope
from shared.messaging.policy import MessageRejected
from shared.settings import Settings
from tests.fakes import FakeStore, fake_uow_factory

SETTINGS = Settings(topic_prefix="t.")
PROPERTY = settings(max_examples=200, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# --- what arrives ------------------------------------------------------------------------------

scalars = (st.none() | st.booleans() | st.integers() | st.integers(-10**30, 10**30)
           | st.floats(allow_nan=False) | st.text(max_size=30)
           | st.sampled_from(["", "0", "-1", "042", "1e400", "NaN", " 42", "2.00", "1,000.00",
                              "null", "[]", "<br />", "9" * 400, "x" * 5000, "\u0000", "\ud800"]))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=12), inner, max_size=4),
                           max_leaves=25)


def paths(document: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a JSON document (dict keys and list indexes)."""
    found = [prefix]
    if isinstance(document, dict):
        for key, value in document.items():
            found += paths(value, (*prefix, key))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            found += paths(value, (*prefix, index))
    return found


# Where the hostile-input run found holes, and what decides an order's fate: drawn as often as
# all other places together.
FOCUS = [("data", "invoice", "id"), ("data", "invoice", "items", 0, "qty"),
         ("data", "invoice", "items", 0, "rate"),
         ("data", "invoice", "items", 0, "custom_fields", "sunsky_sku"),
         ("data", "invoice", "status"), ("data", "invoice", "number"),
         ("data", "invoice", "shipping", "city"), ("data", "invoice", "shipping", "street"),
         ("data", "primary_contact", "firstname"), ("event_id",), ("event_type",)]


@st.composite
def mutated_events(draw: st.DrawFn) -> Any:
    """A Perfex event with a few parts replaced by anything, or removed."""
    event_type = draw(st.sampled_from(["invoice.paid", "invoice.created"]))
    seed = draw(st.integers(0, 10_000))
    event = random_valid_event(event_type, draw(st.integers(1, 10**6)), random.Random(seed))
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(FOCUS) | st.sampled_from(paths(event)))
        if not path:
            return draw(json_values)
        parent = event
        for step in path[:-1]:
            parent = parent[step] if _has(parent, step) else None
        if not _has(parent, path[-1]):
            continue  # an earlier mutation removed it
        if isinstance(parent, dict) and draw(st.booleans()):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(json_values)
    return event


def _has(container: Any, step: Any) -> bool:
    if isinstance(container, dict):
        return step in container
    return isinstance(container, list) and isinstance(step, int) and step < len(container)


def deeply_nested(depth: int, number: str | None) -> bytes:
    inner = json.dumps({"number": number}) if number else "1"
    return ("[" * depth + inner + "]" * depth).encode()


raw_bodies = st.one_of(
    st.binary(max_size=300),
    json_values.map(lambda v: json.dumps(v).encode()),
    mutated_events().map(encode),
    st.builds(deeply_nested, st.integers(1, 20_000), st.none() | st.just("2611270001")),
)

# --- the listener ------------------------------------------------------------------------------


def fate_of(raw: bytes) -> tuple[str, FakeStore]:
    store = FakeStore()
    listener = InvoiceListener(SETTINGS, fake_uow_factory(store))
    envelope = Envelope(topic="t.invoice.paid", partition=0, offset=0, key="k", value=raw)
    try:
        asyncio.run(listener.handle(envelope))
    except MessageRejected as rejected:
        assert rejected.reason in {"invalid_json", "schema_violation"} and rejected.detail
        return "dead letter", store
    return "handled", store


def assert_one_fate(raw: bytes) -> None:
    fate, store = fate_of(raw)
    fates = [name for name, happened in (("dead letter", fate == "dead letter"),
                                         ("order", bool(store.orders)),
                                         ("ignored", bool(store.ignored))) if happened]
    assert len(fates) == 1, (fates, raw[:300])
    assert len(store.orders) <= 1 and len(store.ignored) <= 1
    for order in store.orders.values():
        invoice_id = order.invoice_id
        assert invoice_id.isdigit() and invoice_id[0] != "0" and int(invoice_id) <= PERFEX_ID_MAX
        assert order.items, "an order carries at least one SUNSKY line"
    if fate == "dead letter":
        assert store.outbox == [] and store.processed == set()


@PROPERTY
@given(raw_bodies)
def test_any_message_has_exactly_one_fate(raw: bytes) -> None:
    assert_one_fate(raw)


@PROPERTY
@given(mutated_events())
def test_any_mutated_perfex_event_has_exactly_one_fate(event: Any) -> None:
    assert_one_fate(json.dumps(event).encode())


def test_the_cases_the_hostile_input_run_found() -> None:
    event = invoice_event("invoice.paid", 1)
    for bad_id in ("", "9" * 10_000):
        event["data"]["invoice"]["id"] = bad_id
        assert fate_of(encode(event))[0] == "dead letter"
    assert fate_of(deeply_nested(5000, None))[0] == "dead letter"


# --- the callback endpoint --------------------------------------------------------------------


class _Request:
    remote = "203.0.113.9"

    def __init__(self, body: bytes) -> None:
        self._body = body

    async def read(self) -> bytes:
        return self._body


async def _not_verified(batch: Any) -> None:
    raise AssertionError("nothing is verified here")


def answer(raw: bytes) -> tuple[int, bytes]:
    inbox = CallbackInbox(_not_verified, batch_seconds=60, batch_max=10)
    response = asyncio.run(CallbackServer(SETTINGS, inbox).receive(_Request(raw)))  # type: ignore[arg-type]
    assert inbox.pending == (1 if response.status == 200 else 0)
    return response.status, response.body  # type: ignore[return-value]


@PROPERTY
@given(raw_bodies)
def test_any_callback_body_gets_200_with_a_number_else_400(raw: bytes) -> None:
    status, body = answer(raw)
    assert status == (400 if read_callback(raw) is None else 200)
    assert "error" in json.loads(body) if status == 400 else json.loads(body) == {
        "status": "queued"}


@PROPERTY
@given(st.integers(1000, 50_000), st.sampled_from(["[", '{"a":']))
def test_a_callback_nested_any_depth_is_a_400(depth: int, opener: str) -> None:
    closer = "]" if opener == "[" else "}"
    status, body = answer((opener * depth + "1" + closer * depth).encode())
    assert status == 400 and "order number" in json.loads(body)["error"]
