"""SUNSKY's callbacks (sunsky-open-api.md section 9): an HTTP endpoint and a verifying inbox.

SUNSKY POSTs ``{"event": "order/shipped"|"order/cancelled"|"order/tracking", "order": {...}}``
and re-sends every 5 minutes until it gets HTTP 200. Callbacks carry no signature, so nothing in
the body is trusted: the endpoint takes only the order number, answers 200 at once and queues
the number. Any JSON or form-encoded body with an order number in it (``order.number``, or a
top-level ``number``) gets its 200, whatever its event: an event we do not know yet (say a
future ``order/delivered``) is verified like the others, without a status filter. A body with
no order number gets 400 and a log line: SUNSKY re-sends only what we cannot use.

The inbox collects numbers for ``tracker_callback_batch_seconds`` from the first one (or until
``batch_max`` wait) and hands at most ``batch_max`` at a time to ``Reconciler.verify``, which
re-reads them from SUNSKY (``getOrderList`` pages for a batch). The window is long by default (3
h, never longer than the sweep interval) so callbacks that arrive one at a time share a list
page instead of costing one ``getOrderDetails`` each: Shipped then shows up to that late, and a
shop with enough shipments fills ``batch_max`` sooner (docs/BENCHMARKS.md, tracking). A number
already waiting is not queued twice. At most ``max_pending`` numbers (20 x ``batch_max``) wait:
beyond that the endpoint answers 503 and SUNSKY sends the callback again 5 minutes later, so
memory stays bounded while verification lags (SUNSKY slow or down).

Queued numbers live in memory. A stop verifies them first, with no window, for a few seconds
(``close``; ``services/tracker/app.py``); what a crash, or a stop that ran out of time, loses
after SUNSKY got its 200 the sweep finds instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import itertools
import json
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import parse_qsl

from aiohttp import web

from shared.settings import Settings

logger = logging.getLogger(__name__)

Verify = Callable[[Mapping[str, str]], Awaitable[Any]]
Offer = Literal["queued", "already queued", "full"]
MAX_BODY_BYTES = 1_000_000
MAX_FORM_FIELDS = 100
PENDING_BATCHES = 20  # max_pending = this many batches
RETRY_DELAYS = (1.0, 5.0, 30.0, 60.0)
_NUMBER = re.compile(r"[0-9A-Za-z_-]{1,64}")
_EVENT = re.compile(r"[0-9A-Za-z_./-]{1,64}")


@dataclass(frozen=True)
class Callback:
    """The part of a callback we read; the rest of the body is ignored (and not trusted)."""

    number: str
    event: str


def read_callback(raw: bytes) -> Callback | None:
    """The order number (and event) of a JSON or form-encoded body; None without a number."""
    fields = _json_fields(raw)
    if fields is None:
        fields = _form_fields(raw)
    order = fields.get("order")
    candidates = (order.get("number") if isinstance(order, dict) else None, fields.get("number"))
    number = next((n for n in map(_matching(_NUMBER), candidates) if n is not None), None)
    if number is None:
        return None
    return Callback(number, _matching(_EVENT)(fields.get("event")) or "unknown")


def _json_fields(raw: bytes) -> dict[str, Any] | None:
    """The JSON object in ``raw``; {} for other JSON; None when it is not JSON at all."""
    try:
        body = json.loads(raw)
    except ValueError:  # UnicodeDecodeError and JSONDecodeError included
        return None
    except RecursionError:  # nested deeper than Python's stack (anyone can post here)
        return {}
    return body if isinstance(body, dict) else {}


def _form_fields(raw: bytes) -> dict[str, Any]:
    try:
        return dict(parse_qsl(raw.decode("utf-8"), max_num_fields=MAX_FORM_FIELDS))
    except ValueError:  # not UTF-8, or too many fields
        return {}


def _matching(pattern: re.Pattern[str]) -> Callable[[Any], str | None]:
    """A reader of one field: its text when it matches ``pattern`` (numbers as text)."""

    def read(value: Any) -> str | None:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        return value if isinstance(value, str) and pattern.fullmatch(value) else None

    return read


class CallbackInbox:
    """SUNSKY order numbers waiting for verification, one entry per number, at most
    ``max_pending`` (default ``PENDING_BATCHES`` x ``batch_max``)."""

    def __init__(self, verify: Verify, *, batch_seconds: float, batch_max: int,
                 max_pending: int | None = None,
                 retry_delays: tuple[float, ...] = RETRY_DELAYS,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._verify, self._batch_seconds, self._batch_max = verify, batch_seconds, batch_max
        self._clock, self._opened_at = clock, clock()
        self._max_pending = max_pending or PENDING_BATCHES * batch_max
        self._retry_delays = retry_delays
        self._pending: dict[str, str] = {}
        # ready: something waits; due: a batch may go without waiting for more
        self._ready, self._due = asyncio.Event(), asyncio.Event()
        self._verifying = self._closing = False
        self.batches = 0

    def offer(self, number: str, event: str) -> Offer:
        """Queue ``number``; "already queued" updates its event, "full" queues nothing."""
        if number in self._pending:
            self._pending[number] = event
            return "already queued"
        if len(self._pending) >= self._max_pending:
            return "full"
        if not self._pending:
            self._opened_at = self._clock()
        self._pending[number] = event
        self._ready.set()
        if len(self._pending) >= self._batch_max:
            self._due.set()
        return "queued"

    @property
    def batch_seconds(self) -> float:
        return self._batch_seconds

    @property
    def pending(self) -> int:
        return len(self._pending)

    @property
    def idle(self) -> bool:
        """Nothing waiting and nothing being verified."""
        return not self._pending and not self._verifying

    def due_at(self) -> datetime | None:
        """When the waiting numbers' window closes (None: none wait); ``run`` keeps it on the
        event loop's clock, a caller with its own clock (bench/tracking.py) reads it here."""
        if not self._pending:
            return None
        if self._due.is_set():
            return self._opened_at
        return self._opened_at + timedelta(seconds=self._batch_seconds)

    def close(self) -> None:
        """Stopping: the window is over, ``run`` verifies what waits back to back and returns."""
        self._closing = True
        self._ready.set()
        self._due.set()

    async def run(self) -> None:
        """Verify batches until cancelled, or until closed and nothing waits."""
        while True:
            await self._ready.wait()
            if self._closing and not self._pending:
                return
            with contextlib.suppress(TimeoutError):  # not wait_for: 3.11's loses a cancel
                async with asyncio.timeout(self._batch_seconds):
                    await self._due.wait()
            await self.verify_batch()

    async def verify_batch(self) -> None:
        """Take the longest-waiting batch and verify it now."""
        batch = self._take()
        self._verifying = True
        try:
            await self._verify_until_done(batch)
        except asyncio.CancelledError:  # stopped mid-batch: still unverified, still counted
            self._pending = {**batch, **self._pending}
            self._ready.set()
            self._due.set()
            raise
        finally:
            self._verifying = False

    def _take(self) -> dict[str, str]:
        """The ``batch_max`` longest-waiting numbers; what is left waited already: due now."""
        batch = {n: self._pending.pop(n) for n in
                 list(itertools.islice(self._pending, self._batch_max))}
        if not self._pending and not self._closing:
            self._ready.clear()
            self._due.clear()
        else:  # what is left waited a whole window already (or: closing, none waits)
            self._due.set()
        return batch

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
        self._full_logged = False
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
        callback = read_callback(raw)
        if callback is None:
            logger.warning("SUNSKY callback from %s without an order number rejected (body %r)",
                           request.remote, raw[:200])
            return web.json_response({"error": "no order number (order.number or number)"},
                                     status=400)
        outcome = self._inbox.offer(callback.number, callback.event)
        if outcome == "full":
            self._log_full(callback)
            return web.json_response({"error": "busy: send the callback again later"},
                                     status=503)
        self._full_logged = False
        logger.info("SUNSKY callback %s for order %s: %s", callback.event, callback.number,
                    "queued for verification" if outcome == "queued" else outcome)
        return web.json_response({"status": "queued"})

    def _log_full(self, callback: Callback) -> None:
        """Once per episode, not once per refused callback (a flood would flood the log)."""
        if not self._full_logged:
            logger.warning("SUNSKY callback queue full (%d waiting): answering 503, SUNSKY "
                           "sends again later (first refused: %s %s)", self._inbox.pending,
                           callback.event, callback.number)
        self._full_logged = True
