"""The outbox relay against real PostgreSQL: every row published once, in id order, even
with several relays (one per service process) flushing at the same moment."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from shared.db.migrate import migrate
from shared.db.pg import PgUnitOfWork
from shared.db.pool import create_pool
from shared.messaging.outbox import OutboxRelay
from tests.fixtures.stack import drop_schema

pytestmark = [pytest.mark.integration]


class RecordingPublisher:
    """A fake broker whose first acknowledgement is slow, so relays would overtake it."""

    calls = 0

    def __init__(self, published: list[str]) -> None:
        self.published = published

    async def publish(self, topic: str, key: str | None, value: bytes,
                      headers: Sequence[tuple[str, bytes]] = ()) -> None:
        await self.publish_many([(topic, key, value, headers)])

    async def publish_many(self, records: Sequence[tuple[str, str | None, bytes, object]]) -> None:
        RecordingPublisher.calls += 1
        await asyncio.sleep(0.05 if RecordingPublisher.calls == 1 else 0)
        self.published += [value.decode() for _, _, value, _ in records]


async def test_concurrent_relays_publish_each_row_once_in_order(stack_settings) -> None:
    schema = f"{stack_settings.database_schema}_outbox"
    pool = await create_pool(stack_settings.database_url, schema)
    try:
        await migrate(pool, schema)
        async with PgUnitOfWork(pool) as uow:
            for n in range(120):
                await uow.outbox.add("t", "same-key", f"{n:04d}".encode(),
                                            [("message_id", str(n).encode())])
            await uow.commit()
        published: list[str] = []
        relays = [OutboxRelay(lambda: PgUnitOfWork(pool), RecordingPublisher(published), batch=25)
                  for _ in range(3)]
        sent = await asyncio.gather(*(relay.flush() for relay in relays))
        assert sum(sent) == 120
        assert published == [f"{n:04d}" for n in range(120)]
        pending = await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
        assert pending == 0
    finally:
        await pool.close()
        await drop_schema(stack_settings.database_url, schema)
