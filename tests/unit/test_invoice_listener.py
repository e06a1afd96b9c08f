from __future__ import annotations

import json

import pytest

from devtools.perfex_events import BROKEN_PAYLOADS, encode, invoice_event, item
from schemas.orders import ORDER_MESSAGE, OrderApiFailed, OrderReady
from services.invoice_listener.handlers import InvoiceListener
from shared.db.repository import AUTO_PLACE
from shared.domain.order import OrderStatus
from shared.messaging.envelope import Envelope
from shared.messaging.policy import MessageRejected
from shared.settings import Settings
from tests.fakes import FakeStore, FakeUnitOfWork, fake_uow_factory

SETTINGS = Settings(topic_prefix="t.")


def envelope(raw: bytes, offset: int = 0) -> Envelope:
    return Envelope(topic="t.invoice.paid", partition=0, offset=offset, key="42", value=raw)


@pytest.fixture
def store() -> FakeStore:
    return FakeStore()


@pytest.fixture
def listener(store: FakeStore) -> InvoiceListener:
    return InvoiceListener(SETTINGS, fake_uow_factory(store))


async def test_paid_invoice_creates_a_ready_order_and_queues_order_ready(
        store: FakeStore, listener: InvoiceListener) -> None:
    await listener.handle(envelope(encode(invoice_event("invoice.paid", 42))))
    [order] = store.orders.values()
    assert order.status == OrderStatus.READY_TO_PLACE
    [ready] = [ORDER_MESSAGE.validate_json(v) for v in store.messages("order.ready")]
    assert isinstance(ready, OrderReady) and ready.order_id == order.id
    assert store.outbox[0][0] == "t.order.ready" and store.outbox[0][1] == str(order.id)


async def test_same_event_twice_changes_nothing_twice(
        store: FakeStore, listener: InvoiceListener) -> None:
    raw = encode(invoice_event("invoice.paid", 42, event_id="evt-1"))
    await listener.handle(envelope(raw))
    await listener.handle(envelope(raw, offset=1))
    assert len(store.orders) == 1 and len(store.messages("order.ready")) == 1


async def test_republished_paid_with_new_event_id_does_not_requeue(
        store: FakeStore, listener: InvoiceListener) -> None:
    await listener.handle(envelope(encode(invoice_event("invoice.paid", 42))))
    await listener.handle(envelope(encode(invoice_event("invoice.paid", 42))))
    assert len(store.messages("order.ready")) == 1


async def test_paid_before_created(store: FakeStore, listener: InvoiceListener) -> None:
    await listener.handle(envelope(encode(invoice_event("invoice.paid", 5))))
    await listener.handle(envelope(encode(invoice_event("invoice.created", 5))))
    [order] = store.orders.values()
    assert order.status == OrderStatus.READY_TO_PLACE
    assert [c.to_status for c in store.history[order.id or 0]] == [OrderStatus.READY_TO_PLACE]


async def test_auto_place_off_waits_in_ready_to_place(
        store: FakeStore, listener: InvoiceListener) -> None:
    store.settings[AUTO_PLACE] = False
    await listener.handle(envelope(encode(invoice_event("invoice.paid", 6))))
    assert [o.status for o in store.orders.values()] == [OrderStatus.READY_TO_PLACE]
    assert store.messages("order.ready") == []


async def test_ignored_invoices_are_recorded(store: FakeStore, listener: InvoiceListener) -> None:
    await listener.handle(envelope(encode(invoice_event("invoice.paid", 7, items=[item(1, None)]))))
    assert store.orders == {}
    assert store.ignored[0][0] == "7" and "sunsky_sku" in store.ignored[0][3]


async def test_invalid_order_is_api_failed_without_order_ready(
        store: FakeStore, listener: InvoiceListener) -> None:
    raw = invoice_event("invoice.paid", 8, items=[item(1, "S-CAB-0042", qty="0.50")])
    await listener.handle(envelope(encode(raw)))
    [order] = store.orders.values()
    assert order.status == OrderStatus.API_FAILED and order.last_error is not None
    assert order.last_error.code == "FRACTIONAL_QUANTITY"
    assert store.messages("order.ready") == []
    [failed] = [ORDER_MESSAGE.validate_json(v) for v in store.messages("order.api_failed")]
    assert isinstance(failed, OrderApiFailed) and failed.error_code == "FRACTIONAL_QUANTITY"
    assert failed.error_kind == "needs_action" and failed.fix_hint


@pytest.mark.parametrize(("name", "raw"), BROKEN_PAYLOADS)
async def test_broken_messages_are_rejected_with_a_reason(
        listener: InvoiceListener, name: str, raw: bytes) -> None:
    with pytest.raises(MessageRejected) as caught:
        await listener.handle(envelope(raw))
    assert caught.value.reason in {"invalid_json", "schema_violation"}
    assert caught.value.detail


class UnreachableOutbox:
    """The database connection drops at the outbox write, mid-transaction."""

    async def add(self, topic: str, key: str | None, value: bytes, headers=()) -> None:
        raise ConnectionError("connection lost writing the outbox")


class OutboxFailsUnitOfWork(FakeUnitOfWork):
    async def __aenter__(self) -> FakeUnitOfWork:
        unit = await super().__aenter__()
        unit.outbox = UnreachableOutbox()
        return unit


async def test_failed_transaction_leaves_no_trace(store: FakeStore) -> None:
    raw = envelope(encode(invoice_event("invoice.paid", 9, event_id="evt-9")))
    failing = InvoiceListener(SETTINGS, lambda: OutboxFailsUnitOfWork(store))
    with pytest.raises(ConnectionError):
        await failing.handle(raw)
    # nothing of the half-done transaction: no order, no message, not even "processed"
    assert store.orders == {} and store.outbox == [] and store.processed == set()
    # so the redelivery (the policy retries in place) does all of it, once
    await InvoiceListener(SETTINGS, fake_uow_factory(store)).handle(raw)
    assert len(store.orders) == 1 and len(store.messages("order.ready")) == 1


async def test_a_failing_post_commit_hook_keeps_state_and_outbox_together(
        store: FakeStore) -> None:
    def exploding_committed() -> None:
        raise RuntimeError("boom after commit")

    listener = InvoiceListener(SETTINGS, fake_uow_factory(store), committed=exploding_committed)
    with pytest.raises(RuntimeError):
        await listener.handle(envelope(encode(invoice_event("invoice.paid", 9))))
    # committed before the hook ran: state and outbox are there together, or neither
    assert len(store.orders) == 1 and len(store.messages("order.ready")) == 1
    assert json.loads(store.messages("order.ready")[0])["invoice_id"] == "9"
