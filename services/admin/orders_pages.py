"""The console's Orders and order details pages, and their buttons (Place to Sunsky, Retry,
Refresh from Sunsky, Edit address, bulk actions, CSV export). Same use cases as the API."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, Response

from application import listing
from application import orders as use
from application.listing import TABS
from application.orders import RetrySelection
from services.admin import convert
from services.admin import models as m
from services.admin.errors import Refused
from services.admin.forms import order_query, parse, values
from services.admin.orders_api import csv_response, job_out, refreshed, start_bulk
from services.admin.pages import error_page, render
from services.admin.security import Caller, Context, PageOperator, PageUser
from shared.domain.order import STATUS_LABELS

pages = APIRouter(include_in_schema=False)
OrderIdPath = Annotated[int, Path(ge=1, le=2**62)]
TAB_LABELS = {"all": "All", "needs_action": "Needs action",
              **{s.value: label for s, label in STATUS_LABELS.items()}}


@pages.get("/orders")
async def orders_page(request: Request, caller: PageUser, ctx: Context) -> HTMLResponse:
    form = values(request.query_params)
    query, problems = parse(m.ListQuery, form)
    counts = convert.counts(await listing.tab_counts(ctx))
    page = await listing.list_page(ctx, order_query(query)) if query else None
    tab = query.tab if query else "all"
    return render(
        request, "orders.html", caller, page="orders", form=form, tab=tab,
        tabs=[{"key": t, "label": TAB_LABELS[t], "count": _count(counts, t),
               "query": _with(form, tab=t)} for t in TABS],
        orders=[convert.summary(o) for o in page.orders] if page else [],
        next_query=_with(form, cursor=page.next_cursor) if page and page.next_cursor else None,
        first_query=_with(form, cursor=None) if form.get("cursor") else None,
        export_query=_with(form, cursor=None, limit=None),
        error="; ".join(problems) or None, status=422 if problems else 200)


def _count(counts: m.CountsOut, tab: str) -> int:
    if tab == "all":
        return counts.all
    return counts.needs_action if tab == "needs_action" else counts.by_status[tab]


def _with(form: dict[str, object], **changes: object) -> str:
    merged = {**form, **changes}
    return urlencode({k: v for k, v in merged.items() if v not in (None, "")}, doseq=True)


@pages.get("/orders/export.csv")
async def export(request: Request, caller: PageUser, ctx: Context) -> Response:
    query, problems = parse(m.ExportQuery, values(request.query_params))
    if query is None:
        return error_page(request, 422, "; ".join(problems), caller)
    return csv_response(ctx, query)


@pages.post("/orders/bulk")
async def bulk(request: Request, caller: PageOperator, ctx: Context) -> HTMLResponse:
    body, problems = parse(m.BulkIn, values(await request.form()))
    if body is None:
        return HTMLResponse(f'<div class="alert bad">Select orders first '
                            f'({len(problems)} problem(s) with the form).</div>', 422)
    job = start_bulk(request, ctx, caller, body)
    return render(request, "_job.html", caller, job=job_out(job))


@pages.get("/jobs/{job_id}")
async def job(request: Request, caller: PageUser, job_id: Annotated[str, Path(max_length=40)]
              ) -> HTMLResponse:
    found = request.app.state.jobs.get(job_id)
    if found is None:
        raise Refused(404, "not_found", f"no job {job_id} (jobs are kept for an hour)")
    return render(request, "_job.html", caller, job=job_out(found))


@pages.get("/orders/{order_id}")
async def order_page(request: Request, order_id: OrderIdPath, caller: PageUser,
                     ctx: Context) -> HTMLResponse:
    return await details_page(request, caller, ctx, order_id)


async def details_page(request: Request, caller: Caller, ctx: Context, order_id: int, *,
                       flash: str | None = None, error: str | None = None,
                       confirm_place: bool = False, address_open: bool = False,
                       status: int = 200) -> HTMLResponse:
    details = await use.order_details(ctx, order_id)
    if details is None:
        raise Refused(404, "not_found", f"no order {order_id}")
    return render(request, "order.html", caller, page="orders", o=convert.order(details),
                  action_flash=flash, action_error=error, confirm_place=confirm_place,
                  address_open=address_open, status=status, address_fields=ADDRESS_FORM)


ADDRESS_FORM = (("recipient", "Recipient"), ("phone", "Phone"), ("email", "E-mail"),
                ("company", "Company"), ("address_line1", "Street"),
                ("address_line2", "Street (2)"), ("city", "City"), ("state", "State"),
                ("postcode", "Postcode"), ("country_iso2", "Country (ISO 2)"))


@pages.get("/orders/{order_id}/place")
async def place_confirm(request: Request, order_id: OrderIdPath, caller: PageOperator,
                        ctx: Context) -> HTMLResponse:
    return await details_page(request, caller, ctx, order_id, confirm_place=True)


@pages.post("/orders/{order_id}/place")
async def place(request: Request, order_id: OrderIdPath, caller: PageOperator,
                ctx: Context) -> HTMLResponse:
    action = await use.place_order(ctx, order_id, actor=caller.actor)
    return await _after(request, caller, ctx, order_id, action.outcome, action.message)


@pages.post("/orders/{order_id}/retry")
async def retry(request: Request, order_id: OrderIdPath, caller: PageOperator,
                ctx: Context) -> HTMLResponse:
    (action,) = await use.retry_orders(ctx, RetrySelection((order_id,)), actor=caller.actor)
    return await _after(request, caller, ctx, order_id, action.outcome, action.message)


@pages.post("/orders/{order_id}/refresh")
async def refresh(request: Request, order_id: OrderIdPath, caller: PageOperator,
                  ctx: Context) -> HTMLResponse:
    result = await refreshed(ctx, caller, order_id)
    return await _after(request, caller, ctx, order_id, result.outcome, result.message)


@pages.post("/orders/{order_id}/address")
async def address(request: Request, order_id: OrderIdPath, caller: PageOperator,
                  ctx: Context) -> HTMLResponse:
    form = values(await request.form())
    body, problems = parse(m.AddressIn, form)
    if body is None:
        return await details_page(request, caller, ctx, order_id, status=422,
                                  error="Address not saved: " + "; ".join(problems),
                                  address_open=True)
    action = await use.edit_address(ctx, order_id, body.changes(), actor=caller.actor)
    return await _after(request, caller, ctx, order_id, action.outcome, action.message)


async def _after(request: Request, caller: Caller, ctx: Context, order_id: int, outcome: str,
                 message: str) -> HTMLResponse:
    good = outcome in ("queued", "updated", "changed", "unchanged")
    if outcome == "not_found":
        raise Refused(404, "not_found", f"no order {order_id}")
    return await details_page(request, caller, ctx, order_id, flash=message if good else None,
                              error=None if good else message, status=200 if good else 409)



