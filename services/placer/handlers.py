"""The placer: one ``order.ready`` -> at most one SUNSKY order, whatever is redelivered.

Each step reads as load -> decide -> call -> decide -> save: the rules (when to look an order up,
what a look-up or a createOrder answer means, what the intent and the outcome change on the
order, whether an attempt may still send) are the pure functions of ``shared.domain.placement``,
whose docstring states the one-order guarantee. This module only loads, calls SUNSKY, and saves.

Every attempt has one hard deadline (``PLACING_ATTEMPT_DEADLINE_SECONDS``, on the monotonic
clock from just before its intent is committed): createOrder leaves before it or never, and
right before it leaves the order must still be at this attempt in PostgreSQL. A withheld send
goes back to the placer as Placing, so the look-up after the settle time decides.

Business failures end in API Failed with a coded reason and an ``order.api_failed`` message.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from schemas.orders import OrderReady
from services.placer.lookup import SiteNumberLookup, sunsky_error
from services.placer.quote import Prepared, Quoter
from shared.db.repository import UnitOfWork
from shared.domain import placement, quoting
from shared.domain.errors import order_error
from shared.domain.order import Order, OrderError
from shared.domain.placement import (
    Adopt,
    Created,
    Fail,
    Ignore,
    LookUp,
    Quote,
    Requeue,
    Requote,
    Withheld,
)
from shared.lifecycle.placed import placement_of, save_placed
from shared.lifecycle.requeue import requeue, retry_policy
from shared.messaging.emit import utcnow
from shared.messaging.envelope import Envelope
from shared.messaging.failures import emit_failure
from shared.messaging.policy import MessageRejected, decode_order_message, retried_in_place
from shared.settings import Settings
from shared.sunsky.deadline import Deadline
from shared.sunsky.errors import SunskyError
from shared.sunsky.port import Sunsky

logger = logging.getLogger(__name__)

ACTOR = "placer"


def decode(envelope: Envelope) -> OrderReady:
    return decode_order_message(envelope, OrderReady)


class Placer:
    def __init__(self, settings: Settings, uow: Callable[[], UnitOfWork], sunsky: Sunsky, *,
                 committed: Callable[[], None] = lambda: None,
                 clock: Callable[[], datetime] = utcnow,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 rand: Callable[[], float] = random.random,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._settings, self._uow, self._committed = settings, uow, committed
        self._sunsky, self._clock, self._sleep, self._rand = sunsky, clock, sleep, rand
        self._monotonic = monotonic
        self._retry_policy = retry_policy(settings)
        self.quoter = Quoter(settings, uow, sunsky, clock=clock, monotonic=monotonic)
        self.lookup = SiteNumberLookup(settings, sunsky, self.quoter.countries, clock=clock)

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
                await self._failed(order, Fail(error), envelope)
        except Exception:
            logger.exception("order %s: could not record the handler error", order_id)

    async def on_order_ready(self, message: OrderReady, envelope: Envelope) -> None:
        order = await self._load(message.order_id)
        if order is None:
            raise MessageRejected("unknown_order", f"order {message.order_id} does not exist")
        first = placement.on_ready(order, self._clock(), self._settings.placing_settle_seconds)
        step: Ignore | Quote | Adopt | Fail
        if isinstance(first, LookUp):  # an earlier attempt may have reached SUNSKY
            await self._wait_until(order, first.not_before)
            step = placement.after_lookup(order, await self.lookup.find(order), self._clock())
        else:
            step = first
        if isinstance(step, Ignore):
            logger.info("order %s is %s: %s ignored", order.id, step.reason, envelope.where())
        elif isinstance(step, Quote):
            await self._place(self._renamed(order, step), envelope)
        else:
            await self._settle(order, step, envelope)

    def _renamed(self, order: Order, quote: Quote) -> Order:
        if quote.site_number is None:
            return order
        logger.warning("order %s: SUNSKY cancelled the order it held under siteNumber %s; "
                       "placing it again as %s", order.id, order.site_number, quote.site_number)
        return replace(order, site_number=quote.site_number)

    async def _load(self, order_id: int) -> Order | None:
        async with self._uow() as uow:
            return await uow.orders.get(order_id)

    async def _wait_until(self, order: Order, moment: datetime) -> None:
        wait = (moment - self._clock()).total_seconds()
        if wait > 0:
            logger.info("order %s: waiting %.1fs for an earlier attempt to settle", order.id, wait)
            await self._sleep(wait)

    # --- the normal path ------------------------------------------------------------------
    async def _place(self, order: Order, envelope: Envelope) -> None:
        try:
            prepared = await self.quoter.prepare(order)
        except SunskyError as exc:
            prepared = Fail(sunsky_error(exc, self._clock()))
        if isinstance(prepared, Fail):
            await self._failed(order, prepared, envelope)
            return
        intent = await self._record_intent(order, prepared)
        if intent is not None:
            await self._send(*intent, prepared, envelope)

    async def _record_intent(self, order: Order,
                             prepared: Prepared) -> tuple[Order, Deadline] | None:
        """Placing + a new attempt, committed before createOrder, and the attempt's deadline;
        None when it is not ours to send (``order``: as this worker saw it before its look-up
        and quote)."""
        now = self._clock()
        deadline = Deadline.within(self._settings.placing_attempt_deadline_seconds,
                                   clock=self._monotonic)
        async with self._uow() as uow:
            current = await uow.orders.get(order.id or 0, for_update=True)
            step = placement.start_attempt(current, order, prepared.quoted, now, actor=ACTOR)
            if isinstance(step, Ignore):
                logger.warning("order %s: %s; not sending createOrder", order.id, step.reason)
                return None
            if isinstance(step, Requeue):  # an admin corrected the address: quote it again
                assert current is not None
                await requeue(uow, self._settings, current, actor=ACTOR, reason="address_changed",
                              note=step.note, now=now)
                await uow.commit()
                self._committed()
                return None
            saved = await uow.orders.save(step.order)
            await uow.commit()
        return saved, deadline

    async def _send(self, order: Order, deadline: Deadline, prepared: Prepared,
                    envelope: Envelope) -> None:
        answer = await self._create(order, deadline, prepared)
        step = placement.after_create(answer, prepared.quoted)
        if isinstance(step, Withheld):
            await self._withheld(order, step, envelope)
            return
        if isinstance(step, LookUp):  # SUNSKY may hold it now: look it up, never re-send
            assert isinstance(answer, OrderError)
            await self._settle(order, await self._after_ambiguous(order, answer), envelope)
            return
        if isinstance(step, Requote):
            await self._requote(order, step, prepared, envelope)
            return
        self._follow_balance(step, prepared)
        if quoting.cached_quote_outdated(prepared.quoted, step):
            await self.quoter.quotes.forget(prepared.quote_key)
        await self._settle(order, step, envelope)

    async def _requote(self, intent: Order, step: Requote, stale: Prepared,
                       envelope: Envelope) -> None:
        """SUNSKY refused what a cached quote chose and created nothing: quote afresh and
        place once more, as a new attempt with its own intent (a fresh quote never re-quotes)."""
        logger.warning("order %s: createOrder refused a cached quote (%s); quoting afresh",
                       intent.id, step.error.code)
        await self.quoter.quotes.forget(stale.quote_key)
        self.quoter.balance.forget()
        try:
            prepared = await self.quoter.prepare(intent, fresh=True)
        except SunskyError as exc:
            prepared = Fail(sunsky_error(exc, self._clock()))
        if isinstance(prepared, Fail):
            await self._failed(intent, quoting.after_requote(prepared), envelope)
            return
        attempt = await self._record_intent(intent, prepared)
        if attempt is not None:
            await self._send(*attempt, prepared, envelope)

    async def _after_ambiguous(self, order: Order, answer: OrderError) -> Adopt | Fail:
        logger.warning("order %s: createOrder %s; looking it up by siteNumber %s", order.id,
                       answer.code, order.site_number)
        self.quoter.balance.forget()
        found = await self.lookup.find(order)
        return placement.after_ambiguous_lookup(answer, found, self._clock())

    def _follow_balance(self, step: Adopt | Fail, prepared: Prepared) -> None:
        """The cached balance follows SUNSKY's debit; a refusal for money drops it (it was
        stale, or another process spent it)."""
        if isinstance(step, Adopt):
            self.quoter.balance.debit(step.sunsky.total or prepared.total)
        elif step.error.code == "BALANCE_NOT_ENOUGH":
            self.quoter.balance.forget()

    async def _create(self, intent: Order, deadline: Deadline,
                      prepared: Prepared) -> Created | OrderError:
        async def still_current() -> str | None:  # awaited right before createOrder leaves
            async with self._uow() as uow:
                current = await uow.orders.get(intent.id or 0)
            return placement.may_send(current, intent, deadline.remaining())

        try:
            created = await self._sunsky.create_order(prepared.request, deadline=deadline,
                                                      confirm=still_current)
        except SunskyError as exc:
            return sunsky_error(exc, self._clock())
        return Created(placement_of(created))

    async def _withheld(self, intent: Order, withheld: Withheld, envelope: Envelope) -> None:
        """createOrder never left: still our attempt, back to the placer (Placing, so its
        look-up after the settle time decides); otherwise another attempt owns the order."""
        async with self._uow() as uow:
            current = await uow.orders.get(intent.id or 0, for_update=True)
            step = placement.after_withheld(current, intent)
            if isinstance(step, Requeue):
                assert current is not None
                await requeue(uow, self._settings, current, actor=ACTOR, reason="attempt_expired",
                              note=step.note, now=self._clock())
                await uow.commit()
                self._committed()
        then = step.note if isinstance(step, Requeue) else step.reason
        logger.warning("order %s: createOrder withheld, never sent (%s); %s; from %s", intent.id,
                       withheld.reason, then, envelope.where())

    # --- outcomes -------------------------------------------------------------------------
    async def _settle(self, order: Order, outcome: Adopt | Fail, envelope: Envelope) -> None:
        if isinstance(outcome, Adopt):
            await self._placed(order, outcome, envelope)
        else:
            await self._failed(order, outcome, envelope)

    async def _placed(self, order: Order, adopt: Adopt, envelope: Envelope) -> None:
        now = self._clock()
        async with self._uow() as uow:
            current = await uow.orders.get(order.id or 0, for_update=True)
            placed = placement.mark_placed(current, adopt, now, actor=ACTOR)
            if placed is None:
                return
            await save_placed(uow, self._settings, placed, now)
            await uow.commit()
        self._committed()
        logger.info("order %s placed: SUNSKY %s (%s) from %s", order.id, adopt.sunsky.number,
                    adopt.how, envelope.where())

    async def _failed(self, order: Order, fail: Fail, envelope: Envelope) -> None:
        async with self._uow() as uow:
            current = await uow.orders.get(order.id or 0, for_update=True)
            failed = placement.mark_failed(current, fail, self._retry_policy, self._clock(),
                                           self._rand(), actor=ACTOR)
            if failed is None:
                return
            failed = await uow.orders.save(failed)
            await emit_failure(uow, self._settings, failed, envelope)
            await uow.commit()
        self._committed()
        error = fail.error
        logger.warning("order %s API Failed [%s/%s] from %s: %s", order.id, error.code,
                       error.kind, envelope.where(), error.message)


Handler = Callable[[Placer, Any, Envelope], Awaitable[None]]

HANDLERS: dict[str, Handler] = {
    "order.ready": Placer.on_order_ready,
}
