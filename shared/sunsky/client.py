"""Async SUNSKY Open API client (reference sunsky-open-api.md; STYLE.md point 8).

One long-lived ``httpx.AsyncClient`` per process, explicit timeouts, and the transport as the
only I/O seam (tests pass ``httpx.MockTransport``). Each call is a signed form POST to
``{base_url}/openapi/<module>!<action>.do``; failures become the exceptions drawn in
``errors.py``.

Retry policy, declared here and nowhere else:

- reads (every endpoint but createOrder) retry ``SunskyError.retryable`` failures up to
  ``read_retries`` times with exponential back-off and jitter;
- createOrder is sent exactly once. SUNSKY has no idempotency key, so after a timeout, a dropped
  connection, a 5xx or an odd body it raises ``SunskyUnknownOutcomeError`` and the caller checks
  ``find_order_by_site_number`` before trying again (reference section 7).

Every attempt waits for the shared rate limiter and is counted in ``calls`` (benchmarks read it).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import Counter
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping, Sequence
from contextlib import aclosing
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx
from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from shared.settings import Settings
from shared.sunsky.errors import (
    SunskyError,
    bad_response,
    classify_transport,
    odd_body,
    read_envelope,
    unknown_outcome,
)
from shared.sunsky.models import (
    BillPage,
    Country,
    CreateOrderRequest,
    OrderPage,
    Product,
    Quote,
    SunskyOrder,
    item_params,
    readable_order,
)
from shared.sunsky.ratelimit import RateLimiter
from shared.sunsky.signing import signed_params

logger = logging.getLogger(__name__)

USER_AGENT = "sunsky-dropship/0.1 (+httpx)"
MAX_PAGE_SIZE = 100

GET_COUNTRIES = "order!getCountries.do"
GET_PRICES_AND_FREIGHTS = "order!getPricesAndFreights.do"
CREATE_ORDER = "order!createOrder.do"
GET_ORDER_DETAILS = "order!getOrderDetails.do"
GET_ORDER_LIST = "order!getOrderList.do"
GET_BALANCE = "order!getBalance.do"
GET_BILL_LIST = "order!getBillList.do"
PRODUCT_DETAIL = "product!detail.do"

_T = TypeVar("_T")
_COUNTRIES = TypeAdapter(list[Country])
_BALANCE = TypeAdapter(Decimal)
# SUNSKY's call budget is per account and unpublished: a throttled read waits seconds, not ms.
THROTTLE_BACKOFF = 2.0
_THROTTLED = frozenset({"CALL_FREQUENCY_EXCEEDED", "RATE_LIMITED"})


class _RawPage(BaseModel):
    """A ``getOrderList`` page with its entries left as SUNSKY sent them (for the look-up)."""

    page_count: int = Field(default=0, alias="pageCount")
    result: list[dict[str, Any]] = Field(default_factory=list)


class SunskyClient:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        api_secret: str,
        *,
        timeout: float = 15.0,
        connect_timeout: float = 5.0,
        max_calls_per_second: float = 2.0,
        read_retries: int = 3,
        backoff_base: float = 0.2,
        transport: httpx.AsyncBaseTransport | None = None,
        limiter: RateLimiter | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._key = api_key
        self._secret = api_secret
        self._read_retries = read_retries
        self._backoff_base = backoff_base
        self._limiter = limiter or RateLimiter(max_calls_per_second)
        self._sleep = sleep
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout, connect=connect_timeout),
            headers={"User-Agent": USER_AGENT},
            transport=transport,
        )
        self.calls: Counter[str] = Counter()

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

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # --- endpoints ------------------------------------------------------------------------

    async def get_countries(self) -> list[Country]:
        return await self._read(GET_COUNTRIES, {}, _COUNTRIES.validate_python)

    async def get_prices_and_freights(
        self, country_id: int, items: Sequence[tuple[str, int]], state: str | None = None
    ) -> Quote:
        params = {"countryId": country_id, "state": state, **item_params(items)}
        return await self._read(GET_PRICES_AND_FREIGHTS, params, Quote.model_validate)

    async def create_order(self, req: CreateOrderRequest) -> SunskyOrder:
        """Place the order. Sent once, never retried: see the module docstring."""
        data = await self._call(CREATE_ORDER, req.to_params(), mutating=True)
        try:
            return SunskyOrder.model_validate(data)
        except ValidationError as exc:
            number = data.get("number") if isinstance(data, dict) else None
            if not number:
                raise odd_body(CREATE_ORDER, [_validation_summary(exc)], mutating=True) from exc
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
        self, site_number: str, *, created_from: date, created_to: date | None = None
    ) -> SunskyOrder | None:
        """The order we created with ``site_number``, or None.

        Sends the ``siteNumber`` filter but also matches client-side on every page, because the
        filter is only reported by third parties. ``created_to`` defaults to tomorrow (UTC), so
        SUNSKY's unstated time zone cannot hide an order placed "today".
        """
        until = created_to or datetime.now(UTC).date() + timedelta(days=1)
        entries = self._iter_raw_orders(created_from, until, site_number)
        async with aclosing(entries) as raw:
            async for entry in raw:
                found = await self._matching(entry, site_number)
                if found is not None:
                    return found
        return None

    async def _matching(self, entry: dict[str, Any], site_number: str) -> SunskyOrder | None:
        """The order if this list entry is ours. "None" here must mean "not ours", never
        "could not tell": callers place an order again on None. List entries are only known
        to carry ``number``, so an entry without ``siteNumber``, or one our model cannot read,
        is checked against its full details."""
        listed = entry.get("siteNumber")
        if listed not in (None, "", site_number):
            return None
        number = entry.get("number")
        if not number:
            raise bad_response(GET_ORDER_LIST, ["an order list entry without a number"])
        if listed == site_number and readable_order(entry):
            return SunskyOrder.model_validate(entry)
        details = await self.get_order_details(str(number))
        return details if details.site_number == site_number else None

    async def _iter_raw_orders(self, created_from: date, created_to: date,
                               site_number: str) -> AsyncGenerator[dict[str, Any], None]:
        page, page_count = 1, 1
        while page <= page_count:
            params = _page_params(created_from, created_to, page, MAX_PAGE_SIZE)
            params["siteNumber"] = site_number
            result = await self._read(GET_ORDER_LIST, params, _RawPage.model_validate)
            for entry in result.result:
                yield entry
            if not result.result:
                return
            page, page_count = page + 1, result.page_count

    async def get_balance(self) -> Decimal:
        return await self._read(GET_BALANCE, {}, _BALANCE.validate_python)

    async def get_bill_list(
        self, *, created_from: date, created_to: date, page: int = 1, page_size: int = 100
    ) -> BillPage:
        params = _page_params(created_from, created_to, page, page_size)
        return await self._read(GET_BILL_LIST, params, BillPage.model_validate)

    async def get_product_detail(self, item_no: str, lang: str = "en") -> Product:
        params = {"itemNo": item_no, "lang": lang}
        return await self._read(PRODUCT_DETAIL, params, Product.model_validate)

    # --- plumbing -------------------------------------------------------------------------

    async def _read(
        self, path: str, params: Mapping[str, object], parse: Callable[[Any], _T]
    ) -> _T:
        """A read: the call is retried on retryable errors with exponential back-off and
        jitter (much longer when SUNSKY throttles); a body of the wrong shape is not retried,
        since the same body would come back."""
        for attempt in range(self._read_retries + 1):
            try:
                data = await self._call(path, params, mutating=False)
                break
            except SunskyError as exc:
                if not exc.retryable or attempt == self._read_retries:
                    raise
                await self._sleep(self._backoff(attempt, throttled=exc.code in _THROTTLED))
        return _parsed(parse, data, path)

    def _backoff(self, attempt: int, *, throttled: bool = False) -> float:
        base = max(self._backoff_base, THROTTLE_BACKOFF) if throttled else self._backoff_base
        ceiling = base * 2.0**attempt
        return ceiling / 2 + random.uniform(0, ceiling / 2)  # jitter, not crypto

    async def _call(self, path: str, params: Mapping[str, object], *, mutating: bool) -> object:
        """One attempt: throttle, count, send, classify, log one line."""
        await self._limiter.acquire()
        self.calls[path] += 1
        started, outcome = time.perf_counter(), "interrupted"
        try:
            data = await self._exchange(path, params, mutating=mutating)
            outcome = "ok"
            return data
        except SunskyError as exc:
            outcome = f"{exc.kind}:{exc.code}"
            raise
        finally:
            elapsed_ms = (time.perf_counter() - started) * 1000
            logger.debug("sunsky %s %.0fms %s", path, elapsed_ms, outcome)

    async def _exchange(
        self, path: str, params: Mapping[str, object], *, mutating: bool
    ) -> object:
        body = signed_params(params, self._key, self._secret)
        try:
            response = await self._http.post(f"{self.base_url}/openapi/{path}", data=body)
        except httpx.HTTPError as exc:
            raise classify_transport(path, exc, mutating=mutating) from exc
        text = self._scrub(response.text)
        return read_envelope(path, response.status_code, text, mutating=mutating)

    def _scrub(self, text: str) -> str:
        return text.replace(self._secret, "***") if self._secret else text


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


def _parsed(parse: Callable[[Any], _T], data: object, path: str) -> _T:
    try:
        return parse(data)
    except ValidationError as exc:
        raise odd_body(path, [_validation_summary(exc)], mutating=False) from exc


def _validation_summary(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "data"
    return f"unexpected response shape: {where}: {first['msg']} ({exc.error_count()} errors)"
