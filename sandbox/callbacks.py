"""Callback delivery: POST ``{"event", "order"}`` to the registered URL until it answers 200.

Per sunsky-open-api.md section 9 [DOC]: events ``order/shipped``, ``order/cancelled``,
``order/tracking``; re-sent every 5 minutes until HTTP 200, no signature. Invented: a JSON body
(content type unstated), registration at run time (SUNSKY registers URLs through the sales
manager), the order snapshot taken when the event fires (re-sends repeat it), a 10 s per-attempt
timeout, and a configurable retry interval.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import aiohttp

logger = logging.getLogger(__name__)

ATTEMPT_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class Delivery:
    """One attempt; ``status_code`` is None when the connection failed."""

    event: str
    number: str
    status_code: int | None
    at: datetime
    error: str | None = None

    def wire(self) -> dict[str, object]:
        return {"event": self.event, "number": self.number, "status_code": self.status_code,
                "at": self.at.isoformat(), "error": self.error}


def _utcnow() -> datetime:
    return datetime.now(UTC)


class CallbackDispatcher:
    def __init__(self, retry_seconds: float, url: str | None = None,
                 clock: Callable[[], datetime] = _utcnow) -> None:
        self.default_retry_seconds = retry_seconds
        self.default_url = url
        self.url = url
        self.retry_seconds = retry_seconds
        self.deliveries: list[Delivery] = []
        self._clock = clock
        self._tasks: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        timeout = aiohttp.ClientTimeout(total=ATTEMPT_TIMEOUT_SECONDS)
        self._session = aiohttp.ClientSession(timeout=timeout)

    async def close(self) -> None:
        await self.cancel_pending()
        if self._session is not None:
            await self._session.close()
            self._session = None

    def register(self, url: str, retry_seconds: float | None = None) -> None:
        self.url = url
        self.retry_seconds = self.default_retry_seconds if retry_seconds is None else retry_seconds

    async def unregister(self) -> None:
        """Forget the URL and stop re-sending what is still pending."""
        self.url = None
        await self.cancel_pending()

    async def reset(self) -> None:
        await self.cancel_pending()
        self.deliveries.clear()
        self.url, self.retry_seconds = self.default_url, self.default_retry_seconds

    async def cancel_pending(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def fire(self, event: str, order: dict[str, object]) -> None:
        if self.url is None:
            logger.info("callback %s for order %s not sent: no URL registered",
                        event, order["number"])
            return
        task = asyncio.create_task(self._deliver(self.url, self.retry_seconds, event, order))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, url: str, retry_seconds: float, event: str,
                       order: dict[str, object]) -> None:
        body: dict[str, object] = {"event": event, "order": order}
        number = str(order["number"])
        while True:
            status, error = await self._post(url, body)
            self.deliveries.append(Delivery(event, number, status, self._clock(), error))
            if status == 200:
                logger.info("callback %s for order %s delivered to %s", event, number, url)
                return
            logger.info("callback %s for order %s got %s; re-sending in %ss",
                        event, number, status or error, retry_seconds)
            await asyncio.sleep(retry_seconds)

    async def _post(self, url: str, body: dict[str, object]) -> tuple[int | None, str | None]:
        assert self._session is not None, "CallbackDispatcher.start() was not awaited"
        try:
            async with self._session.post(url, json=body) as response:
                await response.read()
                return response.status, None
        except (aiohttp.ClientError, TimeoutError) as exc:
            return None, f"{type(exc).__name__}: {exc}"

