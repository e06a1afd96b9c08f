"""Who is calling, and may they do this (FastAPI dependencies).

- API: ``Authorization: Bearer <token>`` (``dropship admin tokens create NAME``); a console
  session cookie works too, then with the CSRF header on every state-changing request.
- Console: the ``ds_session`` cookie (HttpOnly, SameSite=Strict, Secure over HTTPS) from the
  login form; every POST carries the session's CSRF token (form field or ``X-CSRF-Token``,
  which htmx sends). The login form itself is guarded by a double-submit cookie.
- Viewers read; operators also act: a viewer's command is 403.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends, Request

from application import accounts
from application.context import AdminContext
from services.admin.errors import Refused
from shared.db.admin import AdminUser

SESSION_COOKIE = "ds_session"
LOGIN_COOKIE = "ds_login"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Caller:
    user: AdminUser
    via: Literal["token", "session"]
    csrf_token: str = ""

    @property
    def actor(self) -> str:
        return accounts.actor(self.user)

    @property
    def operator(self) -> bool:
        return accounts.may_act(self.user)


class LoginRequired(Exception):
    """A console page without a valid session: the login page answers instead."""


async def admin_context(request: Request) -> AdminContext:
    ctx: AdminContext = await request.app.state.runtime.context()
    return ctx


Context = Annotated[AdminContext, Depends(admin_context)]


def same(a: str, b: str) -> bool:
    return bool(a) and hmac.compare_digest(a.encode(), b.encode())


async def _csrf_ok(request: Request, expected: str) -> bool:
    if same(request.headers.get(CSRF_HEADER, ""), expected):
        return True
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        return same(str(form.get(CSRF_FIELD, "")), expected)
    return False


async def _session_caller(request: Request, ctx: AdminContext) -> Caller | None:
    session_id = request.cookies.get(SESSION_COOKIE)
    if not session_id or len(session_id) > 200:
        return None
    session = await accounts.session_for(ctx, session_id)
    if session is None:
        return None
    if request.method not in SAFE_METHODS and not await _csrf_ok(request, session.csrf_token):
        raise Refused(403, "csrf_failed", "the form is stale or was not sent by this console "
                      "(missing or wrong CSRF token): reload the page and try again")
    return Caller(session.user, "session", session.csrf_token)


async def api_caller(request: Request, ctx: Context) -> Caller:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        user = await accounts.user_for_token(ctx, token.strip())
        if user is None:
            raise _unauthenticated("the bearer token is not valid (revoked, or never issued)")
        return Caller(user, "token")
    caller = await _session_caller(request, ctx)
    if caller is None:
        raise _unauthenticated("send Authorization: Bearer <token> (dropship admin tokens "
                               "create NAME)")
    return caller


def _unauthenticated(message: str) -> Refused:
    return Refused(401, "unauthenticated", message, headers={"WWW-Authenticate": "Bearer"})


def require_operator(caller: Caller) -> Caller:
    if not caller.operator:
        raise Refused(403, "forbidden", f"user {caller.user.name!r} is a viewer: only operators "
                      "place, retry, edit addresses, refresh, replay and change settings")
    return caller


async def api_operator(caller: Annotated[Caller, Depends(api_caller)]) -> Caller:
    return require_operator(caller)


async def page_caller(request: Request, ctx: Context) -> Caller:
    caller = await _session_caller(request, ctx)
    if caller is None:
        raise LoginRequired
    return caller


async def page_operator(caller: Annotated[Caller, Depends(page_caller)]) -> Caller:
    return require_operator(caller)


ApiUser = Annotated[Caller, Depends(api_caller)]
ApiOperator = Annotated[Caller, Depends(api_operator)]
PageUser = Annotated[Caller, Depends(page_caller)]
PageOperator = Annotated[Caller, Depends(page_operator)]
