"""Console forms and query strings through the same pydantic models as the API, so a page
and an API call refuse the same input with the same words."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData, QueryParams

from application.listing import OrderQuery
from services.admin import models as m

M = TypeVar("M", bound=BaseModel)
LISTS = frozenset({"ids", "order_ids"})


def values(data: QueryParams | FormData) -> dict[str, Any]:
    """Blank fields are absent (an empty date box means no date); list fields stay lists; the
    CSRF token is the security layer's, not the form's."""
    out: dict[str, Any] = {}
    for key in data:
        if key == "csrf_token":
            continue
        items = [v for v in data.getlist(key) if isinstance(v, str) and v.strip()]
        if key in LISTS:
            out[key] = items
        elif items:
            out[key] = items[-1].strip()
    return out


def parse(model: type[M], data: dict[str, Any]) -> tuple[M | None, list[str]]:
    try:
        return model.model_validate(data), []
    except ValidationError as exc:
        return None, [f"{'.'.join(str(p) for p in e['loc']) or 'form'}: {e['msg']}"
                      for e in exc.errors()]


def order_query(q: m.ListQuery, ids: list[int] | None = None) -> OrderQuery:
    return OrderQuery(tab=q.tab, created_from=q.created_from, created_to=q.created_to,
                      customer=q.customer, code=q.code, search=q.q, stuck_hours=q.stuck_hours,
                      cursor=q.cursor, limit=q.limit, order_ids=tuple(ids or ()))
