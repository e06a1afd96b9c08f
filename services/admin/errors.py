"""One error shape for every refusal, and what the service does with bad or heavy input.

Every 4xx/5xx of the API answers ``{"error": {"code", "message", "fields"}}``; a console page
shows the same message in its error banner. Nothing answers with a stack trace: validation
failures are 422 naming the field, bodies over ``ADMIN_MAX_BODY_BYTES`` 413, PostgreSQL or
the broker away 503 saying which, and a bug 500 with a reference to the logged traceback.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

import asyncpg
from aiokafka.errors import KafkaError
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from application.listing import InvalidQuery
from shared.db.connect import DatabaseUnavailable
from shared.messaging.topics import BrokerUnavailable

logger = logging.getLogger(__name__)

# What "PostgreSQL (or the broker) is away" looks like from a request handler.
INFRASTRUCTURE = (OSError, ConnectionError, TimeoutError, DatabaseUnavailable, BrokerUnavailable,
                  asyncpg.PostgresConnectionError, asyncpg.InterfaceError,
                  asyncpg.exceptions.CannotConnectNowError, KafkaError)


class FieldProblem(BaseModel):
    field: str
    message: str


class ErrorBody(BaseModel):
    code: str
    message: str
    fields: list[FieldProblem] = []


class ErrorOut(BaseModel):
    error: ErrorBody


# Every API operation may answer these (documented in the OpenAPI document).
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut} for code in (400, 401, 403, 404, 409, 413, 422, 503)}


class Refused(Exception):
    """A handler's refusal: HTTP status, a stable code and a sentence for a person."""

    def __init__(self, status: int, code: str, message: str, *,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


def error_json(status: int, code: str, message: str, fields: list[FieldProblem] | None = None,
               headers: dict[str, str] | None = None) -> JSONResponse:
    body = ErrorOut(error=ErrorBody(code=code, message=message, fields=fields or []))
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


def field_problems(exc: RequestValidationError) -> list[FieldProblem]:
    problems = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "header")]
        problems.append(FieldProblem(field=".".join(loc) or "body", message=str(err["msg"])))
    return problems


def infrastructure_message(exc: BaseException) -> tuple[str, str]:
    if isinstance(exc, KafkaError | BrokerUnavailable):
        return "broker_unavailable", f"the Kafka broker did not answer: {_first_line(exc)}"
    return "database_unavailable", f"PostgreSQL did not answer: {_first_line(exc)}"


def _first_line(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".splitlines()[0][:300]


async def on_validation(request: Request, exc: RequestValidationError) -> Response:
    problems = field_problems(exc)
    summary = "; ".join(f"{p.field}: {p.message}" for p in problems[:5])
    return error_json(422, "invalid_request", summary or "invalid request", problems)


async def on_http(request: Request, exc: HTTPException) -> Response:
    code = {401: "unauthenticated", 403: "forbidden", 404: "not_found",
            405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return error_json(exc.status_code, code, str(exc.detail),
                      headers=dict(exc.headers) if exc.headers else None)


async def on_refused(request: Request, exc: Refused) -> Response:
    return error_json(exc.status, exc.code, exc.message, headers=exc.headers)


async def on_invalid_query(request: Request, exc: InvalidQuery) -> Response:
    return error_json(422, "invalid_request", str(exc), [FieldProblem(field="cursor",
                                                                      message=str(exc))])


async def on_infrastructure(request: Request, exc: Exception) -> Response:
    code, message = infrastructure_message(exc)
    logger.warning("%s %s: %s", request.method, request.url.path, message)
    return error_json(503, code, message, headers={"Retry-After": "5"})


async def on_bug(request: Request, exc: Exception) -> Response:
    ref = secrets.token_hex(4)
    logger.error("%s %s failed (ref %s)", request.method, request.url.path, ref, exc_info=exc)
    return error_json(500, "internal_error", f"unexpected error, logged with reference {ref}")


class BodyLimit:
    """Refuses request bodies over ``limit`` bytes with 413, by Content-Length up front and by
    counting what arrives (chunked uploads carry no length)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length", b"0")
        if not length.isdigit() or int(length) > self.limit:
            await self._refuse(scope, receive, send, length.isdigit())
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise _TooLarge
            return message

        try:
            await self.app(scope, counted, send)
        except _TooLarge:
            await self._refuse(scope, receive, send, True)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, sized: bool) -> None:
        message = (f"the request body is larger than {self.limit} bytes" if sized
                   else "Content-Length is not a number")
        response = error_json(413 if sized else 400, "body_too_large" if sized
                              else "bad_request", message)
        await response(scope, receive, send)


class _TooLarge(Exception):
    pass


def handlers() -> dict[Any, Any]:
    return {RequestValidationError: on_validation, HTTPException: on_http, Refused: on_refused,
            InvalidQuery: on_invalid_query, **dict.fromkeys(INFRASTRUCTURE, on_infrastructure),
            Exception: on_bug}
