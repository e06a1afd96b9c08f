"""The tracker: follows each placed order at SUNSKY until it is Delivered or Cancelled.

Every source of news ends in ``apply(view)`` (``shared.lifecycle.tracking``: lock our order,
the pure ``decide_tracking``, save and outbox in one transaction). What reaches it was read from
SUNSKY itself:

- ``order.placed``: createOrder's answer is already stored (``sunsky_status`` 2 = paid), so the
  move to Processing costs no SUNSKY call (an answer of "shipped" is read again in full first:
  Perfex must not hear "shipped" without a tracking number);
- callbacks (``callbacks.py``) only *name* orders; ``Reconciler.verify`` re-reads them;
- the sweep (``Reconciler.sweep``) pages through ``getOrderList`` for what callbacks missed,
  deliveries above all (SUNSKY sends no callback for them);
- the admin's "Refresh from Sunsky" (``refresh``, through the application layer): one
  ``getOrderDetails``, now.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from schemas.orders import OrderPlaced
from shared.domain.tracking import SunskyView, ships_without_tracking
from shared.lifecycle.tracking import Refreshed, TrackingApplier
from shared.messaging.envelope import Envelope
from shared.messaging.policy import MessageRejected, decode_order_message
from shared.sunsky.errors import SunskyError

logger = logging.getLogger(__name__)

ACTOR = "tracker"

__all__ = ["ACTOR", "HANDLERS", "Refreshed", "Tracker", "decode"]


def decode(envelope: Envelope) -> OrderPlaced:
    return decode_order_message(envelope, OrderPlaced)


class Tracker(TrackingApplier):
    """The tracking applier plus the tracker's own message: ``order.placed``."""

    async def handle(self, envelope: Envelope) -> None:
        message = decode(envelope)
        await HANDLERS[message.type](self, message, envelope)

    async def on_order_placed(self, message: OrderPlaced, envelope: Envelope) -> None:
        """Processing at once when createOrder's stored answer says paid: no SUNSKY call."""
        source = f"order.placed {envelope.where()}"
        async with self._uow() as uow:
            order = await uow.orders.get(message.order_id, for_update=True)
            if order is None:
                raise MessageRejected("unknown_order", f"order {message.order_id} does not exist")
            if order.sunsky is None or order.sunsky.status is None:
                logger.info("order %s has no SUNSKY status yet (%s): left to the sweep",
                            order.id, envelope.where())
                return
            decision = None
            if not ships_without_tracking(order):
                # createOrder's answer was stored with placed_at: that is when it was read
                view = SunskyView(order.sunsky.number, order.sunsky.status,
                                  read_at=order.placed_at)
                decision = await self._apply_locked(uow, order, view, source)
        if decision is None:
            await self._read_placed(message.order_id, source)
        else:
            self._after(decision)

    async def _read_placed(self, order_id: int, source: str) -> None:
        """SUNSKY said "shipped" at placing: read it in full, or leave it to the sweep."""
        try:
            await self.refresh(order_id, source=source)
        except SunskyError as exc:
            logger.warning("order %s is shipped at SUNSKY but reading its tracking number "
                           "failed (%r): left to the sweep (%s)", order_id, exc, source)


Handler = Callable[[Tracker, Any, Envelope], Awaitable[None]]

HANDLERS: dict[str, Handler] = {
    "order.placed": Tracker.on_order_placed,
}
