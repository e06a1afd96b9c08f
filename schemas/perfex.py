"""Inbound: the JSON a Perfex module publishes (``perfex-event-contract.md``, accepted as written).

Unknown fields are ignored (Perfex or the module may add some); fields the contract marks as
possibly absent or null are optional. Parse with ``INVOICE_EVENT.validate_json(raw)``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, Field, TypeAdapter

from schemas._types import INBOUND, Flag, Money, NumText

DRAFT_STATUS = "6"
DRAFT_NUMBER = "1000000000"
PAID_STATUS = "2"
SUNSKY_SKU_FIELD = "sunsky_sku"


def _custom_fields(value: Any) -> Any:
    if isinstance(value, list) and not value:
        return {}
    if isinstance(value, dict):
        return {str(k): (None if v is None else str(v)) for k, v in value.items()}
    return value


class PerfexAddress(BaseModel):
    model_config = INBOUND
    street: str | None = None
    city: str | None = None
    state: str | None = None
    zip: str | None = None
    country_id: NumText | None = None
    country_iso2: str | None = None
    country_name: str | None = None


class PerfexCurrency(BaseModel):
    model_config = INBOUND
    id: NumText | None = None
    code: str = "USD"
    symbol: str | None = None


class PerfexItem(BaseModel):
    model_config = INBOUND
    id: NumText
    item_order: NumText | None = None
    description: str = ""
    long_description: str | None = None
    qty: Money
    rate: Money
    unit: str | None = None
    # PHP's json_encode turns an empty array into [], and values may be numbers
    custom_fields: Annotated[dict[str, str | None], BeforeValidator(_custom_fields)] = Field(
        default_factory=dict)

    @property
    def sunsky_sku(self) -> str | None:
        sku = (self.custom_fields.get(SUNSKY_SKU_FIELD) or "").strip()
        return sku or None


class PerfexInvoice(BaseModel):
    model_config = INBOUND
    id: NumText
    number: NumText
    prefix: str | None = None
    formatted_number: str | None = None  # absent before Perfex 3.2
    status: NumText
    date: str | None = None
    duedate: str | None = None
    currency: PerfexCurrency = Field(default_factory=PerfexCurrency)
    subtotal: Money | None = None
    total_tax: Money | None = None
    discount_total: Money | None = None
    adjustment: Money | None = None
    total: Money
    hash: str | None = None
    include_shipping: Flag = False
    billing: PerfexAddress | None = None
    shipping: PerfexAddress | None = None
    items: list[PerfexItem] = Field(default_factory=list)

    @property
    def display_number(self) -> str:
        if self.formatted_number:
            return self.formatted_number
        return f"{self.prefix or ''}{self.number.zfill(6)}"

    @property
    def is_draft(self) -> bool:
        return self.status == DRAFT_STATUS or self.number == DRAFT_NUMBER


class PerfexClient(BaseModel):
    model_config = INBOUND
    userid: NumText
    company: str | None = None
    phonenumber: str | None = None
    vat: str | None = None
    shipping: PerfexAddress | None = None
    billing: PerfexAddress | None = None


class PerfexContact(BaseModel):
    model_config = INBOUND
    id: NumText | None = None
    firstname: str | None = None
    lastname: str | None = None
    email: str | None = None
    phonenumber: str | None = None


class PerfexPayment(BaseModel):
    model_config = INBOUND
    paymentid: NumText | None = None
    invoiceid: NumText | None = None
    amount: Money | None = None
    paymentmode: NumText | None = None
    paymentmethod: str | None = None
    date: str | None = None
    daterecorded: str | None = None
    transactionid: str | None = None


class PerfexSource(BaseModel):
    model_config = INBOUND
    system: str = "perfex"
    perfex_version: str | None = None
    base_url: str | None = None


class InvoiceData(BaseModel):
    model_config = INBOUND
    invoice: PerfexInvoice
    client: PerfexClient
    primary_contact: PerfexContact | None = None
    payment: PerfexPayment | None = None


class _InvoiceEvent(BaseModel):
    model_config = INBOUND
    event_id: str = Field(min_length=1, max_length=200)
    occurred_at: datetime
    source: PerfexSource = Field(default_factory=PerfexSource)
    data: InvoiceData


class InvoiceCreated(_InvoiceEvent):
    """Checkout created the invoice: the order is Pending Payment."""

    event_type: Literal["invoice.created"]


class InvoicePaid(_InvoiceEvent):
    """The invoice is paid in full (payment, credit note or zero total)."""

    event_type: Literal["invoice.paid"]


InvoiceEvent = Annotated[InvoiceCreated | InvoicePaid, Field(discriminator="event_type")]
INVOICE_EVENT: TypeAdapter[InvoiceCreated | InvoicePaid] = TypeAdapter(InvoiceEvent)
