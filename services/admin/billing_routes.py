"""Billing: the SUNSKY balance, its history, what waiting orders need, the top-up hint."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from application.billing import billing
from services.admin import convert
from services.admin import models as m
from services.admin.errors import ERROR_RESPONSES
from services.admin.pages import render
from services.admin.security import ApiUser, Context, PageUser

api = APIRouter(prefix="/api/v1", tags=["billing"])
pages = APIRouter(include_in_schema=False)


@api.get("/billing", response_model=m.BillingOut, responses=ERROR_RESPONSES)
async def get_billing(caller: ApiUser, ctx: Context) -> m.BillingOut:
    """SUNSKY away: ``sunsky_error`` says why balance and bills are missing (still 200)."""
    return convert.billing(await billing(ctx))


@pages.get("/billing")
async def billing_page(request: Request, caller: PageUser, ctx: Context) -> HTMLResponse:
    view = convert.billing(await billing(ctx))
    return render(request, "billing.html", caller, page="billing", billing=view,
                  error=view.sunsky_error)
