"""Rendering console pages: one Jinja2 environment (autoescaped, strict), the page frame's
data (who is logged in, the CSRF token, the navigation), error pages and the login redirect.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
import markupsafe
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from services.admin.security import Caller

HERE = Path(__file__).parent
NAV = (("orders", "Orders", "/orders"), ("failures", "Failures", "/failures"),
       ("billing", "Billing", "/billing"), ("settings", "Settings", "/settings"),
       ("health", "Health", "/health"))

templates = Jinja2Templates(env=jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True,
    undefined=jinja2.StrictUndefined))


def render(request: Request, template: str, caller: Caller | None, *, page: str = "",
           status: int = 200, **data: Any) -> HTMLResponse:
    frame = {"nav": NAV, "page": page, "user": caller.user if caller else None,
             "operator": bool(caller and caller.operator),
             "csrf_token": caller.csrf_token if caller else "", "flash": None, "error": None}
    return templates.TemplateResponse(request, template, {**frame, **data}, status_code=status)


def error_page(request: Request, status: int, message: str,
               caller: Caller | None = None) -> Response:
    if request.headers.get("hx-request"):
        # a fragment where the result would have gone (base.html lets htmx swap 4xx/5xx)
        return HTMLResponse(f'<div class="alert bad" role="alert">{_escape(message)}</div>',
                            status_code=status)
    return render(request, "error.html", caller, status=status, message=message,
                  status_code=status)


def login_redirect(request: Request) -> Response:
    target = "/login?next=" + quote(request.url.path)
    if request.headers.get("hx-request"):
        return Response(status_code=401, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


def _escape(text: str) -> str:
    return str(markupsafe.escape(text))
