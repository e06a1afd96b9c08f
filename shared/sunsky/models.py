"""Typed SUNSKY results and the createOrder request (reference sections 6.1-6.11).

Frozen pydantic models. Python names are snake_case; SUNSKY's camelCase wire names are the
aliases (``to_camel``, or explicit where SUNSKY's name differs, e.g. ``stateList``). Unknown
fields are ignored, so SUNSKY adding fields breaks nothing. Money is ``Decimal`` (SUNSKY sends
4-decimal strings, assumed USD). Timestamps ``yyyy-M-d HH:mm:ss`` (or the old ``MM/dd/yyyy
HH:mm``) become aware UTC datetimes: the "gmt" prefix says UTC.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

logger = logging.getLogger(__name__)

_TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M", "%Y-%m-%d", "%m/%d/%Y")

# Order status codes (reference section 8, third-party): keep the raw int, name what we know.
STATUS_NAMES: dict[int, str] = {1: "unpaid", 2: "paid", 3: "shipped", 4: "cancelled",
                                5: "delivered"}


def parse_sunsky_time(value: object) -> object:
    """``2026-1-14 05:55:50`` / ``01/14/2026 05:55`` -> aware UTC datetime; blanks -> None."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        return value
    for fmt in _TIME_FORMATS:
        try:
            return datetime.strptime(value.strip(), fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    return value  # let pydantic try ISO 8601 and report the error otherwise


def _blank_to_none(value: object) -> object:
    return None if isinstance(value, str) and not value.strip() else value


SunskyTime = Annotated[datetime | None, BeforeValidator(parse_sunsky_time)]
Money = Annotated[Decimal | None, BeforeValidator(_blank_to_none)]


class SunskyModel(BaseModel):
    model_config = ConfigDict(
        frozen=True,
        extra="ignore",
        alias_generator=to_camel,
        populate_by_name=True,
        coerce_numbers_to_str=True,
    )


class State(SunskyModel):
    code: str
    name: str


class Country(SunskyModel):
    id: int
    code: str
    name: str
    ship_to_state: bool = False
    states: list[State] = Field(default_factory=list, alias="stateList")


class FreightOption(SunskyModel):
    id: int
    name: str
    shipping_cost: Decimal
    transit_time: str | None = None


class PriceLine(SunskyModel):
    item_no: str
    qty: int
    price: Decimal
    amount: Decimal


class Quote(SunskyModel):
    """``getPricesAndFreights``: an empty ``freight_options`` means no shipping way."""

    freight_options: list[FreightOption] = Field(default_factory=list, alias="freightList")
    prices: list[PriceLine] = Field(default_factory=list, alias="priceList")


class ShippingWay(SunskyModel):
    id: int | None = None
    name: str | None = None
    query_url: str | None = None


class DeliveryAddress(SunskyModel):
    country_id: int
    state: str | None = None
    city: str
    address: str
    address2: str | None = None
    postcode: str
    receiver: str
    telephone: str = ""
    email: str | None = None
    company: str | None = None
    shipping_way_id: int | None = None


class OrderLine(SunskyModel):
    item_no: str
    title: str | None = None
    qty: int
    price: Money = None
    amount: Money = None


class SunskyOrder(SunskyModel):
    number: str
    site_number: str | None = None
    status: int
    amount: Money = None
    shipping_cost: Money = None
    total_amount: Money = None
    gmt_created: SunskyTime = None
    gmt_paid: SunskyTime = None
    gmt_shipped: SunskyTime = None
    gmt_delivered: SunskyTime = None
    shipping_way: ShippingWay | None = None
    tracking_number: str | None = None
    cancel_reason: str | None = None  # the sandbox sends it; SUNSKY may not
    delivery_address: DeliveryAddress | None = None
    lines: list[OrderLine] = Field(default_factory=list, alias="detailList")

    @property
    def tracking_url(self) -> str | None:
        """``shippingWay.queryUrl + trackingNumber`` (reference 6.4), when both are known."""
        query_url = self.shipping_way.query_url if self.shipping_way else None
        if query_url and self.tracking_number:
            return f"{query_url}{self.tracking_number}"
        return None

    @property
    def status_name(self) -> str:
        return STATUS_NAMES.get(self.status, "unknown")


class OrderPage(SunskyModel):
    """One ``getOrderList`` page. The list holds every order of the account, ours or not: an
    entry this model cannot read is left out and counted in ``skipped`` (and logged), so one
    odd order does not make the whole page unreadable."""

    total: int
    page_count: int
    orders: list[SunskyOrder] = Field(default_factory=list, alias="result")
    skipped: int = 0

    @model_validator(mode="before")
    @classmethod
    def _leave_out_unreadable(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not isinstance(data.get("result"), list):
            return data
        readable = [entry for entry in data["result"] if readable_order(entry)]
        skipped = len(data["result"]) - len(readable)
        if skipped:
            logger.warning("getOrderList: left out %d unreadable order(s) of %d", skipped,
                           len(data["result"]))
        return {**data, "result": readable, "skipped": skipped}


def readable_order(entry: Any) -> bool:
    """True when ``entry`` parses as a ``SunskyOrder``."""
    try:
        SunskyOrder.model_validate(entry)
    except ValidationError:
        return False
    return True


class Bill(SunskyModel):
    """One balance movement; a negative ``amount`` is a debit, ``balance`` is after it."""

    amount: Decimal
    balance: Decimal
    gmt_created: SunskyTime = None
    tx_type: str | None = None
    ref_id: str | None = None


class BillPage(SunskyModel):
    total: int
    page_count: int
    bills: list[Bill] = Field(default_factory=list, alias="result")


class Product(SunskyModel):
    item_no: str
    name: str
    price: Decimal
    stock: int | None = None
    status: int | None = None
    moq: int | None = None
    description: str | None = None
    gmt_modified: SunskyTime = None


class OrderItem(SunskyModel):
    item_no: str = Field(min_length=1)
    qty: int = Field(gt=0)
    remark: str | None = None


class CreateOrderRequest(SunskyModel):
    """Everything ``order!createOrder.do`` needs; ``site_number`` is our idempotency handle."""

    site_number: str = Field(min_length=1, max_length=32)
    items: list[OrderItem] = Field(min_length=1)
    address: DeliveryAddress
    use_balance_only: bool = True
    coupon: str | None = None
    vat_number: str | None = None
    eori_number: str | None = None
    ioss_number: str | None = None

    @field_validator("items", mode="before")
    @classmethod
    def _items_from_tuples(cls, value: object) -> object:
        if isinstance(value, Sequence) and not isinstance(value, str):
            return [_as_item(v) for v in value]
        return value

    def to_params(self) -> dict[str, object]:
        """Form parameters as in reference 6.3: ``items.N.*`` (N from 1), ``deliveryAddress.*``."""
        params: dict[str, object] = {
            "siteNumber": self.site_number,
            "useBalanceOnly": self.use_balance_only,
            "coupon": self.coupon,
            "vatNumber": self.vat_number,
            "eoriNumber": self.eori_number,
            "iossNumber": self.ioss_number,
        }
        params.update(item_params(self.items))
        address = self.address.model_dump(by_alias=True, exclude_none=True)
        params.update({f"deliveryAddress.{name}": v for name, v in address.items()})
        params["deliveryAddress.shipment"] = "drop"
        return {name: value for name, value in params.items() if value is not None}


def _as_item(value: object) -> object:
    if isinstance(value, tuple) and len(value) == 2:
        return {"item_no": value[0], "qty": value[1]}
    return value


def item_params(items: Sequence[OrderItem | tuple[str, int]]) -> dict[str, object]:
    """``items.1.itemNo``, ``items.1.qty``, ``items.1.remark``, ``items.2.itemNo``, ..."""
    params: dict[str, object] = {}
    for index, raw in enumerate(items, start=1):
        item = raw if isinstance(raw, OrderItem) else OrderItem(item_no=raw[0], qty=raw[1])
        params[f"items.{index}.itemNo"] = item.item_no
        params[f"items.{index}.qty"] = item.qty
        params[f"items.{index}.remark"] = item.remark
    return params
