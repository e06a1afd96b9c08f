"""Running the sandbox: ``running_sandbox`` for tests and ``serve`` for ``dropship sandbox``."""

from __future__ import annotations

import asyncio
import errno
import logging
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from aiohttp import web

from sandbox.app import create_app
from sandbox.config import SandboxConfig
from sandbox.core import SANDBOX
from sandbox.state import SandboxState

logger = logging.getLogger(__name__)

# Held requests (timeout and dropped-response faults) must not stall a shutdown.
SHUTDOWN_TIMEOUT_SECONDS = 0.5


class PortInUseError(OSError):
    """The requested port is already taken."""


@dataclass(frozen=True)
class RunningSandbox:
    base_url: str  # "http://127.0.0.1:54321", no trailing slash
    config: SandboxConfig
    state: SandboxState
    app: web.Application


@asynccontextmanager
async def running_sandbox(config: SandboxConfig | None = None, host: str = "127.0.0.1",
                          port: int = 0) -> AsyncIterator[RunningSandbox]:
    """Serve a fresh sandbox on ``host:port`` (0 = a free port) for the ``async with`` block."""
    app = create_app(config)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT_SECONDS)
    await runner.setup()
    try:
        bound_port = await _start_site(runner, host, port)
        sandbox = app[SANDBOX]
        yield RunningSandbox(f"http://{_url_host(host)}:{bound_port}", sandbox.config,
                             sandbox.state, app)
    finally:
        await runner.cleanup()


async def _start_site(runner: web.AppRunner, host: str, port: int) -> int:
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise PortInUseError(exc.errno, f"port {port} on {host} is already in use") from exc
        raise
    address = runner.addresses[0]
    return int(address[1])


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def serve(config: SandboxConfig | None = None, host: str = "127.0.0.1", port: int = 8765) -> None:
    """Run until SIGINT/SIGTERM. Raises ``PortInUseError`` when the port is taken."""
    asyncio.run(_serve(config or SandboxConfig(), host, port))


async def _serve(config: SandboxConfig, host: str, port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with running_sandbox(config, host, port) as sandbox:
        print(f"SUNSKY sandbox listening on {sandbox.base_url} (key={config.api_key})", flush=True)
        await stop.wait()
        logger.info("sandbox stopping")
