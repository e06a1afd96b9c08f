"""The SUNSKY Open API routes: ``/openapi/<module>!<action>.do``, signed, form-encoded.

Per sunsky-open-api.md sections 1-3: POST with a form body (GET and query-string parameters are
accepted too [3P/INF]; when a name appears in both, the query string wins, as a servlet's
``getParameter`` would [INF]), signature checked over every received parameter except
``signature``, business errors as HTTP 200 error envelopes, unknown paths HTTP 404 (invented).
Faults from ``faults.py`` are applied here: latency first, then the pre-call faults, then the
call, then a possibly dropped response.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging

from aiohttp import web
from multidict import MultiMapping

from sandbox.core import SANDBOX, Sandbox
from sandbox.endpoints import ACTIONS, Action, Call
from sandbox.faults import PreCallFault
from sandbox.state import RequestRecord
from sandbox.wire import ApiError
from shared.sunsky.signing import verify

logger = logging.getLogger(__name__)

NO_PERMISSION_DUE_TO_SIGNATURE = "NO_PERMISSION_DUE_TO_SIGNATURE"  # [3P]
NO_PERMISSION_DUE_TO_USER_STATUS = "NO_PERMISSION_DUE_TO_USER_STATUS"  # [3P], plain text
CALL_FREQUENCY_EXCEEDED = "CALL_FREQUENCY_EXCEEDED"  # invented

# UTF-8 JSON, Chinese messages unescaped (how SUNSKY sends them is unknown; both parse the same).
_dumps = functools.partial(json.dumps, ensure_ascii=False)


def add_routes(app: web.Application) -> None:
    app.router.add_route("POST", "/openapi/{action}", handle)
    app.router.add_route("GET", "/openapi/{action}", handle)


async def handle(request: web.Request) -> web.StreamResponse:
    sandbox = request.app[SANDBOX]
    path = request.match_info["action"]
    params = await _params(request)
    record = sandbox.state.log_request(path, params, sandbox.clock())
    action = ACTIONS.get(path)
    if action is None:
        record.outcome, record.messages = "error", ["NOT_FOUND"]
        raise web.HTTPNotFound(text=f"no such SUNSKY action: {path}")
    await asyncio.sleep(sandbox.faults.latency_seconds(path))
    fault = sandbox.faults.pre_call_fault(path, params.get("key", ""))
    if fault is not None:
        return await _fault_response(fault, record, sandbox.faults.settings.timeout_hold_seconds)
    envelope = _answer(sandbox, action, params, record)
    if sandbox.faults.drops_response(path):
        await _drop_response(request, record, sandbox.faults.settings.timeout_hold_seconds)
    return web.json_response(envelope, dumps=_dumps)


async def _params(request: web.Request) -> dict[str, str]:
    params: dict[str, str] = {}
    sources: list[MultiMapping[object]] = [request.query]
    if request.method == "POST":
        sources.append(await request.post())
    for source in sources:
        for name in source.keys():
            value = source.getone(name)
            if isinstance(value, str):
                params.setdefault(name, value)
    return params


def _answer(sandbox: Sandbox, action: Action, params: dict[str, str],
            record: RequestRecord) -> dict[str, object]:
    try:
        _authenticate(sandbox, params)
        data = action(Call(params, sandbox.config.api_key, sandbox.clock(), sandbox.state,
                           sandbox.faults.settings))
    except ApiError as exc:
        record.outcome, record.messages = "error", exc.messages
        logger.info("%s answered error %s", record.path, exc.messages)
        return {"result": "error", "messages": exc.messages}
    except Exception:
        record.outcome, record.messages = "error", ["SANDBOX_INTERNAL_ERROR"]
        logger.exception("%s failed inside the sandbox", record.path)
        raise
    record.outcome = "success"
    return {"result": "success", "data": data}


def _authenticate(sandbox: Sandbox, params: dict[str, str]) -> None:
    config = sandbox.config
    if params.get("key") != config.api_key or not verify(params, config.api_secret):
        raise ApiError(NO_PERMISSION_DUE_TO_SIGNATURE)


async def _fault_response(fault: PreCallFault, record: RequestRecord,
                          hold_seconds: float) -> web.Response:
    record.outcome = f"fault:{fault}"
    logger.info("%s: injected fault %s", record.path, fault)
    if fault == "user_status":
        record.messages = [NO_PERMISSION_DUE_TO_USER_STATUS]
        return web.Response(text=NO_PERMISSION_DUE_TO_USER_STATUS, content_type="text/plain")
    if fault == "throttle":
        record.messages = [CALL_FREQUENCY_EXCEEDED]
        return web.json_response({"result": "error", "messages": [CALL_FREQUENCY_EXCEEDED]},
                                 dumps=_dumps)
    if fault == "timeout":
        await asyncio.sleep(hold_seconds)
        return web.Response(status=504, text="Gateway Timeout (sandbox fault)")
    return web.Response(status=500, text="Internal Server Error (sandbox fault)")


async def _drop_response(request: web.Request, record: RequestRecord,
                         hold_seconds: float) -> None:
    """The call took effect; hold the connection, then close it without answering. aiohttp's
    attempt to write the response afterwards fails quietly on the closed transport."""
    record.outcome = "fault:drop_response"
    logger.info("%s: took effect, dropping the response", record.path)
    await asyncio.sleep(hold_seconds)
    if request.transport is not None:
        request.transport.close()
