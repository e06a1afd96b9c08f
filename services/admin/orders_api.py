"""``/api/v1/orders`` and ``/api/v1/jobs``: the Orders list, counts, CSV export, details and
the commands (place, retry, refresh, edit address, bulk). Handlers call ``application``."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse

from application import bulk, listing
from application import orders as use
from application.context import AdminContext
from application.orders import OrderAction, RetrySelection
from application.tracking import refresh_order
from services.admin import convert
from services.admin import models as m
from services.admin.errors import ERROR_RESPONSES, Refused
from services.admin.forms import order_query
from services.admin.idempotent import HEADER, run_command
from services.admin.jobs import Job, Jobs
from services.admin.security import ApiOperator, ApiUser, Caller, Context

api = APIRouter(prefix="/api/v1", tags=["orders"])
IdempotencyKey = Annotated[str | None, Header(alias=HEADER, max_length=200)]
OrderIdPath = Annotated[int, Path(ge=1, le=2**62)]
ERRORS = ERROR_RESPONSES

# What each outcome of a command is in HTTP.
STATUS = {"queued": 200, "updated": 200, "changed": 200, "unchanged": 200, "not_found": 404,
          "refused": 409, "skipped": 409, "not_placed": 409, "sunsky_unavailable": 503}


@api.get("/orders", response_model=m.OrderPageOut, responses=ERRORS)
async def list_orders(q: Annotated[m.ListQuery, Query()], caller: ApiUser,
                      ctx: Context) -> m.OrderPageOut:
    """Orders newest first, one page; ``next_cursor`` fetches the next."""
    page = await listing.list_page(ctx, order_query(q))
    return m.OrderPageOut(orders=[convert.summary(o) for o in page.orders],
                          next_cursor=page.next_cursor)


@api.get("/orders/counts", response_model=m.CountsOut, responses=ERRORS)
async def counts(caller: ApiUser, ctx: Context) -> m.CountsOut:
    """Orders per status tab (all orders)."""
    return convert.counts(await listing.tab_counts(ctx))


@api.get("/orders/export.csv", response_class=StreamingResponse, responses=ERRORS)
async def export(q: Annotated[m.ExportQuery, Query()], caller: ApiUser,
                 ctx: Context) -> StreamingResponse:
    """Every order of the filter (all pages), or only ``ids``, as CSV."""
    return csv_response(ctx, q)


def csv_response(ctx: AdminContext, q: m.ExportQuery) -> StreamingResponse:
    query = order_query(q, q.ids)
    return StreamingResponse(listing.export_csv(ctx, query), media_type="text/csv",
                             headers={"Content-Disposition": 'attachment; filename="orders.csv"'})


@api.get("/orders/{order_id}", response_model=m.OrderOut, responses=ERRORS)
async def order(order_id: OrderIdPath, caller: ApiUser, ctx: Context) -> m.OrderOut:
    details = await use.order_details(ctx, order_id)
    if details is None:
        raise Refused(404, "not_found", f"no order {order_id}")
    return convert.order(details)


async def answer(ctx: AdminContext, action: OrderAction | Refreshed) -> tuple[int, m.ActionOut]:
    """The command's outcome with the order as it is now."""
    details = await use.order_details(ctx, action.order_id)
    return STATUS[action.outcome], convert.action(action.order_id, action.outcome,
                                                  action.message, details)


@api.post("/orders/{order_id}/place", response_model=m.ActionOut, responses=ERRORS)
async def place(order_id: OrderIdPath, request: Request, caller: ApiOperator, ctx: Context,
                key: IdempotencyKey = None) -> JSONResponse:
    """"Place to Sunsky": a Ready to Place order goes to the placer now."""
    async def command() -> tuple[int, m.ActionOut]:
        return await answer(ctx, await use.place_order(ctx, order_id, actor=caller.actor))
    return await run_command(request, ctx, caller, key, command)


@api.post("/orders/{order_id}/retry", response_model=m.ActionOut, responses=ERRORS)
async def retry(order_id: OrderIdPath, request: Request, caller: ApiOperator, ctx: Context,
                key: IdempotencyKey = None) -> JSONResponse:
    """An API Failed order goes back to the placer (after the cause was fixed)."""
    async def command() -> tuple[int, m.ActionOut]:
        (result,) = await use.retry_orders(ctx, RetrySelection((order_id,)), actor=caller.actor)
        return await answer(ctx, result)
    return await run_command(request, ctx, caller, key, command)


@api.post("/orders/{order_id}/refresh", response_model=m.ActionOut, responses=ERRORS)
async def refresh(order_id: OrderIdPath, request: Request, caller: ApiOperator, ctx: Context,
                  key: IdempotencyKey = None) -> JSONResponse:
    """"Refresh from Sunsky": re-read the order at SUNSKY now and apply what changed."""
    async def command() -> tuple[int, m.ActionOut]:
        return await answer(ctx, await refreshed(ctx, caller, order_id))
    return await run_command(request, ctx, caller, key, command)


async def refreshed(ctx: AdminContext, caller: Caller, order_id: int) -> Refreshed:
    result = await refresh_order(ctx, order_id, actor=caller.actor)
    message = "; ".join([result.message.rstrip(":"), *result.changes])
    return Refreshed(order_id, result.outcome, message)


@dataclass(frozen=True)
class Refreshed:
    order_id: int
    outcome: str
    message: str


@api.patch("/orders/{order_id}/address", response_model=m.ActionOut, responses=ERRORS)
async def edit_address(order_id: OrderIdPath, body: m.AddressIn, request: Request,
                       caller: ApiOperator, ctx: Context,
                       key: IdempotencyKey = None) -> JSONResponse:
    """Correct the shipping details (before the order is placed)."""
    async def command() -> tuple[int, m.ActionOut]:
        return await answer(ctx, await use.edit_address(ctx, order_id, body.changes(),
                                                        actor=caller.actor))
    return await run_command(request, ctx, caller, key, command)


@api.post("/orders/bulk", status_code=202, response_model=m.JobAcceptedOut, responses=ERRORS)
async def bulk_action(body: m.BulkIn, request: Request, caller: ApiOperator, ctx: Context,
                      key: IdempotencyKey = None) -> JSONResponse:
    """Place, Retry or Refresh the given orders in the background; read the outcome per order
    at ``status_url``."""
    async def command() -> tuple[int, m.JobAcceptedOut]:
        job = start_bulk(request, ctx, caller, body)
        return 202, m.JobAcceptedOut(job_id=job.id, status_url=f"/api/v1/jobs/{job.id}")
    return await run_command(request, ctx, caller, key, command)


def start_bulk(request: Request, ctx: AdminContext, caller: Caller, body: m.BulkIn) -> Job:
    def work(on_result: Callable[[bulk.BulkResult], None]
             ) -> Coroutine[Any, Any, list[bulk.BulkResult]]:
        return bulk.run_bulk(ctx, body.action, body.order_ids, actor=caller.actor,
                             on_result=on_result)
    jobs: Jobs = request.app.state.jobs
    return jobs.start(body.action, caller.actor, len(set(body.order_ids)), work)


@api.get("/jobs/{job_id}", response_model=m.JobOut, responses=ERRORS)
async def job(job_id: Annotated[str, Path(max_length=40)], request: Request,
              caller: ApiUser) -> m.JobOut:
    found = request.app.state.jobs.get(job_id)
    if found is None:
        raise Refused(404, "not_found", f"no job {job_id} (jobs are kept for an hour)")
    return job_out(found)


def job_out(j: Job) -> m.JobOut:
    return m.JobOut(id=j.id, action=j.action, actor=j.actor, state=j.state, total=j.total,
                    done=len(j.results), results=[convert.bulk_result(r) for r in j.results],
                    error=j.error, created_at=j.created_at, finished_at=j.finished_at)
