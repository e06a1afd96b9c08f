"""The operations listener every service runs on ``METRICS_PORT`` (0: none), apart from its
own traffic: ``GET /metrics`` (Prometheus text format), ``GET /livez`` and ``GET /readyz``.

- ``/livez``: the process runs its event loop. A heartbeat task ticks every
  ``TICK_SECONDS``; the answer is 503 when the last tick is older than ``LIVE_SECONDS`` (a loop
  blocked by a synchronous call, a wedged worker) or when the service says its loop ended.
  No dependency is checked here: PostgreSQL being away must not get a process restarted.
- ``/readyz``: every readiness check the service gave passes (PostgreSQL answers ``SELECT 1``
  within ``CHECK_SECONDS``; a worker's consumer has its partitions and is not mid-rebalance).
  503 with the failing checks otherwise. The body is ``application/health+json``-shaped.
- ``/metrics``: refreshes the service's scrape-time gauges first (bounded, cached), then
  prometheus_client's default registry.

The listener is plain aiohttp on the service's own event loop: a loop that cannot answer here
cannot answer its real work either, which is what a liveness probe should see.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web
from prometheus_client import REGISTRY, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from shared.observability import metrics

logger = logging.getLogger(__name__)

TICK_SECONDS = 1.0
LIVE_SECONDS = 10.0
CHECK_SECONDS = 2.0

Check = Callable[[], Awaitable[str]]  # "pass" or "fail: why"
Refresh = Callable[[], Awaitable[None]]


class OpsServer:
    def __init__(self, service: str, host: str, port: int, *,
                 checks: Mapping[str, Check] | None = None, refresh: Refresh | None = None,
                 alive: Callable[[], bool] = lambda: True) -> None:
        self.service, self.host, self.port = service, host, port
        self._checks = dict(checks or {})
        self.refresh, self._alive = refresh, alive
        self._runner: web.AppRunner | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._last_tick = time.monotonic()
        self.url = ""

    def add_check(self, name: str, check: Check) -> None:
        self._checks[name] = check

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/livez", self._livez)
        app.router.add_get("/readyz", self._readyz)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        bound = self._runner.addresses[0][1]
        self.url = f"http://{self.host}:{bound}"
        self._ticker = asyncio.create_task(self._tick(), name=f"{self.service}-loop-heartbeat")
        # dropship dev, the tests and operators read this line
        logger.info("%s metrics and health on %s/metrics", self.service, self.url)

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _tick(self) -> None:
        while True:
            expected = time.monotonic() + TICK_SECONDS
            await asyncio.sleep(TICK_SECONDS)
            self._last_tick = now = time.monotonic()
            metrics.LOOP_LAG.set(max(0.0, now - expected))

    def live(self) -> tuple[bool, str]:
        age = time.monotonic() - self._last_tick
        if age > LIVE_SECONDS:
            return False, f"event loop heartbeat {age:.0f}s old"
        if not self._alive():
            return False, "the service's loop has ended"
        return True, "pass"

    async def ready(self) -> dict[str, str]:
        names = list(self._checks)
        results = await asyncio.gather(*(_bounded(self._checks[n]) for n in names))
        return dict(zip(names, results, strict=True))

    async def _metrics(self, request: web.Request) -> web.Response:
        if self.refresh is not None:
            await self.refresh()
        metrics.READY.set(all(r == "pass" for r in (await self.ready()).values()))
        body = generate_latest(REGISTRY)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_PLAIN_0_0_4})

    async def _livez(self, request: web.Request) -> web.Response:
        ok, detail = self.live()
        return _health(ok, {"loop": detail})

    async def _readyz(self, request: web.Request) -> web.Response:
        checks = await self.ready()
        ok = all(result == "pass" for result in checks.values())
        metrics.READY.set(ok)
        return _health(ok, checks)


def _health(ok: bool, checks: Mapping[str, str]) -> web.Response:
    return web.json_response({"status": "pass" if ok else "fail", "checks": dict(checks)},
                             status=200 if ok else 503, content_type="application/health+json")


async def _bounded(check: Check) -> str:
    try:
        async with asyncio.timeout(CHECK_SECONDS):
            return await check()
    except TimeoutError:
        return f"fail: no answer within {CHECK_SECONDS:g}s"
    except Exception as exc:
        return f"fail: {type(exc).__name__}"


def pool_check(pool: Callable[[], object | None]) -> Check:
    """PostgreSQL answers ``SELECT 1`` on the service's pool (fails while it has none)."""
    async def check() -> str:
        current = pool()
        if current is None:
            return "fail: no database pool yet"
        await current.fetchval("SELECT 1")  # type: ignore[attr-defined]
        return "pass"
    return check
