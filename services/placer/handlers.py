"""The placer: one ``order.ready`` -> at most one SUNSKY order, whatever is redelivered.

The guarantee rests on three rules:

1. The intent (status Placing, attempt, ``placing_started_at``) is committed *before*
   ``createOrder`` is sent, always with the same ``siteNumber`` for the order.
2. Any order that may already have reached SUNSKY (``placing_started_at`` is set: a crash, a
   timeout, a redelivery) is first looked up by ``siteNumber``, after a settle time, and only
   placed again when SUNSKY confirms there is none.
3. Placed/Processing/Shipped/Delivered/Cancelled/API Failed orders are never placed from an
   ``order.ready``: duplicates and stale messages are no-ops. A retry first moves the order
   back to Ready to Place, then publishes a new ``order.ready``.

Business failures end in API Failed with a coded reason and an ``order.api_failed`` message.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from schemas.orders import OrderPlaced, OrderReady
from services.placer.quote import Prepared, Quoter, Refused, top_up_hint
from shared.db.repository import UnitOfWork
from shared.domain.errors import order_error
from shared.domain.order import (
    FINAL,
    SUBMITTED,
    Order,
    OrderError,
    OrderStatus,
    SunskyPlacement,
)
from shared.domain.retry import schedule_retry, settle_until
from shared.messaging.emit import emit, new_message_id, utcnow
from shared.messaging.envelope import Envelope
from shared.messaging.failures import emit_failure
from shared.messaging.policy import MessageRejected, decode_order_message, retried_in_place
from shared.requeue import requeue, retry_policy
from shared.settings import TOPIC_ORDER_PLACED, Settings
from shared.sunsky.errors import (
    SunskyDuplicateOrderError,
    SunskyError,
    SunskyUnknownOutcomeError,
)
from shared.sunsky.models import SunskyOrder
from shared.sunsky.port import Sunsky

logger = logging.getLogger(__name__)

ACTOR = "placer"
S = OrderStatus


def decode(envelope: Envelope) -> OrderReady:
    return decode_order_message(envelope, OrderReady)


def sunsky_error(exc: SunskyError, now: datetime) -> OrderError:
    message = "; ".join(exc.messages) or str(exc)
    return OrderError(code=exc.code, kind=str(exc.kind), message=message,
                      fix_hint=exc.fix_hint, at=now)


class Placer:
    def __init__(self, settings: Settings, uow: Callable[[], UnitOfWork], sunsky: Sunsky, *,
                 committed: Callable[[], None] = lambda: None,
                 clock: Callable[[], datetime] = utcnow,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 rand: Callable[[], float] = random.random) -> None:
        self._settings, self._uow, self._committed = settings, uow, committed
        self._sunsky, self._clock, self._sleep, self._rand = sunsky, clock, sleep, rand
        self._retry_policy = retry_policy(settings)
        self.quoter = Quoter(settings, uow, sunsky, clock=clock)

    async def handle(self, envelope: Envelope) -> None:
        message = decode(envelope)
        try:
            await HANDLERS[message.type](self, message, envelope)
        except Exception as exc:
            if not retried_in_place(exc):
                # A bug: the message goes to the DLQ (re-raised), and the order gets an end
                # state a person sees, instead of being re-swept into the same bug forever.
                await self._failed_by_bug(message.order_id, exc, envelope)
            raise

    async def _failed_by_bug(self, order_id: int, exc: Exception, envelope: Envelope) -> None:
        try:
            order = await self._load(order_id)
            if order is not None:
                error = order_error("HANDLER_ERROR", self._clock(), detail=repr(exc)[:500])
                await self._failed(order, error, envelope)
        except Exception:
            logger.exception("order %s: could not record the handler error", order_id)

    async def on_order_ready(self, message: OrderReady, envelope: Envelope) -> None:
        order = await self._load(message.order_id)
        if order is None:
            raise MessageRejected("unknown_order", f"order {message.order_id} does not exist")
        if not self._placeable(order, envelope):
            return
        if order.placing_started_at is not None and await self._recovered(order, envelope):
            return
        await self._place(order, envelope)

    def _placeable(self, order: Order, envelope: Envelope) -> bool:
        if order.status in (S.READY_TO_PLACE, S.PLACING):
            return True
        why = ("already with SUNSKY" if order.status in SUBMITTED or order.status in FINAL
               else "not ready")
        logger.info("order %s is %s (%s): %s ignored", order.id, order.status.label, why,
                    envelope.where())
        return False

    async def _load(self, order_id: int) -> Order | None:
        async with self._uow() as uow:
            return await uow.orders.get(order_id)

    # --- recovery: the order may already exist at SUNSKY ---------------------------------
    async def _recovered(self, order: Order, envelope: Envelope) -> bool:
        """Look the order up by siteNumber; True when that settled its fate."""
        settled = settle_until(order, self._settings.placing_settle_seconds)
        assert settled is not None
        wait = (settled - self._clock()).total_seconds()
        if wait > 0:
            logger.info("order %s: waiting %.1fs for an earlier attempt to settle", order.id, wait)
            await self._sleep(wait)
        try:
            found = await self._lookup(order)
        except SunskyError as exc:
            await self._failed(order, sunsky_error(exc, self._clock()), envelope)
            return True
        if found is None:
            return False
        await self._placed(order, found, envelope, how="found by siteNumber")
        return True

    async def _lookup(self, order: Order) -> SunskyOrder | None:
        """The SUNSKY order with our siteNumber, or None when SUNSKY confirms there is none."""
        assert order.site_number is not None and order.placing_started_at is not None
        start = (order.placing_started_at - timedelta(days=1)).date()
        end = (self._clock() + timedelta(days=1)).date()
        found: SunskyOrder | None = await self._sunsky.find_order_by_site_number(
            order.site_number, created_from=start, created_to=end)
        return found

    # --- the normal path ------------------------------------------------------------------
    async def _place(self, order: Order, envelope: Envelope) -> None:
        try:
            prepared = await self.quoter.prepare(order)
        except Refused as refused:
            await self._failed(order, refused.error, envelope, quoted_total=refused.quoted_total)
            return
        except SunskyError as exc:
            await self._failed(order, sunsky_error(exc, self._clock()), envelope)
            return
        intent = await self._record_intent(order, prepared)
        if intent is None:
            return
        await self._send(intent, prepared, envelope)

    async def _record_intent(self, order: Order, prepared: Prepared) -> Order | None:
        """Placing + a new attempt, committed before createOrder; None when another worker got
        there first (``order`` is what this worker saw before its look-up and quote)."""
        now = self._clock()
        async with self._uow() as uow:
            current = await uow.orders.get(order.id or 0, for_update=True)
            if current is None or current.status not in (S.READY_TO_PLACE, S.PLACING):
                return None
            if _ship_to(current) != _ship_to(order):
                # An admin corrected the address while we quoted: quote the new one instead.
                await requeue(uow, self._settings, current, actor=ACTOR,
                              reason="address_changed", note="address changed", now=now)
                await uow.commit()
                self._committed()
                return None
            if current.placing_started_at != order.placing_started_at:
                # Another actor (a rebalance handed the same message to two workers) started an
                # attempt since we loaded the order: it owns the outcome; a sweep covers a crash.
                logger.warning("order %s: another worker is placing it; leaving it to them",
                               order.id)
                return None
            if current.status == S.READY_TO_PLACE:
                current = current.transition(S.PLACING, reason=f"attempt {current.attempts + 1}",
                                             actor=ACTOR, now=now)
            shipping = replace(current.shipping, sunsky_country_id=prepared.country_id,
                               shipping_way_id=prepared.way_id, shipping_method=prepared.way_name)
            current = replace(current, attempts=current.attempts + 1, placing_started_at=now,
                              shipping=shipping, next_attempt_at=None,
                              quoted_total=prepared.total)
            current = await uow.orders.save(current)
            await uow.commit()
        return current

    async def _send(self, order: Order, prepared: Prepared, envelope: Envelope) -> None:
        try:
            created: SunskyOrder = await self._sunsky.create_order(prepared.request)
        except (SunskyUnknownOutcomeError, SunskyDuplicateOrderError) as exc:
            await self._after_ambiguous(order, exc, envelope)
            return
        except SunskyError as exc:
            # A definite refusal: SUNSKY did not create it, the next attempt needs no look-up.
            error = sunsky_error(exc, self._clock())
            if exc.code == "BALANCE_NOT_ENOUGH":  # our cached balance was stale or shared
                self.quoter.balance.forget()
                error = replace(error, fix_hint=top_up_hint(prepared.total, "SUNSKY refused"))
            await self._failed(order, error, envelope, clear_intent=True,
                               quoted_total=prepared.total)
            return
        self.quoter.balance.debit(created.total_amount or prepared.total)
        await self._placed(order, created, envelope, how="createOrder")

    async def _after_ambiguous(self, order: Order, exc: SunskyError, envelope: Envelope) -> None:
        logger.warning("order %s: createOrder %s; looking it up by siteNumber %s", order.id,
                       exc.code, order.site_number)
        self.quoter.balance.forget()
        try:
            found = await self._lookup(order)
        except SunskyError as lookup_error:
            # The order may still exist: keep that as the reason, the look-up failure as detail
            error = sunsky_error(exc, self._clock())
            detail = f"{error.message}; look-up by siteNumber failed: {lookup_error.code}"
            await self._failed(order, replace(error, message=detail), envelope)
            return
        if found is not None:
            await self._placed(order, found, envelope, how=f"found by siteNumber after {exc.code}")
            return
        await self._failed(order, sunsky_error(exc, self._clock()), envelope)

    # --- outcomes -------------------------------------------------------------------------
    async def _placed(self, order: Order, sunsky: SunskyOrder, envelope: Envelope, *,
                      how: str) -> None:
        now = self._clock()
        async with self._uow() as uow:
            current = await uow.orders.get(order.id or 0, for_update=True)
            if current is None or current.status in SUBMITTED or current.status in FINAL:
                return
            current = current.transition(S.PLACED, reason=f"SUNSKY order {sunsky.number} ({how})",
                                         actor=ACTOR, now=now)
            current = replace(current, sunsky=_placement(sunsky), placed_at=now,
                              last_error=None, next_attempt_at=None)
            current = await uow.orders.save(current)
            placed = OrderPlaced(message_id=new_message_id(), order_id=current.id or 0,
                                 invoice_id=current.invoice_id, occurred_at=now,
                                 sunsky_order_number=sunsky.number,
                                 site_number=current.site_number or "",
                                 total_amount=sunsky.total_amount)
            await emit(uow, self._settings.topic(TOPIC_ORDER_PLACED), str(current.id), placed)
            await uow.commit()
        self._committed()
        logger.info("order %s placed: SUNSKY %s (%s) from %s", order.id, sunsky.number, how,
                    envelope.where())

    async def _failed(self, order: Order, error: OrderError, envelope: Envelope, *,
                      clear_intent: bool = False, quoted_total: Decimal | None = None) -> None:
        async with self._uow() as uow:
            current = await uow.orders.get(order.id or 0, for_update=True)
            if current is None or current.status not in (S.READY_TO_PLACE, S.PLACING):
                return
            current = current.fail(error, actor=ACTOR)
            # Scheduled here, in the failure's own transaction, so a lost order.api_failed
            # message cannot strand a retryable order; the retrier releases it when due.
            current = schedule_retry(current, self._retry_policy, self._clock(),
                                     self._rand()).order
            if clear_intent:
                current = replace(current, placing_started_at=None)
            if quoted_total is not None:
                current = replace(current, quoted_total=quoted_total)
            current = await uow.orders.save(current)
            await emit_failure(uow, self._settings, current, envelope)
            await uow.commit()
        self._committed()
        logger.warning("order %s API Failed [%s/%s] from %s: %s", order.id, error.code,
                       error.kind, envelope.where(), error.message)


def _ship_to(order: Order) -> tuple[str | None, ...]:
    """The shipping details a createOrder request is built from."""
    s = order.shipping
    return (s.recipient, s.phone, s.email, s.company, s.address_line1, s.address_line2,
            s.city, s.state, s.postcode, s.country_iso2)


def _placement(order: SunskyOrder) -> SunskyPlacement:
    return SunskyPlacement(number=order.number, status=order.status, amount=order.amount,
                           shipping_cost=order.shipping_cost, total=order.total_amount)


Handler = Callable[[Placer, Any, Envelope], Awaitable[None]]

HANDLERS: dict[str, Handler] = {
    "order.ready": Placer.on_order_ready,
}
