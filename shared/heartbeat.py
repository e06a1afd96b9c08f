"""Each worker process says it is alive: one row per (service, host:pid) in
``service_heartbeats``, refreshed every ``HEARTBEAT_SECONDS`` (the admin Health page reads it).

A beat that fails (PostgreSQL away) is logged and the next one tries again; the beats stop
with the process, so a stale row is what a dead or stuck process looks like.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable
from datetime import datetime

from shared.db.repository import UnitOfWork
from shared.messaging.emit import utcnow

logger = logging.getLogger(__name__)


def instance_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Heartbeats:
    def __init__(self, uow: Callable[[], UnitOfWork], service: str, *, interval: float,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self._uow, self._service, self._interval, self._clock = uow, service, interval, clock
        self.instance = instance_name()
        self._started_at = clock()

    async def beat(self) -> None:
        async with self._uow() as uow:
            await uow.health.beat(self._service, self.instance, self._started_at, self._clock())
            await uow.commit()

    async def run(self) -> None:
        """Beat every ``interval`` seconds until cancelled."""
        while True:
            try:
                await self.beat()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.warning("%s heartbeat not recorded: %r", self._service, exc)
            await asyncio.sleep(self._interval)
