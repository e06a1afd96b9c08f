"""What the admin unit tests share: an AdminContext on the fakes, seeded orders and users."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from application.context import AdminContext
from shared.domain.order import Order, OrderStatus
from shared.settings import Settings
from tests.builders import error, paid_order
from tests.fakes import FakeOrderRepository, FakeStore, FakeSunsky, fake_uow_factory


class RecordingPublisher:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str | None, bytes]] = []

    async def publish(self, topic: str, key: str | None, value: bytes,
                      headers: Sequence[tuple[str, bytes]] = ()) -> None:
        self.sent.append((topic, key, value))

    async def publish_many(self, records: Sequence[tuple[str, str | None, bytes, Any]]) -> None:
        for topic, key, value, _ in records:
            self.sent.append((topic, key, value))


async def no_flush() -> int:
    return 0


def context(store: FakeStore, sunsky: FakeSunsky, clock: Any = None) -> AdminContext:
    ctx = AdminContext(Settings(heartbeat_seconds=10), fake_uow_factory(store), sunsky,
                       RecordingPublisher(), no_flush)
    if clock is not None:
        ctx.clock = clock
    return ctx


async def add_order(store: FakeStore, invoice_id: int, *, status: OrderStatus | None = None,
                    code: str | None = None, created_at: datetime | None = None,
                    **changes: Any) -> Order:
    order = paid_order(invoice_id)
    if created_at is not None:
        order = replace(order, created_at=created_at)
    if code is not None:
        order = order.fail(error(code, created_at or order.paid_at or datetime.now()),
                           actor="test")
    elif status is not None and status != order.status:
        order = replace(order, status=status)
    order = replace(order, **changes)
    # straight into the store: a unit of work copies the whole store, too slow for big seeds
    return await FakeOrderRepository(store).add(order)
