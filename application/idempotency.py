"""``Idempotency-Key`` for admin commands: a repeated request gets the first one's answer.

Keys are per user and kept 24 hours. The same key with a different request is refused; a
repeat that arrives while the first still runs is told so (the surface answers 409).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Literal

from application.context import AdminContext

MAX_KEY = 200


@dataclass(frozen=True)
class Claim:
    state: Literal["new", "done", "running", "mismatch"]
    status_code: int | None = None
    body: Any = None


def fingerprint(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + body).hexdigest()


async def claim(ctx: AdminContext, user_id: int, key: str, print_: str) -> Claim:
    async with ctx.uow() as uow:
        stored = await uow.idempotency.claim(user_id, key, print_)
        await uow.commit()
    if stored is None:
        return Claim("new")
    if stored.fingerprint != print_:
        return Claim("mismatch")
    if stored.status_code is None:
        return Claim("running")
    return Claim("done", stored.status_code, stored.body)


async def complete(ctx: AdminContext, user_id: int, key: str, status_code: int,
                   body: Any) -> None:
    async with ctx.uow() as uow:
        await uow.idempotency.complete(user_id, key, status_code, body)
        await uow.commit()


async def release(ctx: AdminContext, user_id: int, key: str) -> None:
    async with ctx.uow() as uow:
        await uow.idempotency.release(user_id, key)
        await uow.commit()
