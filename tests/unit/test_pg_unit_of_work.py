"""PgUnitOfWork gives its connection back even when it is cancelled while it begins: a stop
that cancels the outbox relay in BEGIN otherwise leaves one connection out, and
``pool.close()`` waits for it until the worker's stop deadline (review 12, finding 5)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from shared.db.pg.uow import PgUnitOfWork


class _Transaction:
    async def start(self) -> None:
        raise asyncio.CancelledError


class _Connection:
    terminated = False

    def transaction(self) -> _Transaction:
        return _Transaction()

    def terminate(self) -> None:
        self.terminated = True


class _Pool:
    def __init__(self) -> None:
        self.connection, self.out = _Connection(), 0

    async def acquire(self) -> Any:
        self.out += 1
        return self.connection

    async def release(self, connection: Any) -> None:
        self.out -= 1


async def test_a_unit_of_work_cancelled_in_begin_releases_its_connection() -> None:
    pool = _Pool()
    with pytest.raises(asyncio.CancelledError):
        async with PgUnitOfWork(pool):  # type: ignore[arg-type]
            pass
    assert pool.out == 0 and pool.connection.terminated
