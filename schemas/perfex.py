"""Inbound: the JSON a Perfex module publishes (``perfex-event-contract.md``, accepted as written).

Unknown fields are ignored (Perfex or the module may add some); fields the contract marks as
possibly absent or null are optional. Parse with ``INVOICE_EVENT.validate_json(raw)``.

What Perfex never sends is refused here, so it is dead-lettered as a schema violation instead of
becoming an order: an invoice id that is not a positive integer (``tblinvoices.id``), text
longer than the Perfex column it comes from, amounts beyond decimal(15,2), a line whose amount
(qty x rate) Perfex could not store. What Perfex may send but SUNSKY cannot take (a quantity
above ``MAX_LINE_QUANTITY``, a city longer than SUNSKY's 40 characters) is the placement
checks' business (``shared.domain.intake``): the order goes to API Failed with a code, where a
person can fix it.
"""

from __future__ import annotations

from datetime import datetime
from decimal import localcontext
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    Field,
    StringConstraints,
    TypeAdapter,
    model_validator,
)

from schemas._types import INBOUND, MONEY_LIMIT, Flag, Money, NumText, PerfexId

DRAFT_STATUS = "6"
DRAFT_NUMBER = "1000000000"
PAID_STATUS = "2"
SUNSKY_SKU_FIELD = "sunsky_sku"
SKU_MAX = 64

# Text bounded by the Perfex column it comes from (perfex-crm-data.md).
Street = Annotated[str, StringConstraints(max_length=200)]  # varchar(200), "<br />" included
Place = Annotated[str, StringConstraints(max_length=100)]  # city, state, zip: varchar(100)
Iso2 = Annotated[str, StringConstraints(max_length=2)]  # tblcountries.iso2: char(2)
Name = Annotated[str, StringConstraints(max_length=191)]  # company, first/last name
Contact = Annotated[str, StringConstraints(max_length=100)]  # email, phone numbers
Short = Annotated[str, StringConstraints(max_length=50)]  # prefix, codes, versions, dates
Label = Annotated[str, StringConstraints(max_length=1000)]  # an item's title (longtext)
Long = Annotated[str, StringConstraints(max_length=2000)]  # URLs, transaction ids
FieldValue = Annotated[str, StringConstraints(max_length=1000)]


def _custom_fields(value: Any) -> Any:
    if isinstance(value, list) and not value:
        return {}
    if isinstance(value, dict):
        return {str(k): (None if v is None else str(v)) for k, v in value.items()}
    return value


class PerfexAddress(BaseModel):
    model_config = INBOUND
    street: Street | None = None
    city: Place | None = None
    state: Place | None = None
    zip: Place | None = None
    country_id: NumText | None = None
    country_iso2: Iso2 | None = None
    country_name: Place | None = None


class PerfexCurrency(BaseModel):
    model_config = INBOUND
    id: NumText | None = None
    code: Short = "USD"
    symbol: Short | None = None


class PerfexItem(BaseModel):
    model_config = INBOUND
    id: NumText
    item_order: NumText | None = None
    description: Label = ""
    long_description: str | None = None  # never read
    qty: Money
    rate: Money
    unit: Short | None = None
    # PHP's json_encode turns an empty array into [], and values may be numbers
    custom_fields: Annotated[dict[str, FieldValue | None], BeforeValidator(_custom_fields)] = (
        Field(default_factory=dict, json_schema_extra={
            "properties": {SUNSKY_SKU_FIELD: {"type": ["string", "null"], "maxLength": SKU_MAX}}}))

    @model_validator(mode="after")
    def _perfex_could_store_it(self) -> PerfexItem:
        sku = self.custom_fields.get(SUNSKY_SKU_FIELD)
        if sku is not None and len(sku) > SKU_MAX:
            raise ValueError(f"custom_fields.{SUNSKY_SKU_FIELD} is longer than {SKU_MAX} "
                             "characters: not a SUNSKY item number")
        with localcontext() as exact:
            exact.prec = 60
            amount = self.qty * self.rate
        if abs(amount) >= MONEY_LIMIT:
            raise ValueError("qty x rate has more than 13 digits before the decimal point: "
                             "Perfex could not store the line amount")
        return self

    @property
    def sunsky_sku(self) -> str | None:
        sku = (self.custom_fields.get(SUNSKY_SKU_FIELD) or "").strip()
        return sku or None


class PerfexInvoice(BaseModel):
    model_config = INBOUND
    id: PerfexId  # tblinvoices.id: the order's identity, so never "", "0" or "042"
    number: NumText
    prefix: Short | None = None
    formatted_number: Place | None = None  # absent before Perfex 3.2
    status: NumText
    date: Short | None = None
    duedate: Short | None = None
    currency: PerfexCurrency = Field(default_factory=PerfexCurrency)
    subtotal: Money | None = None
    total_tax: Money | None = None
    discount_total: Money | None = None
    adjustment: Money | None = None
    total: Money
    hash: Short | None = None
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
    company: Name | None = None
    phonenumber: Contact | None = None
    vat: Place | None = None
    shipping: PerfexAddress | None = None
    billing: PerfexAddress | None = None


class PerfexContact(BaseModel):
    model_config = INBOUND
    id: NumText | None = None
    firstname: Name | None = None
    lastname: Name | None = None
    email: Contact | None = None
    phonenumber: Contact | None = None


class PerfexPayment(BaseModel):
    model_config = INBOUND
    paymentid: NumText | None = None
    invoiceid: NumText | None = None
    amount: Money | None = None
    paymentmode: NumText | None = None
    paymentmethod: Name | None = None
    date: Short | None = None
    daterecorded: Short | None = None
    transactionid: Long | None = None


class PerfexSource(BaseModel):
    model_config = INBOUND
    system: Short = "perfex"
    perfex_version: Short | None = None
    base_url: Long | None = None


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
