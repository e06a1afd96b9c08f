"""Pydantic models of every API answer (the requests are in ``models``). Built field by field
from the application's results (``convert``), so no password hash, token or secret can ride
along."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field


class OrderSummaryOut(BaseModel):
    id: int
    invoice_id: str
    invoice_number: str | None
    status: str
    status_label: str
    needs_action: bool
    created_at: datetime | None
    client_id: str | None
    customer: str | None
    total: Decimal | None
    currency: str
    sunsky_order_number: str | None
    tracking_number: str | None
    last_error_code: str | None


class OrderPageOut(BaseModel):
    orders: list[OrderSummaryOut]
    next_cursor: str | None = Field(description="pass as cursor for the next page; null: last")


class CountsOut(BaseModel):
    all: int
    needs_action: int
    by_status: dict[str, int]


class ItemOut(BaseModel):
    line_no: int
    product_name: str
    sku: str
    quantity: Decimal
    unit_price: Decimal
    line_total: Decimal


class ShippingOut(BaseModel):
    recipient: str | None
    phone: str | None
    email: str | None
    company: str | None
    address_line1: str | None
    address_line2: str | None
    city: str | None
    state: str | None
    postcode: str | None
    country_iso2: str | None
    country_name: str | None
    full_address: str
    shipping_method: str | None
    tracking_number: str | None
    tracking_url: str | None


class SunskyOut(BaseModel):
    number: str
    status: int | None
    status_name: str
    amount: Decimal | None
    shipping_cost: Decimal | None
    total: Decimal | None
    last_synced_at: datetime | None


class LastErrorOut(BaseModel):
    code: str
    kind: str
    message: str = Field(description="SUNSKY's words verbatim, or our check's")
    fix_hint: str
    at: datetime


class ChangeOut(BaseModel):
    from_status: str | None
    to_status: str
    from_label: str
    to_label: str
    reason: str
    actor: str
    at: datetime


class BadgeOut(BaseModel):
    label: str
    tone: str


class ActionsOut(BaseModel):
    place: bool
    retry: bool
    refresh: bool
    edit_address: bool


class OrderOut(OrderSummaryOut):
    site_number: str | None
    contact_name: str | None
    contact_email: str | None
    customer_company: str | None
    subtotal: Decimal | None
    attempts: int
    auto_retries: int
    next_attempt_at: datetime | None
    paid_at: datetime | None
    placed_at: datetime | None
    items: list[ItemOut]
    shipping: ShippingOut
    sunsky: SunskyOut | None
    last_error: LastErrorOut | None
    timeline: list[ChangeOut]
    badges: dict[str, BadgeOut]
    actions: ActionsOut


class ActionOut(BaseModel):
    order_id: int
    outcome: str
    message: str
    order: OrderOut | None


class BulkResultOut(BaseModel):
    order_id: int
    ok: bool
    outcome: str
    message: str
    status: str | None


class JobOut(BaseModel):
    id: str
    action: str
    actor: str
    state: Literal["running", "done", "failed"]
    total: int
    done: int
    results: list[BulkResultOut]
    error: str | None
    created_at: datetime
    finished_at: datetime | None


class JobAcceptedOut(BaseModel):
    job_id: str
    status_url: str


class SettingsOut(BaseModel):
    auto_place: bool
    shipping_way_policy: dict[str, Any]
    note: str


class BillOut(BaseModel):
    amount: Decimal
    balance: Decimal
    at: datetime | None
    type: str | None


class BillingOut(BaseModel):
    balance: Decimal | None
    bills: list[BillOut]
    sunsky_error: str | None
    waiting_orders: int
    waiting_amount: Decimal
    top_up: Decimal | None
    hint: str


class FailureGroupOut(BaseModel):
    code: str
    kind: str
    count: int
    fix_hint: str


class ReplayOut(BaseModel):
    replay_id: int
    dry_run: bool
    read: int
    replayed: int
    skipped: int
    skipped_by_reason: dict[str, int]
    refused: int
    summary: str


class ReplayAuditOut(BaseModel):
    id: int
    at: datetime
    actor: str
    topic: str
    target: str | None
    since: datetime | None
    until: datetime | None
    dry_run: bool
    read: int
    replayed: int
    skipped: int
    refused: int


class ProcessOut(BaseModel):
    instance: str
    started_at: datetime
    beat_at: datetime


class ServiceOut(BaseModel):
    service: str
    alive: int
    last_beat: datetime | None
    processes: list[ProcessOut]


class OutboxOut(BaseModel):
    pending: int
    oldest_at: datetime | None
    parked: int


class HealthOut(BaseModel):
    services: list[ServiceOut]
    outbox: OutboxOut | None
    database_error: str | None
    dead_letters: dict[str, int]
    broker_error: str | None


class MeOut(BaseModel):
    name: str
    role: str
