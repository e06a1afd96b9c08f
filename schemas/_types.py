"""Lenient scalar types for Perfex's JSON: numbers may come as strings or numbers.

Lenient about form, strict about range: every value is bounded by what Perfex can store (its
column types, perfex-crm-data.md), so anything larger is a schema violation, dead-lettered,
never an order.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    PlainSerializer,
    StringConstraints,
    WithJsonSchema,
)

# Perfex's ids are MySQL INT columns (``tblinvoices.id`` int(11)): 1 .. 2^31 - 1.
PERFEX_ID_MAX = 2**31 - 1
# decimal(15,2): at most 13 digits before the point.
MONEY_LIMIT = Decimal(10) ** 13
NUM_TEXT_MAX = 40  # ids, status codes, a payment mode: varchar(40)


def decimal_pattern_up_to(limit: int) -> str:
    """A regex for the decimal numbers 1..``limit`` without leading zeros (JSON Schema cannot
    bound a number written as a string otherwise)."""
    digits = str(limit)
    shorter = [f"[1-9][0-9]{{0,{len(digits) - 2}}}"] if len(digits) > 1 else []
    same_length = [
        f"{digits[:i]}[{'1' if i == 0 else '0'}-{int(d) - 1}][0-9]{{{len(digits) - i - 1}}}"
        for i, d in enumerate(digits) if int(d) > (1 if i == 0 else 0)
    ]
    return "^(" + "|".join([*shorter, *same_length, digits]) + ")$"


ID_PATTERN = decimal_pattern_up_to(PERFEX_ID_MAX)
_ID = re.compile(ID_PATTERN)


def _to_text(value: Any) -> Any:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float | Decimal):
        return str(value)
    return value


def _to_decimal(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(repr(value))  # 4.5 -> Decimal("4.5"), never binary noise
    if isinstance(value, str):
        if len(value) > 40:
            return value  # pydantic reports it; never parse a 10,000-digit number
        try:
            return Decimal(value.strip().replace(",", ""))
        except InvalidOperation:
            return value  # let pydantic report it
    return value


def _to_flag(value: Any) -> Any:
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes"}
    return value


def _within_money_range(value: Decimal) -> Decimal:
    if abs(value) >= MONEY_LIMIT:
        raise ValueError("more than 13 digits before the decimal point (Perfex stores "
                         "decimal(15,2))")
    return value


def _id_text(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def _positive_id(value: str) -> str:
    if len(value) > 10 or not _ID.fullmatch(value):
        raise ValueError("a Perfex id is a positive integer (a MySQL INT, 1 to 2147483647) "
                         "without leading zeros")
    return value


# An id or code that Perfex may send as "42" or 42.
NumText = Annotated[str, BeforeValidator(_to_text), StringConstraints(max_length=NUM_TEXT_MAX),
                    WithJsonSchema({"type": ["string", "integer", "number"],
                                    "maxLength": NUM_TEXT_MAX})]
# A Perfex row id (``tblinvoices.id``): "42" or 42, never "", "0", "-1", "042" or 10,000 digits.
PerfexId = Annotated[str, BeforeValidator(_id_text), AfterValidator(_positive_id),
                     WithJsonSchema({"type": ["string", "integer"],
                                     "pattern": ID_PATTERN,
                                     "minimum": 1, "maximum": PERFEX_ID_MAX})]
# Money or quantity: Decimal from "2.00", 2, 2.0; serialised as a string.
Money = Annotated[Decimal, BeforeValidator(_to_decimal), AfterValidator(_within_money_range),
                  PlainSerializer(str, return_type=str),
                  WithJsonSchema({"type": ["string", "number"],
                                  "pattern": r"^-?\d{1,13}(\.\d+)?$",
                                  "exclusiveMinimum": -int(MONEY_LIMIT),
                                  "exclusiveMaximum": int(MONEY_LIMIT)}, mode="validation")]
# Perfex's tinyint flags: "1"/"0"/1/0/true/false.
Flag = Annotated[bool, BeforeValidator(_to_flag),
                 WithJsonSchema({"type": ["boolean", "string", "integer"]})]

INBOUND = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)
OUTBOUND = ConfigDict(frozen=True, extra="forbid")
