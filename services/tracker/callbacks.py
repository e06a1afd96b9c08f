"""SUNSKY's callbacks (sunsky-open-api.md section 9): an HTTP endpoint and a verifying inbox.

SUNSKY POSTs ``{"event": "order/shipped"|"order/cancelled"|"order/tracking", "order": {...}}``
and re-sends every 5 minutes until it gets HTTP 200. Callbacks carry no signature, so nothing in
the body is trusted: the endpoint takes only the order number, answers 200 at once and queues
the number. The inbox collects numbers for ``tracker_callback_batch_seconds`` and hands them to
``Reconciler.verify``, which re-reads them from SUNSKY (one ``getOrderList`` page for a batch).
A number already waiting is not queued twice; a malformed body gets 400 and a log line.

Queued numbers live in memory: a crash loses them after SUNSKY got its 200, and the sweep
finds those orders instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.settings import Settings

logger = logging.getLogger(__name__)

Verify = Callable[[Mapping[str, str]], Awaitable[Any]]
MAX_BODY_BYTES = 1_000_000
RETRY_DELAYS = (1.0, 5.0, 30.0, 60.0)


class _CallbackOrder(BaseModel):
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)
    number: str = Field(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z_-]+$")


class CallbackBody(BaseModel):
    """The part of a callback we read; the rest of ``order`` is ignored (and not trusted)."""

    model_config = ConfigDict(extra="ignore")
    event: Literal["order/shipped", "order/cancelled", "order/tracking"]
    order: _CallbackOrder


class CallbackInbox:
    """SUNSKY order numbers waiting for verification, one entry per number."""

    def __init__(self, verify: Verify, *, batch_seconds: float, batch_max: int,
                 retry_delays: tuple[float, ...] = RETRY_DELAYS) -> None:
        self._verify, self._batch_seconds, self._batch_max = verify, batch_seconds, batch_max
        self._retry_delays = retry_delays
        self._pending: dict[str, str] = {}
        self._ready, self._full = asyncio.Event(), asyncio.Event()
        self._verifying = False
        self.batches = 0

    def offer(self, number: str, event: str) -> bool:
        """Queue ``number``; False when it is already waiting (the event is updated)."""
        fresh = number not in self._pending
        self._pending[number] = event
        self._ready.set()
        if len(self._pending) >= self._batch_max:
            self._full.set()
        return fresh

    @property
    def pending(self) -> int:
        return len(self._pending)

    @property
    def idle(self) -> bool:
        """Nothing waiting and nothing being verified."""
        return not self._pending and not self._verifying

    async def run(self) -> None:
        """Verify batches until cancelled."""
        while True:
            await self._ready.wait()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._full.wait(), self._batch_seconds)
            batch, self._pending = self._pending, {}
            self._ready.clear()
            self._full.clear()
            self._verifying = True
            try:
                await self._verify_until_done(batch)
            finally:
                self._verifying = False

    async def _verify_until_done(self, batch: dict[str, str]) -> None:
        """SUNSKY already has its 200: keep trying (the sweep is the last resort)."""
        for attempt, delay in enumerate((*self._retry_delays, None), 1):
            try:
                await self._verify(batch)
                self.batches += 1
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if delay is None:
                    logger.error("callbacks for %s dropped after %d attempts (%r); the sweep "
                                 "will catch up", ", ".join(list(batch)[:20]), attempt, exc)
                    return
                logger.warning("verifying %d callbacks failed (%r); retry in %.0fs",
                               len(batch), exc, delay)
                await asyncio.sleep(delay)


class CallbackServer:
    """The aiohttp endpoint, started and stopped with the tracker's resources."""

    def __init__(self, settings: Settings, inbox: CallbackInbox) -> None:
        self._settings, self._inbox = settings, inbox
        self._runner: web.AppRunner | None = None
        self.url: str | None = None

    async def start(self) -> None:
        host, port = self._settings.tracker_callback_host, self._settings.tracker_callback_port
        if port == 0:
            logger.info("SUNSKY callback endpoint off (TRACKER_CALLBACK_PORT=0): sweep only")
            return
        app = web.Application(client_max_size=MAX_BODY_BYTES)
        app.router.add_post(self._settings.tracker_callback_path, self.receive)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        try:
            await web.TCPSite(self._runner, host, port).start()
        except OSError as exc:
            await self.stop()
            if exc.errno != errno.EADDRINUSE:
                raise
            # Another tracker on this host serves the port; this process still sweeps.
            logger.warning("SUNSKY callback port %s:%s is in use: this tracker serves no "
                           "callbacks", host, port)
            return
        self.url = f"http://{host}:{port}{self._settings.tracker_callback_path}"
        logger.info("SUNSKY callbacks accepted at %s", self.url)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def receive(self, request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            body = CallbackBody.model_validate_json(raw)
        except ValidationError as exc:
            problem = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}"
                                for e in exc.errors()[:3])
            logger.warning("malformed SUNSKY callback from %s rejected: %s (body %r)",
                           request.remote, problem, raw[:200])
            return web.json_response({"error": problem}, status=400)
        queued = self._inbox.offer(body.order.number, body.event)
        logger.info("SUNSKY callback %s for order %s: %s", body.event, body.order.number,
                    "queued for verification" if queued else "already queued")
        return web.json_response({"status": "queued"})
