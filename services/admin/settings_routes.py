"""Settings: "Auto-Place Orders on Payment" and the shipping-way policy (API and page)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.responses import HTMLResponse, JSONResponse

from application import shop
from application.context import AdminContext
from services.admin import convert
from services.admin import models as m
from services.admin.errors import ERROR_RESPONSES
from services.admin.forms import parse, values
from services.admin.idempotent import HEADER, run_command
from services.admin.pages import render
from services.admin.security import ApiOperator, ApiUser, Caller, Context, PageOperator, PageUser

api = APIRouter(prefix="/api/v1", tags=["settings"])
pages = APIRouter(include_in_schema=False)


@api.get("/settings", response_model=m.SettingsOut, responses=ERROR_RESPONSES)
async def get_settings(caller: ApiUser, ctx: Context) -> m.SettingsOut:
    return convert.settings(await shop.shop_settings(ctx))


@api.put("/settings", response_model=m.SettingsOut, responses=ERROR_RESPONSES)
async def put_settings(body: m.SettingsIn, request: Request, caller: ApiOperator, ctx: Context,
                       key: Annotated[str | None, Header(alias=HEADER, max_length=200)] = None
                       ) -> JSONResponse:
    """Change what is given; auto-place applies to invoices paid from now on."""
    async def command() -> tuple[int, m.SettingsOut]:
        return 200, convert.settings(await apply(ctx, caller, body))
    return await run_command(request, ctx, caller, key, command)


async def apply(ctx: AdminContext, caller: Caller, body: m.SettingsIn) -> shop.ShopSettings:
    current = await shop.shop_settings(ctx)
    if body.auto_place is not None:
        current = await shop.set_auto_place(ctx, body.auto_place, actor=caller.actor)
    if body.shipping_way is not None:
        current = await shop.set_shipping_way(ctx, body.shipping_way, actor=caller.actor)
    return current


@pages.get("/settings")
async def settings_page(request: Request, caller: PageUser, ctx: Context) -> HTMLResponse:
    return await _page(request, caller, ctx)


@pages.post("/settings")
async def settings_save(request: Request, caller: PageOperator, ctx: Context) -> HTMLResponse:
    body, problems = parse(m.SettingsIn, values(await request.form()))
    if body is None:
        return await _page(request, caller, ctx, error="; ".join(problems), status=422)
    saved = await apply(ctx, caller, body)
    changed = "on" if saved.auto_place else "off"
    return await _page(request, caller, ctx, flash=f"Saved. Auto-Place Orders on Payment is "
                       f"{changed}; it applies to invoices paid from now on.")


async def _page(request: Request, caller: Caller, ctx: Context, *, flash: str | None = None,
                error: str | None = None, status: int = 200) -> HTMLResponse:
    current = convert.settings(await shop.shop_settings(ctx))
    return render(request, "settings.html", caller, page="settings", settings=current,
                  flash=flash, error=error, status=status)
