"""Test and demo controls under ``/_sandbox/``: JSON in and out, no signature, not SUNSKY's API.

Errors are ``{"error": "<text>"}`` with HTTP 400 (bad body), 404 (unknown order) or 409
(transition the lifecycle does not allow). See the package docstring for every route.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Literal, TypeVar

from aiohttp import web
from aiohttp.typedefs import Handler
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from sandbox.catalogue import CATALOGUE
from sandbox.core import SANDBOX, Sandbox
from sandbox.faults import FaultSettings
from sandbox.orders import STATUS_BY_NAME
from sandbox.state import TransitionError
from sandbox.wire import ApiError, money

M = TypeVar("M", bound=BaseModel)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BalanceChange(_Body):
    add: Decimal | None = None
    set: Decimal | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> BalanceChange:
        if (self.add is None) == (self.set is None):
            raise ValueError('give exactly one of "add" and "set"')
        return self


class Advance(_Body):
    to: Literal["paid", "shipped", "delivered", "cancelled"]
    tracking_number: str | None = None
    reason: str | None = None


class TrackingChange(_Body):
    tracking_number: str = Field(min_length=1)


class Dedupe(_Body):
    dedupe: bool


class Catalogue(_Body):
    """Changes to SUNSKY's world until the next reset: item prices, shipping ways withdrawn
    (no longer quoted, and refused by createOrder); replaces the previous changes."""

    prices: dict[str, Decimal] = Field(default_factory=dict)
    withdrawn_ways: list[int] = Field(default_factory=list)


class CallbackRegistration(_Body):
    url: str = Field(min_length=1)
    retry_seconds: float | None = Field(default=None, ge=0)


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/_sandbox/health", health)
    r.add_post("/_sandbox/reset", reset)
    r.add_get("/_sandbox/balance", get_balance)
    r.add_post("/_sandbox/balance", change_balance)
    r.add_get("/_sandbox/orders", list_orders)
    r.add_get("/_sandbox/orders/{number}", get_order)
    r.add_post("/_sandbox/orders/{number}/advance", advance_order)
    r.add_post("/_sandbox/orders/{number}/tracking", change_tracking)
    r.add_get("/_sandbox/callbacks", get_callbacks)
    r.add_post("/_sandbox/callbacks", register_callbacks)
    r.add_delete("/_sandbox/callbacks", unregister_callbacks)
    r.add_get("/_sandbox/callbacks/deliveries", list_deliveries)
    r.add_get("/_sandbox/requests", list_requests)
    r.add_get("/_sandbox/dedupe", get_dedupe)
    r.add_post("/_sandbox/dedupe", set_dedupe)
    r.add_get("/_sandbox/catalogue", get_catalogue)
    r.add_post("/_sandbox/catalogue", set_catalogue)
    r.add_get("/_sandbox/faults", get_faults)
    r.add_post("/_sandbox/faults", set_faults)
    r.add_delete("/_sandbox/faults", clear_faults)


def _sandbox(request: web.Request) -> Sandbox:
    return request.app[SANDBOX]


def _http(status: int, message: str) -> web.HTTPException:
    classes: dict[int, type[web.HTTPException]] = {
        400: web.HTTPBadRequest, 404: web.HTTPNotFound, 409: web.HTTPConflict}
    return classes[status](text=json.dumps({"error": message}), content_type="application/json")


@web.middleware
async def control_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Unknown order -> 404, disallowed transition -> 409 (protocol routes catch their own)."""
    try:
        return await handler(request)
    except ApiError as exc:
        raise _http(404, exc.messages[0]) from None
    except TransitionError as exc:
        raise _http(409, str(exc)) from None


async def _body(request: web.Request, model: type[M]) -> M:
    try:
        return model.model_validate_json(await request.read() or b"{}")
    except ValidationError as exc:
        raise _http(400, str(exc)) from None


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def reset(request: web.Request) -> web.Response:
    await _sandbox(request).reset()
    return web.json_response({"status": "reset"})


async def get_balance(request: web.Request) -> web.Response:
    return web.json_response({"balance": money(_sandbox(request).state.balance)})


async def change_balance(request: web.Request) -> web.Response:
    change = await _body(request, BalanceChange)
    sandbox = _sandbox(request)
    if change.add is not None:
        sandbox.state.add_balance(change.add, sandbox.clock())
    elif change.set is not None:
        sandbox.state.set_balance(change.set, sandbox.clock())
    return await get_balance(request)


async def list_orders(request: web.Request) -> web.Response:
    orders = _sandbox(request).state.orders()
    return web.json_response({"orders": [order.wire() for order in orders]})


async def get_order(request: web.Request) -> web.Response:
    order = _sandbox(request).state.order(request.match_info["number"])
    return web.json_response({"order": order.wire()})


async def advance_order(request: web.Request) -> web.Response:
    body = await _body(request, Advance)
    order = _sandbox(request).advance(
        request.match_info["number"], STATUS_BY_NAME[body.to],
        tracking_number=body.tracking_number, reason=body.reason)
    return web.json_response({"order": order.wire()})


async def change_tracking(request: web.Request) -> web.Response:
    body = await _body(request, TrackingChange)
    order = _sandbox(request).set_tracking(request.match_info["number"], body.tracking_number)
    return web.json_response({"order": order.wire()})


async def get_callbacks(request: web.Request) -> web.Response:
    callbacks = _sandbox(request).callbacks
    return web.json_response({"url": callbacks.url, "retry_seconds": callbacks.retry_seconds})


async def register_callbacks(request: web.Request) -> web.Response:
    body = await _body(request, CallbackRegistration)
    _sandbox(request).callbacks.register(body.url, body.retry_seconds)
    return await get_callbacks(request)


async def unregister_callbacks(request: web.Request) -> web.Response:
    await _sandbox(request).callbacks.unregister()
    return await get_callbacks(request)


async def list_deliveries(request: web.Request) -> web.Response:
    """A bare JSON list, oldest attempt first."""
    deliveries = _sandbox(request).callbacks.deliveries
    return web.json_response([delivery.wire() for delivery in deliveries])


async def list_requests(request: web.Request) -> web.Response:
    path = request.query.get("path")
    records = [r for r in _sandbox(request).state.requests if path is None or r.path == path]
    return web.json_response({"requests": [record.wire() for record in records]})


async def get_dedupe(request: web.Request) -> web.Response:
    return web.json_response({"dedupe": _sandbox(request).state.dedupe})


async def set_dedupe(request: web.Request) -> web.Response:
    """Until the next reset, which goes back to the configured default (``--no-dedupe``)."""
    _sandbox(request).state.dedupe = (await _body(request, Dedupe)).dedupe
    return await get_dedupe(request)


async def get_catalogue(request: web.Request) -> web.Response:
    state = _sandbox(request).state
    return web.json_response({"prices": {k: money(v) for k, v in state.prices.items()},
                              "withdrawn_ways": sorted(state.withdrawn_ways)})


async def set_catalogue(request: web.Request) -> web.Response:
    body = await _body(request, Catalogue)
    state = _sandbox(request).state
    unknown = sorted(set(body.prices) - set(CATALOGUE))
    if unknown:
        raise _http(400, f"unknown items: {', '.join(unknown)}")
    state.prices, state.withdrawn_ways = dict(body.prices), set(body.withdrawn_ways)
    return await get_catalogue(request)


async def get_faults(request: web.Request) -> web.Response:
    return web.json_response(_sandbox(request).faults.settings.model_dump())


async def set_faults(request: web.Request) -> web.Response:
    """Replaces the whole fault set-up (fields left out go back to their defaults)."""
    _sandbox(request).faults.configure(await _body(request, FaultSettings))
    return await get_faults(request)


async def clear_faults(request: web.Request) -> web.Response:
    _sandbox(request).faults.clear()
    return await get_faults(request)
