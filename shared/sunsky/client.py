"""Async SUNSKY Open API client: every endpoint, typed (reference sunsky-open-api.md).

The wire plumbing (signing, timeouts, retries, error mapping) is ``shared.sunsky.http``.

Retry policy, declared there and here and nowhere else:

- reads (every endpoint but createOrder) retry ``SunskyError.retryable`` failures up to
  ``read_retries`` times with exponential back-off and jitter;
- createOrder is sent exactly once. SUNSKY has no idempotency key, so after a timeout, a dropped
  connection, a 5xx or an odd body it raises ``SunskyUnknownOutcomeError`` and the caller checks
  ``find_order_by_site_number`` before trying again (reference section 7).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import httpx
from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from shared.observability import metrics
from shared.settings import Settings
from shared.sunsky.deadline import Confirm, Deadline
from shared.sunsky.errors import (
    SunskyError,
    odd_body,
    unknown_outcome,
)
from shared.sunsky.http import SunskyHttp, validation_summary
from shared.sunsky.lookup import TIME_ZONE_PAD, SiteNumberSearch
from shared.sunsky.models import (
    BillPage,
    Country,
    CreateOrderRequest,
    OrderPage,
    Product,
    Quote,
    SunskyOrder,
    item_params,
)

MAX_PAGE_SIZE = 100

GET_COUNTRIES = "order!getCountries.do"
GET_PRICES_AND_FREIGHTS = "order!getPricesAndFreights.do"
CREATE_ORDER = "order!createOrder.do"
GET_ORDER_DETAILS = "order!getOrderDetails.do"
GET_ORDER_LIST = "order!getOrderList.do"
GET_BALANCE = "order!getBalance.do"
GET_BILL_LIST = "order!getBillList.do"
PRODUCT_DETAIL = "product!detail.do"

_COUNTRIES = TypeAdapter(list[Country])
_BALANCE = TypeAdapter(Decimal)


class _RawPage(BaseModel):
    """A ``getOrderList`` page with its entries left as SUNSKY sent them (for the look-up)."""

    page_count: int = Field(default=0, alias="pageCount")
    result: list[dict[str, Any]] = Field(default_factory=list)


class SunskyClient(SunskyHttp):
    """Every SUNSKY endpoint the project uses, typed; satisfies ``shared.sunsky.port.Sunsky``."""

    @classmethod
    def from_settings(
        cls, settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> SunskyClient:
        return cls(
            settings.sunsky_base_url,
            settings.sunsky_api_key,
            settings.sunsky_api_secret.get_secret_value(),
            timeout=settings.sunsky_timeout_seconds,
            connect_timeout=settings.sunsky_connect_timeout_seconds,
            max_calls_per_second=settings.sunsky_max_calls_per_second,
            read_retries=settings.sunsky_read_retries,
            transport=transport,
        )

    # --- endpoints ------------------------------------------------------------------------

    async def get_countries(self) -> list[Country]:
        return await self._read(GET_COUNTRIES, {}, _COUNTRIES.validate_python)

    async def get_prices_and_freights(
        self, country_id: int, items: Sequence[tuple[str, int]], state: str | None = None
    ) -> Quote:
        params = {"countryId": country_id, "state": state, **item_params(items)}
        return await self._read(GET_PRICES_AND_FREIGHTS, params, Quote.model_validate)

    async def create_order(self, req: CreateOrderRequest, *, deadline: Deadline | None = None,
                           confirm: Confirm | None = None) -> SunskyOrder:
        """Place the order. Sent once, never retried: see the module docstring. With a
        ``deadline`` (and ``confirm``), guarded as ``shared.sunsky.http`` describes."""
        data = await self._call(CREATE_ORDER, req.to_params(), mutating=True, deadline=deadline,
                                confirm=confirm)
        try:
            return SunskyOrder.model_validate(data)
        except ValidationError as exc:
            number = data.get("number") if isinstance(data, dict) else None
            if not number:
                raise odd_body(CREATE_ORDER, [validation_summary(exc)], mutating=True) from exc
        return await self._read_back(str(number))

    async def _read_back(self, number: str) -> SunskyOrder:
        """createOrder answered with a thin echo: the order exists, fetch it in full. If that
        fails, the caller must not think "nothing happened", hence unknown outcome."""
        try:
            return await self.get_order_details(number)
        except SunskyError as exc:
            reason = f"order {number} was created but reading it back failed: {exc.code}"
            raise unknown_outcome(CREATE_ORDER, [reason]) from exc

    async def get_order_details(self, number: str) -> SunskyOrder:
        return await self._read(GET_ORDER_DETAILS, {"number": number}, SunskyOrder.model_validate)

    async def get_order_list(
        self,
        *,
        created_from: date,
        created_to: date,
        page: int = 1,
        page_size: int = 100,
        status: int | None = None,
        site_number: str | None = None,
    ) -> OrderPage:
        params = _page_params(created_from, created_to, page, page_size)
        params.update(status=status, siteNumber=site_number)
        return await self._read(GET_ORDER_LIST, params, OrderPage.model_validate)

    async def iter_orders(
        self,
        *,
        created_from: date,
        created_to: date,
        status: int | None = None,
        page_size: int = 100,
        site_number: str | None = None,
    ) -> AsyncGenerator[SunskyOrder, None]:
        """Every order in the window, page after page (``page=1..pageCount``)."""
        page, page_count = 1, 1
        while page <= page_count:
            result = await self.get_order_list(
                created_from=created_from, created_to=created_to, page=page,
                page_size=page_size, status=status, site_number=site_number,
            )
            for order in result.orders:
                yield order
            if not result.orders:
                return
            page, page_count = page + 1, result.page_count

    async def find_order_by_site_number(
        self, site_number: str, *, not_before: datetime, max_calls: int | None = None
    ) -> SunskyOrder | None:
        """The order we created with ``site_number`` no earlier than ``not_before`` (the start
        of the attempt that may have created it), or None when SUNSKY confirms there is none;
        a cancelled one only when no live one exists. At most ``max_calls`` calls, else
        ``SunskyLookupBudgetError``. How it narrows the search: ``shared.sunsky.lookup``."""
        earliest, latest = not_before - TIME_ZONE_PAD, self._wall_clock() + TIME_ZONE_PAD
        search = SiteNumberSearch(
            site_number, earliest, latest, lambda page: self._raw_page(
                site_number, earliest.date(), latest.date(), page),
            self.get_order_details, max_calls)
        return await search.run()

    async def _raw_page(self, site_number: str, first: date, last: date,
                        page: int) -> tuple[int, list[dict[str, Any]]]:
        params = _page_params(first, last, page, MAX_PAGE_SIZE)
        params["siteNumber"] = site_number
        result = await self._read(GET_ORDER_LIST, params, _RawPage.model_validate)
        return result.page_count, result.result

    async def get_balance(self) -> Decimal:
        balance = await self._read(GET_BALANCE, {}, _BALANCE.validate_python)
        metrics.balance_read(float(balance))
        return balance

    async def get_bill_list(
        self, *, created_from: date, created_to: date, page: int = 1, page_size: int = 100
    ) -> BillPage:
        params = _page_params(created_from, created_to, page, page_size)
        return await self._read(GET_BILL_LIST, params, BillPage.model_validate)

    async def get_product_detail(self, item_no: str, lang: str = "en") -> Product:
        params = {"itemNo": item_no, "lang": lang}
        return await self._read(PRODUCT_DETAIL, params, Product.model_validate)


def _page_params(
    created_from: date, created_to: date, page: int, page_size: int
) -> dict[str, object]:
    if not 1 <= page_size <= MAX_PAGE_SIZE or page < 1:
        raise ValueError(f"page must be >= 1 and page_size 1..{MAX_PAGE_SIZE}")
    return {
        "gmtCreatedStart": created_from.strftime("%m/%d/%Y"),
        "gmtCreatedEnd": created_to.strftime("%m/%d/%Y"),
        "page": page,
        "pageSize": page_size,
    }
