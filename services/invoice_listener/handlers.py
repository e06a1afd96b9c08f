"""Handlers for Perfex invoice events: one per message type, routed by ``HANDLERS`` below.

Each message is one transaction: the event id is recorded as processed (idempotent consumer),
the order is created or moved per ``shared.domain.intake``, and ``order.ready`` goes into the
outbox when the order is placeable and auto-place is on.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from pydantic import ValidationError

from schemas.perfex import INVOICE_EVENT, InvoiceCreated, InvoicePaid
from shared import log_context
from shared.db.repository import AUTO_PLACE, UnitOfWork
from shared.domain.intake import Ignore, NoChange, Save, decide_invoice_event
from shared.domain.order import OrderStatus
from shared.lifecycle.requeue import ready_message
from shared.messaging.emit import emit, utcnow
from shared.messaging.envelope import Envelope
from shared.messaging.failures import emit_failure
from shared.messaging.policy import MessageRejected
from shared.settings import TOPIC_ORDER_READY, Settings

logger = logging.getLogger(__name__)

CONSUMER = "invoice_listener"
InvoiceEvent = InvoiceCreated | InvoicePaid


def decode(envelope: Envelope) -> InvoiceEvent:
    """Bytes -> a validated event, or ``MessageRejected`` with a readable reason."""
    try:
        event = INVOICE_EVENT.validate_json(envelope.value)
    except ValidationError as exc:
        kind = "invalid_json" if exc.errors()[0]["type"] == "json_invalid" else "schema_violation"
        raise MessageRejected(kind, _summary(exc)) from None
    log_context.bind(message_id=event.event_id, invoice_id=event.data.invoice.id)
    return event


def _summary(exc: ValidationError) -> str:
    parts = [f"{'.'.join(map(str, e['loc'])) or '<root>'}: {e['msg']}" for e in exc.errors()[:5]]
    return "; ".join(parts)


class InvoiceListener:
    def __init__(self, settings: Settings, uow: Callable[[], UnitOfWork], *,
                 committed: Callable[[], None] = lambda: None,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self._settings, self._uow, self._committed, self._clock = settings, uow, committed, clock

    async def handle(self, envelope: Envelope) -> None:
        event = decode(envelope)
        await HANDLERS[event.event_type](self, event, envelope)

    async def on_invoice_event(self, event: InvoiceEvent, envelope: Envelope) -> None:
        async with self._uow() as uow:
            if not await uow.inbox.mark_processed(CONSUMER, event.event_id):
                logger.info("duplicate event %s (%s) on %s: skipped", event.event_id,
                            event.event_type, envelope.where())
                return
            outcome = await self._apply(uow, event, envelope)
            await uow.commit()
        self._committed()
        logger.info("%s event=%s invoice=%s at %s: %s", event.event_type, event.event_id,
                    event.data.invoice.id, envelope.where(), outcome)

    async def _apply(self, uow: UnitOfWork, event: InvoiceEvent, envelope: Envelope) -> str:
        invoice_id = event.data.invoice.id
        existing = await uow.orders.get_by_invoice(invoice_id, for_update=True)
        auto_place = bool(await uow.settings.get(AUTO_PLACE))
        now = self._clock()
        decision = decide_invoice_event(existing, event, auto_place=auto_place, now=now,
                                        max_quantity=self._settings.max_line_quantity)
        if isinstance(decision, Ignore):
            await uow.inbox.record_ignored(invoice_id, event.event_id, event.event_type,
                                            decision.reason)
            return f"ignored ({decision.reason})"
        if isinstance(decision, NoChange):
            return f"no change ({decision.reason})"
        return await self._save(uow, decision, now, envelope)

    async def _save(self, uow: UnitOfWork, decision: Save, now: datetime,
                    envelope: Envelope) -> str:
        order = decision.order
        order = (await uow.orders.add(order) if order.id is None
                 else await uow.orders.save(order, items=True))
        assert order.id is not None
        if decision.publish_ready:
            await emit(uow, self._settings.topic(TOPIC_ORDER_READY), str(order.id),
                       ready_message(order, "auto", now))
        if order.status == OrderStatus.API_FAILED:  # the failure is visible and replayable
            await emit_failure(uow, self._settings, order, envelope)
        error = f" [{order.last_error.code}]" if order.last_error else ""
        return f"order {order.id} {order.status.label}{error}"


Handler = Callable[[InvoiceListener, InvoiceEvent, Envelope], Awaitable[None]]

HANDLERS: dict[str, Handler] = {
    "invoice.created": InvoiceListener.on_invoice_event,
    "invoice.paid": InvoiceListener.on_invoice_event,
}
