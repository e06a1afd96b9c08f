"""Lenient scalar types for Perfex's JSON: numbers may come as strings or numbers."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BeforeValidator, ConfigDict, PlainSerializer, WithJsonSchema


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
        try:
            return Decimal(value.strip().replace(",", ""))
        except InvalidOperation:
            return value  # let pydantic report it
    return value


def _to_flag(value: Any) -> Any:
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes"}
    return value


# An id or code that Perfex may send as "42" or 42.
NumText = Annotated[str, BeforeValidator(_to_text),
                    WithJsonSchema({"type": ["string", "integer", "number"]})]
# Money or quantity: Decimal from "2.00", 2, 2.0; serialised as a string.
Money = Annotated[Decimal, BeforeValidator(_to_decimal), PlainSerializer(str, return_type=str),
                  WithJsonSchema({"type": ["string", "number"],
                                  "pattern": r"^-?\d+(\.\d+)?$"}, mode="validation")]
# Perfex's tinyint flags: "1"/"0"/1/0/true/false.
Flag = Annotated[bool, BeforeValidator(_to_flag),
                 WithJsonSchema({"type": ["boolean", "string", "integer"]})]

INBOUND = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)
OUTBOUND = ConfigDict(frozen=True, extra="forbid")
