"""SUNSKY's wire formats: 4-decimal amount strings, unpadded timestamps, US dates, paging.

Formats follow sunsky-open-api.md sections 3, 6.4, 6.5 and 6.9. Timestamps are written in UTC: the
reference says the time zone is unstated, so UTC is the sandbox's choice.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import TypeVar

T = TypeVar("T")

FOUR_PLACES = Decimal("0.0001")
DEFAULT_PAGE_SIZE = 40
MAX_PAGE_SIZE = 100


class ApiError(Exception):
    """A business error: answered as HTTP 200 ``{"result":"error","messages":[...]}``."""

    def __init__(self, *messages: str) -> None:
        super().__init__("; ".join(messages))
        self.messages = list(messages)


def money(amount: Decimal) -> str:
    """``Decimal("1.2")`` -> ``"1.2000"`` (never an exponent)."""
    return format(amount.quantize(FOUR_PLACES, rounding=ROUND_HALF_UP), "f")


def timestamp(moment: datetime | None) -> str | None:
    """``yyyy-M-d HH:mm:ss`` without zero padding of month and day, as in the doc example."""
    if moment is None:
        return None
    return f"{moment.year}-{moment.month}-{moment.day} {moment:%H:%M:%S}"


def parse_us_datetime(text: str, name: str) -> datetime:
    """``MM/dd/yyyy`` or ``MM/dd/yyyy HH:mm[:ss]`` (zero padding optional), read as UTC."""
    day_text, _, time_text = text.strip().partition(" ")
    try:
        month, day, year = (int(part) for part in day_text.split("/"))
        clock = [int(part) for part in time_text.split(":")] if time_text else []
        hour, minute, second = [*clock, 0, 0, 0][:3]
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        # Invented code: the reference shows no message for a malformed parameter.
        raise ApiError(f"INVALID_PARAMETER: {name}") from None


def optional_us_date(params: Mapping[str, str], name: str) -> date | None:
    text = params.get(name, "")
    return parse_us_datetime(text, name).date() if text else None


def parse_int(text: str | None, name: str, default: int | None = None) -> int:
    if text is None or text == "":
        if default is None:
            raise ApiError(f"INVALID_PARAMETER: {name}")
        return default
    try:
        return int(text)
    except ValueError:
        raise ApiError(f"INVALID_PARAMETER: {name}") from None


def page(rows: Sequence[T], page_no: int, page_size: int) -> tuple[dict[str, int], list[T]]:
    """Slice ``rows`` into SUNSKY's ``{total, pageCount}`` header and the requested page."""
    size = min(max(page_size, 1), MAX_PAGE_SIZE)
    start = (max(page_no, 1) - 1) * size
    header = {"total": len(rows), "pageCount": math.ceil(len(rows) / size)}
    return header, list(rows[start : start + size])
