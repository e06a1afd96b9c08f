"""Issue 9 with fakes: the one-order guarantee where SUNSKY does not help. The fake SUNSKY runs
with de-duplication off (a reused siteNumber is a second order), so a late createOrder shows.

- a placer stalled between its intent and createOrder never sends late, and the order still ends
  up placed exactly once (not stuck);
- an order SUNSKY holds shipping elsewhere than ours is never adopted silently: API Failed with
  SUNSKY's address on record; a person accepts it, or cancels it at SUNSKY and retries (placed
  again under a fresh siteNumber, once).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from application.context import AdminContext
from application.orders import RetrySelection, accept_sunsky_address, edit_address, retry_orders
from schemas.orders import ORDER_MESSAGE, OrderPlaced, OrderReady
from services.placer.handlers import Placer
from shared.domain.order import OrderStatus
from shared.messaging.envelope import Envelope
from shared.settings import Settings
from shared.sunsky.errors import SunskyTransientError, SunskyUnknownOutcomeError
from tests.builders import Clock, seed_order
from tests.fakes import FakeStore, FakeSunsky, fake_uow_factory

S = OrderStatus
SETTINGS = Settings(placing_settle_seconds=30, placing_attempt_deadline_seconds=20)


@pytest.fixture(autouse=True)
def worst_case_sunsky(sunsky: FakeSunsky) -> None:
    sunsky.dedupe = False


def placer(store: FakeStore, sunsky: FakeSunsky, clock: Clock, **kw: object) -> Placer:
    options: dict[str, object] = {"clock": clock, "sleep": clock.sleep,
                                  "monotonic": clock.monotonic}
    options.update(kw)
    return Placer(SETTINGS, fake_uow_factory(store), sunsky, **options)  # type: ignore[arg-type]


def ready(order_id: int, offset: int = 0) -> Envelope:
    msg = OrderReady(message_id=f"m{offset}", order_id=order_id, invoice_id="42",
                     occurred_at=Clock().now)
    return Envelope("order.ready", 0, offset, str(order_id), msg.model_dump_json().encode())


def queued(store: FakeStore) -> list[OrderReady]:
    found = [ORDER_MESSAGE.validate_json(v) for v in store.messages("order.ready")]
    return [m for m in found if isinstance(m, OrderReady)]


def as_envelope(message: OrderReady, offset: int) -> Envelope:
    return Envelope("order.ready", 0, offset, str(message.order_id),
                    message.model_dump_json().encode())


async def test_a_placer_stalled_past_its_deadline_never_sends_and_the_order_is_placed_once(
        store: FakeStore, sunsky: FakeSunsky, clock: Clock) -> None:
    order_id = await seed_order(store)
    worker = placer(store, sunsky, clock)

    async def stall() -> None:  # a pause, a blocked loop, a long wait for a call slot
        clock.now += timedelta(seconds=25)  # past the 20 s deadline

    sunsky.before_create = stall
    await worker.handle(ready(order_id))
    assert store.orders[order_id].status == S.PLACING and sunsky.orders == {}  # never sent
    [again] = queued(store)
    assert again.reason == "attempt_expired"

    await worker.handle(as_envelope(again, 1))  # the order comes back: look it up, then place
    assert clock.slept == [5.0]  # until 30 s (settle) after the withheld attempt started
    order = store.orders[order_id]
    assert order.status == S.PLACED and len(sunsky.orders) == 1
    assert order.sunsky is not None and order.sunsky.number in sunsky.orders
    assert sunsky.calls.count("createOrder") == 2  # the withheld one never reached SUNSKY


async def test_a_stalled_placer_whose_order_another_placer_took_over_never_sends(
        store: FakeStore, sunsky: FakeSunsky, clock: Clock) -> None:
    """The other placer's clock says A's attempt has settled (clock skew between hosts, say)
    while A's own deadline has not passed: what stops A is PostgreSQL saying the order moved
    on, read right before the request would leave."""
    order_id = await seed_order(store)
    a = placer(store, sunsky, clock, monotonic=lambda: 0.0)  # A's deadline never passes
    b = placer(store, sunsky, clock)

    async def b_takes_over() -> None:
        clock.now += timedelta(seconds=31)
        await b.handle(ready(order_id, offset=1))  # the redelivered order.ready

    sunsky.before_create = b_takes_over
    await a.handle(ready(order_id))
    assert store.orders[order_id].status == S.PLACED
    assert len(sunsky.orders) == 1 and sunsky.calls.count("createOrder") == 2
    assert queued(store) == []  # A left the order to B's attempt
    [placed] = [m for m in map(ORDER_MESSAGE.validate_json, store.messages("order.placed"))
                if isinstance(m, OrderPlaced)]
    assert placed.sunsky_order_number in sunsky.orders


class _NoPublisher:
    async def publish(self, *args: object, **kwargs: object) -> None: ...
    async def publish_many(self, *args: object, **kwargs: object) -> None: ...


def admin(store: FakeStore, sunsky: FakeSunsky, clock: Clock) -> AdminContext:
    async def flush() -> int:
        return 0

    return AdminContext(SETTINGS, fake_uow_factory(store), sunsky, _NoPublisher(), flush,
                        clock=clock)


async def unknown_outcome_that_created(store: FakeStore, sunsky: FakeSunsky,
                                       clock: Clock) -> int:
    """createOrder took effect, its answer was lost, and the look-up right after failed: the
    order waits in API Failed (UNKNOWN_OUTCOME) while SUNSKY holds it at the first address."""
    order_id = await seed_order(store)
    sunsky.create_then_raise = SunskyUnknownOutcomeError("UNKNOWN_OUTCOME", ["read timeout"])
    sunsky.lookup_errors = [SunskyTransientError("SERVER_ERROR", ["HTTP 500"])]
    await placer(store, sunsky, clock).handle(ready(order_id))
    order = store.orders[order_id]
    assert order.status == S.API_FAILED and order.last_error is not None
    assert order.last_error.code == "UNKNOWN_OUTCOME" and len(sunsky.orders) == 1
    return order_id


async def edit_and_retry(store: FakeStore, sunsky: FakeSunsky, clock: Clock, order_id: int,
                         offset: int) -> None:
    ctx = admin(store, sunsky, clock)
    changed = await edit_address(ctx, order_id, {"address_line1": "99 New Rd"}, actor="admin")
    assert changed.outcome == "updated"
    [result] = await retry_orders(ctx, RetrySelection((order_id,)), actor="admin")
    assert result.outcome == "queued"
    clock.now += timedelta(minutes=1)
    await placer(store, sunsky, clock).handle(as_envelope(queued(store)[-1], offset))


async def test_an_edited_address_is_never_dropped_silently_and_sunskys_can_be_accepted(
        store: FakeStore, sunsky: FakeSunsky, clock: Clock) -> None:
    order_id = await unknown_outcome_that_created(store, sunsky, clock)
    await edit_and_retry(store, sunsky, clock, order_id, offset=1)
    order = store.orders[order_id]
    assert order.status == S.API_FAILED and order.last_error is not None
    assert order.last_error.code == "SUNSKY_ADDRESS_DIFFERS"
    assert "address differ" in order.last_error.message and order.next_attempt_at is None
    [held] = sunsky.orders.values()
    assert order.sunsky_address is not None and order.sunsky_address.number == held.number
    assert order.sunsky_address.ship_to is not None
    assert order.sunsky_address.ship_to.address == "12 Elm St"  # SUNSKY's, on record
    assert order.shipping.address_line1 == "99 New Rd" and order.sunsky is None

    # A retry without a decision finds the same order again: API Failed again, nothing placed.
    await edit_and_retry(store, sunsky, clock, order_id, offset=2)
    assert store.orders[order_id].last_error.code == "SUNSKY_ADDRESS_DIFFERS"  # type: ignore[union-attr]

    accepted = await accept_sunsky_address(admin(store, sunsky, clock), order_id, actor="admin")
    assert accepted.outcome == "placed", accepted.line
    order = store.orders[order_id]
    assert order.status == S.PLACED and order.sunsky is not None
    assert order.sunsky.number == held.number and order.shipping.address_line1 == "12 Elm St"
    assert order.sunsky_address is None and len(sunsky.orders) == 1
    assert sunsky.calls.count("createOrder") == 1
    again = await accept_sunsky_address(admin(store, sunsky, clock), order_id, actor="admin")
    assert again.outcome == "refused"


async def test_cancelled_at_sunsky_then_retried_it_is_placed_again_once_under_a_new_site_number(
        store: FakeStore, sunsky: FakeSunsky, clock: Clock) -> None:
    order_id = await unknown_outcome_that_created(store, sunsky, clock)
    await edit_and_retry(store, sunsky, clock, order_id, offset=1)
    [old] = sunsky.orders.values()
    sunsky.advance(old.number, 4, reason="cancelled by the shop")  # a person cancels it there
    refused = await accept_sunsky_address(admin(store, sunsky, clock), order_id, actor="admin")
    assert refused.outcome == "refused" and "SUNSKY cancelled order" in refused.message

    [result] = await retry_orders(admin(store, sunsky, clock), RetrySelection((order_id,)),
                                  actor="admin")
    assert result.outcome == "queued"
    clock.now += timedelta(minutes=1)
    await placer(store, sunsky, clock).handle(as_envelope(queued(store)[-1], 3))
    order = store.orders[order_id]
    assert order.status == S.PLACED and order.sunsky is not None
    assert order.site_number == f"{old.site_number}-A2"
    new = sunsky.orders[order.sunsky.number]
    assert new.site_number == order.site_number and new.number != old.number
    assert new.delivery_address is not None and new.delivery_address.address == "99 New Rd"
    live = [o for o in sunsky.orders.values() if o.status != 4]
    assert live == [new]  # one live SUNSKY order for the invoice, shipping to ours
    assert replace(order, history=()).sunsky_address is None
