"""Failures: API Failed orders by code with fix hints, replays (dry run first, then confirm)
and the replay audit."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.responses import HTMLResponse, JSONResponse

from application.context import AdminContext
from application.failures import REPLAYABLE_TOPICS, failure_summary, recent_replays
from application.replay import ReplayRequest, replay
from services.admin import convert
from services.admin import models as m
from services.admin.errors import ERROR_RESPONSES
from services.admin.forms import parse, values
from services.admin.idempotent import HEADER, run_command
from services.admin.pages import render
from services.admin.security import ApiOperator, ApiUser, Caller, Context, PageOperator, PageUser

api = APIRouter(prefix="/api/v1", tags=["failures"])
pages = APIRouter(include_in_schema=False)


@api.get("/failures", response_model=list[m.FailureGroupOut], responses=ERROR_RESPONSES)
async def failures(caller: ApiUser, ctx: Context) -> list[m.FailureGroupOut]:
    return [convert.failure(f) for f in await failure_summary(ctx)]


@api.get("/replays", response_model=list[m.ReplayAuditOut], responses=ERROR_RESPONSES)
async def replays(caller: ApiUser, ctx: Context) -> list[m.ReplayAuditOut]:
    """The latest replay runs (dry runs too), newest first, with who ran them."""
    return [convert.audit(a) for a in await recent_replays(ctx)]


@api.post("/replays", response_model=m.ReplayOut, responses=ERROR_RESPONSES)
async def run_replay(body: m.ReplayIn, request: Request, caller: ApiOperator, ctx: Context,
                     key: Annotated[str | None, Header(alias=HEADER, max_length=200)] = None
                     ) -> JSONResponse:
    """Replay a window of ``order.api_failed`` or a dead-letter topic; ``dry_run`` (the
    default) only counts. Both are recorded in the replay audit."""
    async def command() -> tuple[int, m.ReplayOut]:
        return 200, await replayed(ctx, caller, body)
    return await run_command(request, ctx, caller, key, command)


async def replayed(ctx: AdminContext, caller: Caller, body: m.ReplayIn) -> m.ReplayOut:
    request = ReplayRequest(body.topic, body.since, body.until or datetime.now(UTC),
                            body.target, body.dry_run)
    return convert.replay(await replay(ctx, request, actor=caller.actor), body.dry_run)


@pages.get("/failures")
async def failures_page(request: Request, caller: PageUser, ctx: Context) -> HTMLResponse:
    return await _page(request, caller, ctx)


@pages.post("/failures/replay")
async def replay_form(request: Request, caller: PageOperator, ctx: Context) -> HTMLResponse:
    form = values(await request.form())
    body, problems = parse(m.ReplayIn, form)
    if body is None:
        return await _page(request, caller, ctx, error="; ".join(problems), status=422)
    outcome = await replayed(ctx, caller, body)
    return await _page(request, caller, ctx, preview=outcome, request_form=form,
                       flash=("Dry run: nothing changed. " if body.dry_run else "Replayed. ")
                       + outcome.summary)


async def _page(request: Request, caller: Caller, ctx: Context, *, status: int = 200,
                **extra: object) -> HTMLResponse:
    data: dict[str, object] = {"preview": None, "request_form": {}, **extra}
    return render(request, "failures.html", caller, page="failures", status=status,
                  groups=[convert.failure(f) for f in await failure_summary(ctx)],
                  audits=[convert.audit(a) for a in await recent_replays(ctx, 20)],
                  topics=REPLAYABLE_TOPICS, **data)
