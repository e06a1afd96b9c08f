"""``Idempotency-Key`` on API commands: the first answer is stored (per user, 24 h) and
returned again for a repeat; the same key with another request is 422, a repeat while the
first still runs 409 (``application.idempotency`` keeps the rules)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from application import idempotency
from application.context import AdminContext
from services.admin.errors import Refused
from services.admin.security import Caller

Command = Callable[[], Awaitable[tuple[int, BaseModel]]]
HEADER = "Idempotency-Key"


async def run_command(request: Request, ctx: AdminContext, caller: Caller, key: str | None,
                      command: Command) -> JSONResponse:
    if key is None:
        status, body = await command()
        return JSONResponse(body.model_dump(mode="json"), status_code=status)
    if not key.strip() or len(key) > idempotency.MAX_KEY or not key.isascii():
        raise Refused(422, "invalid_request", f"{HEADER} must be 1-{idempotency.MAX_KEY} "
                      "ASCII characters")
    print_ = idempotency.fingerprint(request.method, request.url.path, await request.body())
    claim = await idempotency.claim(ctx, caller.user.id, key, print_)
    if claim.state == "mismatch":
        raise Refused(422, "idempotency_key_reused", f"{HEADER} {key!r} was used for another "
                      "request; use a new key for a new request")
    if claim.state == "running":
        raise Refused(409, "idempotency_key_in_use", f"the request with {HEADER} {key!r} is "
                      "still running; ask again in a moment")
    if claim.state == "done":
        return JSONResponse(claim.body, status_code=claim.status_code or 200,
                            headers={"Idempotent-Replayed": "true"})
    try:
        status, body = await command()
    except BaseException:
        await idempotency.release(ctx, caller.user.id, key)
        raise
    payload = body.model_dump(mode="json")
    await idempotency.complete(ctx, caller.user.id, key, status, payload)
    return JSONResponse(payload, status_code=status)
