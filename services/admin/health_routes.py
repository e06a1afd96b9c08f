"""Health: each worker's last heartbeat, the outbox backlog, dead-letter counts; and
``/healthz``, the admin process's own liveness (no login, no database)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from application.health import health
from services.admin import convert
from services.admin import models as m
from services.admin.errors import ERROR_RESPONSES
from services.admin.pages import render
from services.admin.security import ApiUser, Context, PageUser

api = APIRouter(prefix="/api/v1", tags=["health"])
pages = APIRouter(include_in_schema=False)


@api.get("/health", response_model=m.HealthOut, responses=ERROR_RESPONSES)
async def get_health(request: Request, caller: ApiUser, ctx: Context) -> m.HealthOut:
    return convert.health(await health(ctx, request.app.state.topic_sizes))


@pages.get("/healthz")
async def alive() -> dict[str, bool]:
    return {"ok": True}


@pages.get("/health")
async def health_page(request: Request, caller: PageUser, ctx: Context) -> HTMLResponse:
    view = convert.health(await health(ctx, request.app.state.topic_sizes))
    problems = [p for p in (view.database_error, view.broker_error) if p]
    return render(request, "health.html", caller, page="health", health=view,
                  error="; ".join(problems) or None)
