"""``order.api_failed``: the one shape of a failure message, from whichever service failed."""

from __future__ import annotations

from schemas.orders import OrderApiFailed
from shared.db.repository import UnitOfWork
from shared.domain.order import Order
from shared.messaging.emit import emit, new_message_id
from shared.messaging.envelope import Envelope
from shared.settings import TOPIC_ORDER_API_FAILED, Settings


async def emit_failure(uow: UnitOfWork, settings: Settings, order: Order,
                       envelope: Envelope) -> None:
    """Queue ``order.api_failed`` for an order just saved in API Failed (key: order id).

    Headers: attempt, error class and code, the message that led here (topic, partition,
    offset), the first failure time, and a replayed message's ``replay.cycle``."""
    error = order.last_error
    assert error is not None and order.id is not None
    first = order.first_failed_at or error.at
    message = OrderApiFailed(
        message_id=new_message_id(), order_id=order.id, invoice_id=order.invoice_id,
        occurred_at=error.at, error_code=error.code, error_kind=error.kind,
        message=error.message, fix_hint=error.fix_hint, attempt=order.attempts,
        first_failed_at=first)
    headers = {
        "attempt": str(order.attempts), "error.class": error.kind, "error.code": error.code,
        "original.topic": envelope.topic, "original.partition": str(envelope.partition),
        "original.offset": str(envelope.offset), "first_failed_at": first.isoformat(),
    }
    if cycle := envelope.header("replay.cycle"):
        headers["replay.cycle"] = cycle  # the replay cap needs the count to survive a failure
    await emit(uow, settings.topic(TOPIC_ORDER_API_FAILED), str(order.id), message, headers)
