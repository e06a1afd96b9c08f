"""Shared test builders: a controllable clock and orders seeded through the real intake rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from devtools.perfex_events import encode, invoice_event
from schemas.perfex import INVOICE_EVENT
from shared.domain.intake import Save, decide_invoice_event
from shared.domain.order import Order, OrderError
from shared.failure_codes import catalogue
from tests.fakes import FakeStore, FakeUnitOfWork

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


class Clock:
    """``clock()`` is now; ``await clock.sleep(s)`` records the wait and moves time on."""

    def __init__(self) -> None:
        self.now = NOW
        self.slept: list[float] = []

    def __call__(self) -> datetime:
        return self.now

    def monotonic(self) -> float:
        """Seconds since NOW: the monotonic clock that moves with ``now``."""
        return (self.now - NOW).total_seconds()

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += timedelta(seconds=seconds)


def paid_order(invoice_id: int = 42, **event_kw: Any) -> Order:
    """The order a paid Perfex invoice becomes (not stored)."""
    raw = encode(invoice_event("invoice.paid", invoice_id, **event_kw))
    decision = decide_invoice_event(None, INVOICE_EVENT.validate_json(raw), auto_place=True,
                                    now=NOW)
    assert isinstance(decision, Save)
    return decision.order


async def seed_order(store: FakeStore, invoice_id: int = 42, **event_kw: Any) -> int:
    """A Ready to Place order stored in ``store``; returns its id."""
    async with FakeUnitOfWork(store) as uow:
        order = await uow.orders.add(paid_order(invoice_id, **event_kw))
        await uow.commit()
    assert order.id is not None
    return order.id


def error(code: str, at: datetime) -> OrderError:
    """An order's last error as the catalogue describes ``code``."""
    info = {c.code: c for c in catalogue()}[code]
    return OrderError(code, info.kind, f"{code} (test)", info.fix_hint, at)
