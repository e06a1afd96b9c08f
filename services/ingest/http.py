"""The ingest's HTTP surface (aiohttp), thin: read the body within the limit, hand it to
``Ingest.receive``, write its answer as JSON.

Routes: ``POST /v1/events`` (one signed contract event), ``GET /livez`` (the process answers)
and ``GET /readyz`` (PostgreSQL and the broker answer; 503 with the failing check otherwise).
A body over ``MAX_BODY_BYTES`` gets 413 before it is read: at once from its Content-Length
(a client waiting on ``Expect: 100-continue``, as PHP's curl does, never sends it), or as soon
as a chunked body passes the limit. An unexpected error answers 500 with a JSON body and is
logged with its traceback but without the request body; the sender retries 5xx.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from services.ingest.handlers import Answer, Ingest, loggable_id, refusal
from shared.observability import metrics

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
EVENTS_PATH = "/v1/events"
Ready = Callable[[], Awaitable[dict[str, str]]]
_TOO_LARGE = refusal(413, "body_too_large", f"the body is over {MAX_BODY_BYTES} bytes (1 MiB)")


def build_web_app(ingest: Ingest, ready: Ready) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    routes = _Routes(ingest, ready)
    app.router.add_post(EVENTS_PATH, routes.events, expect_handler=routes.expect)
    app.router.add_get("/livez", routes.livez)
    app.router.add_get("/readyz", routes.readyz)
    return app


def respond(answer: Answer) -> web.Response:
    metrics.ingest_answered(answer.status, str(answer.body.get("error")
                                               or answer.body.get("status", "")))
    return web.json_response(answer.body, status=answer.status, headers=answer.headers)


class _Routes:
    def __init__(self, ingest: Ingest, ready: Ready) -> None:
        self._ingest, self._ready = ingest, ready

    async def expect(self, request: web.Request) -> web.StreamResponse | None:
        """``Expect: 100-continue``: refuse an announced oversized body before it is sent."""
        if _announced_too_large(request):
            return _too_large(request)
        if request.headers.get("Expect", "").lower() != "100-continue":
            return respond(refusal(417, "expectation_failed", "only 100-continue is known"))
        if request.version >= (1, 1):  # as aiohttp's own expect handler does
            await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            request.writer.output_size = 0
        return None

    async def events(self, request: web.Request) -> web.StreamResponse:
        if _announced_too_large(request):
            return _too_large(request)
        body = await _read_within_limit(request)
        if body is None:
            return _too_large(request)
        try:
            return respond(await self._ingest.receive(request.headers, body))
        except Exception:
            logger.exception("ingest failed on webhook-id=%s (answered 500)",
                             loggable_id(request.headers.get("webhook-id")))
            return respond(refusal(500, "internal_error",
                                   "the ingest failed; nothing was published, send it again"))

    async def livez(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "pass"})

    async def readyz(self, request: web.Request) -> web.Response:
        checks = await self._ready()
        failing = any(result != "pass" for result in checks.values())
        return web.json_response({"status": "fail" if failing else "pass", "checks": checks},
                                 status=503 if failing else 200)


def _announced_too_large(request: web.Request) -> bool:
    return request.content_length is not None and request.content_length > MAX_BODY_BYTES


def _too_large(request: web.Request) -> web.Response:
    logger.warning("ingest refused a body over %d bytes from %s (webhook-id=%s): 413",
                   MAX_BODY_BYTES, request.remote, loggable_id(request.headers.get("webhook-id")))
    response = respond(_TOO_LARGE)
    response.force_close()  # the rest of the body is not read on this connection
    return response


async def _read_within_limit(request: web.Request) -> bytes | None:
    """The whole body, or None as soon as it passes ``MAX_BODY_BYTES``."""
    chunks, size = [], 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)
