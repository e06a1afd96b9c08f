"""Recording an order as Placed with SUNSKY: the one way ``order.placed`` is written, and
SUNSKY's order read as the placement rules see it.

Used by the placer (createOrder answered, or a look-up found the order) and by a person
accepting the address SUNSKY ships to (``application.orders.accept_sunsky_address``); the
status change was decided by the domain, the message goes through the outbox in the caller's
transaction.
"""

from __future__ import annotations

from datetime import datetime

from schemas.orders import OrderPlaced
from shared.db.repository import UnitOfWork
from shared.domain.order import Order, ShipTo, SunskyAddress, SunskyPlacement
from shared.messaging.emit import emit, new_message_id
from shared.settings import TOPIC_ORDER_PLACED, Settings
from shared.sunsky.models import SunskyOrder


def placement_of(order: SunskyOrder) -> SunskyPlacement:
    return SunskyPlacement(number=order.number, status=order.status, amount=order.amount,
                           shipping_cost=order.shipping_cost, total=order.total_amount)


def address_of(order: SunskyOrder, country_iso2: str | None) -> SunskyAddress:
    """Where SUNSKY ships ``order`` (its ``deliveryAddress``; ``ship_to`` None without one)."""
    a = order.delivery_address
    ship_to = None if a is None else ShipTo(
        receiver=a.receiver, telephone=a.telephone, address=a.address, address2=a.address2,
        city=a.city, state=a.state, postcode=a.postcode, country_id=a.country_id)
    return SunskyAddress(order.number, ship_to, country_iso2)


async def save_placed(uow: UnitOfWork, settings: Settings, placed: Order, now: datetime) -> Order:
    """Save the Placed order and queue ``order.placed`` (keyed by our order id)."""
    assert placed.sunsky is not None
    saved = await uow.orders.save(placed)
    message = OrderPlaced(message_id=new_message_id(), order_id=saved.id or 0,
                          invoice_id=saved.invoice_id, occurred_at=now,
                          sunsky_order_number=placed.sunsky.number,
                          site_number=saved.site_number or "", total_amount=placed.sunsky.total)
    await emit(uow, settings.topic(TOPIC_ORDER_PLACED), str(saved.id), message)
    return saved
