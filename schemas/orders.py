"""Outbound: what our services publish on the ``order.*`` topics.

Events are past tense (``OrderPlaced``); ``OrderReady`` is the placer's work item. Every message
carries a ``message_id`` (the idempotency key consumers dedupe on) and a ``type`` tag. Evolve by
adding optional fields only. Parse with ``ORDER_MESSAGE.validate_json(raw)``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, TypeAdapter

from schemas._types import OUTBOUND, Money

ReadyReason = Literal["auto", "manual", "retry", "sweep", "replay", "balance_topped_up",
                      "address_changed", "attempt_expired"]


class _OrderMessage(BaseModel):
    model_config = OUTBOUND
    message_id: str
    order_id: int
    invoice_id: str
    occurred_at: datetime


class OrderReady(_OrderMessage):
    """An order is paid, valid and should be placed with SUNSKY now."""

    type: Literal["order.ready"] = "order.ready"
    reason: ReadyReason = "auto"
    attempt: int = 0


class OrderPlaced(_OrderMessage):
    """SUNSKY accepted the order."""

    type: Literal["order.placed"] = "order.placed"
    sunsky_order_number: str
    site_number: str
    total_amount: Money | None = None
    currency: str = "USD"


class OrderApiFailed(_OrderMessage):
    """Placing failed; ``error_kind`` tells the retrier whether to try again by itself."""

    type: Literal["order.api_failed"] = "order.api_failed"
    error_code: str
    error_kind: str
    message: str
    fix_hint: str
    attempt: int
    first_failed_at: datetime


class OrderShipped(_OrderMessage):
    """For Perfex: the order is in transit (``is_update``: the tracking number changed)."""

    type: Literal["order.shipped"] = "order.shipped"
    invoice_number: str | None = None
    sunsky_order_number: str
    tracking_number: str | None = None
    tracking_url: str | None = None
    shipping_method: str | None = None
    is_update: bool = False


class OrderDelivered(_OrderMessage):
    """For Perfex: the order was delivered."""

    type: Literal["order.delivered"] = "order.delivered"
    invoice_number: str | None = None
    sunsky_order_number: str


class OrderCancelled(_OrderMessage):
    """For Perfex: SUNSKY (or an admin) cancelled the order."""

    type: Literal["order.cancelled"] = "order.cancelled"
    invoice_number: str | None = None
    sunsky_order_number: str | None = None
    reason: str


OrderMessage = Annotated[
    OrderReady | OrderPlaced | OrderApiFailed | OrderShipped | OrderDelivered | OrderCancelled,
    Field(discriminator="type"),
]
ORDER_MESSAGE: TypeAdapter[
    OrderReady | OrderPlaced | OrderApiFailed | OrderShipped | OrderDelivered | OrderCancelled
] = TypeAdapter(OrderMessage)
