"""``create_app``: the sandbox as an ``aiohttp.web.Application`` (composition root)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from aiohttp import web

from sandbox import controls, protocol
from sandbox.config import SandboxConfig
from sandbox.core import SANDBOX, Sandbox, auto_advance


def create_app(config: SandboxConfig | None = None) -> web.Application:
    app = web.Application(middlewares=[controls.control_errors])
    app[SANDBOX] = Sandbox.build(config or SandboxConfig())
    protocol.add_routes(app)
    controls.add_routes(app)
    app.cleanup_ctx.append(_background_work)
    return app


async def _background_work(app: web.Application) -> AsyncIterator[None]:
    """Callback delivery and the optional auto-advance loop live as long as the app."""
    sandbox = app[SANDBOX]
    await sandbox.callbacks.start()
    step = sandbox.config.auto_advance_seconds
    advancing = asyncio.create_task(auto_advance(sandbox, step)) if step is not None else None
    yield
    if advancing is not None:
        advancing.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await advancing
    await sandbox.callbacks.close()
