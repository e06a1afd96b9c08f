"""Pydantic models of every API request and answer: the OpenAPI document is made of these.

Input text is bounded and refuses what PostgreSQL cannot store (NUL, lone surrogates); times
without a zone are UTC; numbers have ranges. Outputs never carry a password hash, a token or
the SUNSKY secret: they are built field by field from the application's results.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from application.bulk import MAX_BULK, BulkAction
from application.listing import Tab

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2999, 12, 31, tzinfo=UTC)


def _storable(text: str) -> str:
    if "\x00" in text:
        raise ValueError("must not contain NUL characters")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("must be valid Unicode text") from exc
    return text


def _utc(moment: datetime) -> datetime:
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    try:
        moment = moment.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError("is out of range") from exc
    if not EARLIEST <= moment <= LATEST:
        raise ValueError("must be between 1970 and 2999")
    return moment


Text = Annotated[str, AfterValidator(_storable)]
Moment = Annotated[datetime, AfterValidator(_utc)]
OrderId = Annotated[int, Field(ge=1, le=2**62)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# Equal to application.failures.REPLAYABLE_TOPICS (a unit test keeps them so).
ReplayTopic = Literal["order.api_failed", "invoice.created.dlq", "invoice.paid.dlq",
                      "order.ready.dlq", "order.placed.dlq", "order.api_failed.dlq",
                      "order.shipped.dlq", "order.delivered.dlq", "order.cancelled.dlq"]


# --- requests -------------------------------------------------------------------------------
class ListQuery(Strict):
    tab: Tab = Field("all", description="all, needs_action, or one of the nine statuses")
    created_from: Moment | None = Field(None, alias="from", description="created at/after")
    created_to: Moment | None = Field(None, alias="to", description="created before")
    customer: Text | None = Field(None, max_length=200, description=(
        "part of client id, company, contact name or e-mail, any case"))
    code: Text | None = Field(None, max_length=64,
                              description="last error code, e.g. ADDRESS_INCOMPLETE")
    q: Text | None = Field(None, max_length=200, description=(
        "invoice number, SUNSKY order number or tracking number (exact), or a customer"))
    stuck_hours: float | None = Field(None, gt=0, le=87600, allow_inf_nan=False,
                                      description="unchanged for longer, not yet final")
    cursor: Text | None = Field(None, max_length=200,
                                description="next_cursor of the previous page")
    limit: int = Field(50, ge=1, le=100)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class ExportQuery(ListQuery):
    ids: list[OrderId] = Field(default_factory=list, max_length=1000,
                               description="only these orders (the selected rows)")


class AddressIn(Strict):
    recipient: Text | None = Field(None, max_length=100, min_length=1)
    phone: Text | None = Field(None, max_length=40, min_length=1)
    email: Text | None = Field(None, max_length=200, min_length=1)
    company: Text | None = Field(None, max_length=200)
    address_line1: Text | None = Field(None, max_length=200, min_length=1)
    address_line2: Text | None = Field(None, max_length=200)
    city: Text | None = Field(None, max_length=100, min_length=1)
    state: Text | None = Field(None, max_length=100)
    postcode: Text | None = Field(None, max_length=20, min_length=1)
    country_iso2: Annotated[str, Field(pattern=r"^[A-Za-z]{2}$")] | None = None

    @model_validator(mode="after")
    def _something(self) -> AddressIn:
        if not self.changes():
            raise ValueError("give at least one field to change")
        return self

    def changes(self) -> dict[str, str]:
        return {k: v for k, v in self.model_dump().items() if v is not None}


class BulkIn(Strict):
    action: BulkAction
    order_ids: list[OrderId] = Field(min_length=1, max_length=MAX_BULK)


class SettingsIn(Strict):
    auto_place: bool | None = Field(None, description="Auto-Place Orders on Payment; applies "
                                    "to invoices paid from now on")
    shipping_way: Text | None = Field(None, max_length=100, min_length=1, description=(
        "'cheapest' or a SUNSKY shipping way name or id"))


class ReplayIn(Strict):
    topic: ReplayTopic
    since: Moment | None = None
    until: Moment | None = Field(None, description="default: now")
    target: Text | None = Field(None, max_length=200, min_length=1, description=(
        "dead-letter records go here instead of their original topic"))
    dry_run: bool = Field(True, description="count only; send the same with false to replay")


# The answers, in their own module (services/admin/answers.py), read as ``models.X`` too.
from services.admin.answers import *  # noqa: E402, F403
