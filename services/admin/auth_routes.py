"""Logging in and out of the console, and ``GET /api/v1/me`` (who the token belongs to)."""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from application import accounts
from services.admin import models as m
from services.admin.errors import ERROR_RESPONSES
from services.admin.pages import render
from services.admin.security import (
    CSRF_FIELD,
    LOGIN_COOKIE,
    SESSION_COOKIE,
    ApiUser,
    Context,
    PageUser,
    same,
)
from services.admin.throttle import LoginThrottle

api = APIRouter(prefix="/api/v1", tags=["auth"])
pages = APIRouter(include_in_schema=False)


@api.get("/me", response_model=m.MeOut, responses=ERROR_RESPONSES)
async def me(caller: ApiUser) -> m.MeOut:
    return m.MeOut(name=caller.user.name, role=caller.user.role)


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _safe_next(target: str) -> str:
    """Only a path on this site (no open redirect to another host)."""
    parts = urlsplit(target)
    ok = target.startswith("/") and not target.startswith("//") and not parts.netloc
    return target if ok and "\\" not in target else "/orders"


def _login_page(request: Request, *, error: str | None = None, status: int = 200,
                next_url: str = "/orders", name: str = "") -> HTMLResponse:
    token = secrets.token_urlsafe(24)
    response = render(request, "login.html", None, login_csrf=token, error=error,
                      next_url=_safe_next(next_url), name=name, status=status)
    response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="strict",
                        secure=_secure(request), max_age=3600, path="/login")
    return response


@pages.get("/login")
async def login_form(request: Request, next: str = "/orders") -> HTMLResponse:
    return _login_page(request, next_url=next[:500])


@pages.post("/login")
async def login(request: Request, ctx: Context) -> Response:
    form = await request.form()
    name, password = str(form.get("name", ""))[:64], str(form.get("password", ""))[:1024]
    next_url = str(form.get("next", "/orders"))[:500]
    if not same(str(form.get(CSRF_FIELD, "")), request.cookies.get(LOGIN_COOKIE, "")):
        return _login_page(request, error="The login form expired; please try again.",
                           status=403, next_url=next_url, name=name)
    throttle: LoginThrottle = request.app.state.login_throttle
    key = (name.lower(), request.client.host if request.client else "")
    wait = throttle.retry_after(key)
    if wait is not None:
        page = _login_page(request, error=f"Too many failed logins for {name!r}: try again in "
                           f"{wait:.0f} s.", status=429, next_url=next_url, name=name)
        page.headers["Retry-After"] = str(int(wait))
        return page
    session = await accounts.login(ctx, name, password)
    if session is None:
        throttle.failed(key)
        return _login_page(request, error="Wrong user name or password.", status=401,
                           next_url=next_url, name=name)
    throttle.succeeded(key)
    response = RedirectResponse(_safe_next(next_url), status_code=303)
    response.set_cookie(SESSION_COOKIE, session.session_id, httponly=True, samesite="strict",
                        secure=_secure(request), path="/",
                        max_age=int(ctx.settings.admin_session_hours * 3600))
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response


@pages.post("/logout")
async def logout(request: Request, caller: PageUser, ctx: Context) -> Response:
    await accounts.logout(ctx, request.cookies.get(SESSION_COOKIE, ""))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@pages.get("/")
async def home() -> Response:
    return RedirectResponse("/orders", status_code=303)
