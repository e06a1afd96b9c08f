"""``create_app(settings)``: the admin API and console as one FastAPI application.

Routers per area (orders, settings, billing, failures, health, auth), each an API router under
``/api/v1/`` (in the OpenAPI document at ``/api/v1/openapi.json``) and a page router (not in
it). Errors answer JSON under ``/api/`` and an HTML page elsewhere, with the same message.
"""

from __future__ import annotations

import functools
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from application.context import AdminContext
from services.admin import (
    auth_routes,
    billing_routes,
    errors,
    failures_routes,
    health_routes,
    orders_api,
    orders_pages,
    settings_routes,
)
from services.admin.jobs import Jobs
from services.admin.pages import HERE, error_page, login_redirect
from services.admin.runtime import AdminRuntime
from services.admin.security import LoginRequired
from services.admin.throttle import LoginThrottle
from shared.messaging.counts import topic_sizes
from shared.observability.server import OpsServer
from shared.settings import Settings

API_DESCRIPTION = """The sunsky-dropship admin API: the Orders list, order details and
commands, settings, billing, failures and replays, health.

Authenticate with `Authorization: Bearer <token>` (`dropship admin tokens create NAME`).
Viewers read; operators also run commands. Commands accept an `Idempotency-Key` header.
Every error answers `{"error": {"code", "message", "fields"}}`."""


def create_app(settings: Settings, *, context: AdminContext | None = None) -> FastAPI:
    runtime = AdminRuntime(settings, context=context)
    jobs = Jobs()
    ops = OpsServer("admin", settings.metrics_host, settings.metrics_port,
                    checks={"database": runtime.database_check})

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.metrics_port:  # /metrics, /livez, /readyz apart from the console's port
            await ops.start()
        yield
        await ops.stop()
        await jobs.stop()
        await runtime.stop()

    app = FastAPI(title="sunsky-dropship admin", version="1", description=API_DESCRIPTION,
                  # no Swagger/ReDoc pages: they load scripts from a CDN (CSP: scripts from here)
                  openapi_url="/api/v1/openapi.json", docs_url=None, redoc_url=None,
                  lifespan=lifespan)
    app.state.runtime, app.state.jobs = runtime, jobs
    app.state.login_throttle = LoginThrottle()
    app.state.topic_sizes = functools.partial(topic_sizes, settings)
    for area in (orders_api, settings_routes, billing_routes, failures_routes, health_routes,
                 auth_routes):
        if hasattr(area, "api"):
            app.include_router(area.api)
    for area in (auth_routes, orders_pages, settings_routes, billing_routes, failures_routes,
                 health_routes):
        app.include_router(area.pages)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    for kind, handler in errors.handlers().items():
        app.add_exception_handler(kind, _either(handler))
    app.add_exception_handler(LoginRequired, _on_login_required)
    app.add_middleware(errors.BodyLimit, limit=settings.admin_max_body_bytes)
    app.add_middleware(_SecurityHeaders)
    return app


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _either(handler: Callable[[Request, Any], Awaitable[Response]]
            ) -> Callable[[Request, Any], Awaitable[Response]]:
    """The JSON answer for the API; the same message as a page for the console."""
    async def handle(request: Request, exc: Any) -> Response:
        response = await handler(request, exc)
        if _is_api(request):
            return response
        message = json.loads(bytes(response.body))["error"]["message"]
        return error_page(request, response.status_code, message)
    return handle


async def _on_login_required(request: Request, exc: Exception) -> Response:
    return login_redirect(request)


class _SecurityHeaders:
    """No framing, no MIME sniffing, no referrer leaks, scripts only from this site."""

    HEADERS = ((b"x-frame-options", b"DENY"), (b"x-content-type-options", b"nosniff"),
               (b"referrer-policy", b"same-origin"),
               (b"content-security-policy",
                b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
                b" frame-ancestors 'none'; form-action 'self'"))

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *self.HEADERS]
            await send(message)

        await self.app(scope, receive, with_headers)
