"""SunskyClient over ``httpx.MockTransport``: request shape, retries, createOrder's single shot,
paging, the call budget on a fake clock, and the typed models. No sockets."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from pydantic import ValidationError

from shared.settings import Settings
from shared.sunsky.budget import (
    PAUSE_SECONDS,
    BudgetConfig,
    BudgetUnavailable,
    CallBudget,
    Priority,
    Taken,
)
from shared.sunsky.client import SunskyClient
from shared.sunsky.errors import (
    SunskyAuthError,
    SunskyProtocolError,
    SunskyTransientError,
    SunskyUnknownOutcomeError,
)
from shared.sunsky.models import (
    CreateOrderRequest,
    DeliveryAddress,
    OrderItem,
    SunskyOrder,
)
from shared.sunsky.signing import verify
from tests.fakes import FakeBudgetStore

KEY, SECRET = "unit-key", "unit-secret-Zq9"
BASE = "https://sunsky.test"
Reply = httpx.Response | Exception
Handler = Callable[[httpx.Request], Reply]


class FakeSunsky:
    """A scripted server: records every request, answers from ``replies`` in order."""

    def __init__(self, *replies: Reply, handler: Handler | None = None) -> None:
        self.replies = list(replies)
        self.handler = handler
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        reply = self.handler(request) if self.handler else self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return reply

    def form(self, index: int = -1) -> dict[str, str]:
        return dict(parse_qsl(self.requests[index].content.decode(), keep_blank_values=True))


def ok(data: object) -> httpx.Response:
    return httpx.Response(200, json={"result": "success", "data": data})


def err(*messages: str) -> httpx.Response:
    return httpx.Response(200, json={"result": "error", "messages": list(messages)})


def client_for(server: FakeSunsky, **kwargs: Any) -> SunskyClient:
    options: dict[str, Any] = {"backoff_base": 0.0}
    options.update(kwargs)
    return SunskyClient(BASE, KEY, SECRET, transport=httpx.MockTransport(server), **options)


ORDER = {
    "number": "2301144841", "siteNumber": "INV-1", "status": 2, "amount": "15.4000",
    "shippingCost": "2.9300", "totalAmount": "18.3300", "gmtCreated": "2026-1-14 05:55:50",
    "gmtPaid": "2026-2-2 02:45:26", "trackingNumber": None, "coupon": None,
    "shippingWay": {"queryUrl": "https://t.17track.net/en#nums=", "name": "Postnord", "id": 246},
    "detailList": [{"itemNo": "S-CAB-0042", "title": "Cable", "qty": 2, "price": "7.7000",
                    "amount": "15.4000", "weight": "0.1"}],
}
ADDRESS = DeliveryAddress(
    country_id=41, state="NY", city="New York", address="1 Main St", postcode="10001",
    receiver="Jo Doe", telephone="123456", email="jo@example.com", shipping_way_id=246,
)


# An attempt's start just before ORDER's gmtCreated (look-ups go from there).
SINCE = datetime(2026, 1, 14, 5, 50, tzinfo=UTC)


def order_request(site_number: str = "INV-1") -> CreateOrderRequest:
    return CreateOrderRequest(
        site_number=site_number, items=[("S-CAB-0042", 2), ("S-IP4G-0363", 1)], address=ADDRESS
    )


# --- request shape ---------------------------------------------------------------------------


async def test_request_is_a_signed_form_post_to_the_literal_bang_path() -> None:
    server = FakeSunsky(ok("5.2600"))
    async with client_for(server) as client:
        assert await client.get_balance() == Decimal("5.2600")

    request = server.requests[0]
    assert request.method == "POST"
    assert request.url.raw_path == b"/openapi/order!getBalance.do"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert request.headers["user-agent"].startswith("sunsky-dropship")
    assert request.url.query == b""
    form = server.form()
    assert form["key"] == KEY and verify(form, SECRET)
    assert SECRET not in request.content.decode()


async def test_create_order_sends_the_documented_parameters() -> None:
    server = FakeSunsky(ok(ORDER))
    async with client_for(server) as client:
        order = await client.create_order(order_request())

    form = server.form()
    assert order.number == "2301144841"
    assert form["items.1.itemNo"] == "S-CAB-0042" and form["items.1.qty"] == "2"
    assert form["items.2.itemNo"] == "S-IP4G-0363" and form["items.2.qty"] == "1"
    assert form["siteNumber"] == "INV-1" and form["useBalanceOnly"] == "true"
    assert form["deliveryAddress.countryId"] == "41"
    assert form["deliveryAddress.shippingWayId"] == "246"
    assert form["deliveryAddress.shipment"] == "drop"
    assert "deliveryAddress.address2" not in form
    assert verify(form, SECRET)


async def test_quote_sends_top_level_country_and_parses_freights() -> None:
    data = {
        "freightList": [{"id": 7, "name": "USPS", "shippingCost": "3.1000", "transitTime": "8 - 12",
                         "logo": "x.png"}],
        "priceList": [{"itemNo": "S-CAB-0042", "qty": 2, "price": "1.5000", "amount": "3.0000"}],
    }
    server = FakeSunsky(ok(data))
    async with client_for(server) as client:
        quote = await client.get_prices_and_freights(41, [("S-CAB-0042", 2)], state="IL")

    form = server.form()
    assert (form["countryId"], form["state"], form["items.1.itemNo"]) == ("41", "IL", "S-CAB-0042")
    assert quote.freight_options[0].shipping_cost == Decimal("3.1000")
    assert quote.prices[0].amount == Decimal("3.0000")


# --- retries ---------------------------------------------------------------------------------


async def test_reads_retry_transient_failures_then_succeed() -> None:
    server = FakeSunsky(httpx.Response(503), httpx.ReadTimeout("slow"), ok("1.0000"))
    delays: list[float] = []

    async def record(seconds: float) -> None:
        delays.append(seconds)

    async with client_for(server, backoff_base=0.2, sleep=record) as client:
        assert await client.get_balance() == Decimal("1.0000")

    assert len(server.requests) == 3
    assert client.calls["order!getBalance.do"] == 3
    assert 0.1 <= delays[0] <= 0.2 and 0.2 <= delays[1] <= 0.4  # exponential with jitter


async def test_reads_give_up_after_read_retries() -> None:
    server = FakeSunsky(handler=lambda _: httpx.Response(502))
    async with client_for(server, read_retries=2) as client:
        with pytest.raises(SunskyTransientError) as caught:
            await client.get_countries()

    assert caught.value.code == "SERVER_ERROR"
    assert len(server.requests) == 3


async def test_reads_do_not_retry_errors_a_retry_cannot_fix() -> None:
    server = FakeSunsky(handler=lambda _: err("NO_PERMISSION_DUE_TO_SIGNATURE"))
    async with client_for(server) as client:
        with pytest.raises(SunskyAuthError):
            await client.get_balance()

    assert len(server.requests) == 1


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (httpx.Response(503), SunskyUnknownOutcomeError),
        (httpx.ReadTimeout("slow"), SunskyUnknownOutcomeError),
        (httpx.RemoteProtocolError("Server disconnected"), SunskyUnknownOutcomeError),
        (httpx.Response(200, text="<html>oops</html>"), SunskyUnknownOutcomeError),
        (ok({"weird": True}), SunskyUnknownOutcomeError),
        (err("CALL_FREQUENCY_EXCEEDED"), SunskyTransientError),
        (httpx.ConnectError("refused"), SunskyTransientError),
    ],
)
async def test_create_order_is_never_retried(reply: Reply, expected: type[Exception]) -> None:
    server = FakeSunsky(handler=lambda _: reply)
    async with client_for(server, read_retries=5) as client:
        with pytest.raises(expected):
            await client.create_order(order_request())

    assert len(server.requests) == 1
    assert client.calls["order!createOrder.do"] == 1


async def test_create_order_with_a_thin_echo_reads_the_order_back() -> None:
    server = FakeSunsky(ok({"number": "2301144841"}), ok(ORDER))
    async with client_for(server) as client:
        order = await client.create_order(order_request())

    assert order.total_amount == Decimal("18.3300")
    assert server.requests[1].url.raw_path.endswith(b"order!getOrderDetails.do")
    assert server.form(1)["number"] == "2301144841"


async def test_create_order_thin_echo_unreadable_is_an_unknown_outcome() -> None:
    server = FakeSunsky(ok({"number": "2301144841"}), httpx.Response(500), httpx.Response(500))
    async with client_for(server, read_retries=1) as client:
        with pytest.raises(SunskyUnknownOutcomeError, match="2301144841"):
            await client.create_order(order_request())

    assert client.calls["order!createOrder.do"] == 1


async def test_balance_that_is_not_a_number_is_a_protocol_error() -> None:
    server = FakeSunsky(handler=lambda _: ok("lots"))
    async with client_for(server, read_retries=0) as client:
        with pytest.raises(SunskyProtocolError):
            await client.get_balance()


async def test_odd_success_payload_on_a_read_is_a_protocol_error_and_not_retried() -> None:
    server = FakeSunsky(handler=lambda _: ok([{"id": "not-a-number"}]))
    async with client_for(server, read_retries=1) as client:
        with pytest.raises(SunskyProtocolError):
            await client.get_countries()

    assert len(server.requests) == 1  # the same body would come back: spare the call budget


async def test_a_throttled_read_waits_seconds_before_trying_again() -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    server = FakeSunsky(err("CALL_FREQUENCY_EXCEEDED"), ok("5.2600"))
    async with client_for(server, read_retries=2, sleep=sleep) as client:
        assert await client.get_balance() == Decimal("5.26")
    assert len(slept) == 1 and slept[0] >= 1.0


def page(*entries: dict[str, Any]) -> httpx.Response:
    return ok({"total": len(entries), "pageCount": 1, "result": list(entries)})


async def test_one_unreadable_order_does_not_hide_the_rest_of_a_page() -> None:
    broken = {"number": "1", "status": None, "detailList": [{"itemNo": "X", "qty": None}]}
    server = FakeSunsky(page(broken, ORDER))
    async with client_for(server) as client:
        result = await client.get_order_list(created_from=date(2026, 1, 1),
                                             created_to=date(2026, 1, 2))
    assert [o.number for o in result.orders] == [ORDER["number"]] and result.skipped == 1


async def test_look_up_asks_the_details_when_a_list_entry_does_not_say_its_site_number() -> None:
    listed = {k: v for k, v in ORDER.items() if k != "siteNumber"}

    def answer(request: httpx.Request) -> httpx.Response:
        if "getOrderDetails" in request.url.path:
            return ok(ORDER)
        return page(listed)

    server = FakeSunsky(handler=answer)
    async with client_for(server) as client:
        found = await client.find_order_by_site_number("INV-1", not_before=SINCE)
    assert found is not None and found.number == ORDER["number"]
    assert any("getOrderDetails" in r.url.path for r in server.requests)


async def test_look_up_never_says_none_for_an_entry_it_could_not_read() -> None:
    unreadable = {"siteNumber": "INV-1", "status": "?"}  # ours, but without a number
    async with client_for(FakeSunsky(page(unreadable))) as client:
        with pytest.raises(SunskyProtocolError):
            await client.find_order_by_site_number("INV-1", not_before=SINCE)


# --- secrets and logging ---------------------------------------------------------------------


async def test_errors_never_carry_the_secret_or_the_signature() -> None:
    def echo(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, text=f"boom secret={SECRET} {request.content.decode()}")

    server = FakeSunsky(handler=echo)
    async with client_for(server, read_retries=0) as client:
        with pytest.raises(SunskyTransientError) as caught:
            await client.get_balance()

    signature = server.form()["signature"]
    assert SECRET not in str(caught.value) and signature not in str(caught.value)
    assert SECRET not in repr(caught.value.messages)


async def test_one_debug_line_per_call_without_secrets(caplog: pytest.LogCaptureFixture) -> None:
    server = FakeSunsky(httpx.Response(503), ok("1.0000"))
    with caplog.at_level(logging.DEBUG, logger="shared.sunsky.client"):
        async with client_for(server) as client:
            await client.get_balance()

    lines = [r.getMessage() for r in caplog.records if r.name == "shared.sunsky.client"]
    assert len(lines) == 2
    assert "order!getBalance.do" in lines[0] and "SERVER_ERROR" in lines[0]
    assert lines[1].endswith(" ok")
    signature = server.form()["signature"]
    assert not any(SECRET in line or signature in line for line in lines)


# --- paging and lookup by siteNumber ---------------------------------------------------------


def paged(pages: list[list[dict[str, object]]]) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        form = dict(parse_qsl(request.content.decode()))
        rows = pages[int(form["page"]) - 1]
        total = sum(len(p) for p in pages)
        return ok({"total": total, "pageCount": len(pages), "result": rows})

    return handler


def listed(number: str, site_number: str) -> dict[str, object]:
    return {"number": number, "siteNumber": site_number, "status": 2}


async def test_iter_orders_walks_every_page_with_us_dates() -> None:
    server = FakeSunsky(handler=paged([[listed("1", "A"), listed("2", "B")], [listed("3", "C")]]))
    async with client_for(server) as client:
        orders = [o async for o in client.iter_orders(
            created_from=date(2026, 1, 2), created_to=date(2026, 1, 31), page_size=2)]

    assert [o.number for o in orders] == ["1", "2", "3"]
    first = server.form(0)
    assert (first["gmtCreatedStart"], first["gmtCreatedEnd"]) == ("01/02/2026", "01/31/2026")
    assert (first["page"], first["pageSize"]) == ("1", "2")


async def test_find_by_site_number_matches_client_side_when_the_filter_is_ignored() -> None:
    pages = [[listed("1", "A")], [listed("2", "WANTED")], [listed("3", "C")]]
    server = FakeSunsky(handler=paged(pages))
    async with client_for(server) as client:
        found = await client.find_order_by_site_number("WANTED", not_before=SINCE)

    assert found is not None and found.number == "2"
    assert len(server.requests) == 2  # stops at the page with the match
    assert server.form(0)["siteNumber"] == "WANTED"


async def test_find_by_site_number_returns_none_when_absent() -> None:
    server = FakeSunsky(handler=paged([[listed("1", "A")], [listed("3", "WANTED-2")]]))
    async with client_for(server) as client:
        found = await client.find_order_by_site_number("WANTED", not_before=SINCE)

    assert found is None
    assert len(server.requests) == 2


async def test_page_size_over_the_maximum_is_refused_before_sending() -> None:
    server = FakeSunsky()
    async with client_for(server) as client:
        with pytest.raises(ValueError, match="page_size"):
            await client.get_order_list(created_from=date.today(), created_to=date.today(),
                                        page_size=101)

    assert server.requests == []


# --- rate limiting ---------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def budget_on(clock: FakeClock, rate: float, *, burst: int = 1) -> CallBudget:
    """An account budget on ``clock`` (no tracking pocket: the plain bucket)."""
    config = BudgetConfig(rate, burst, tracking_share=0)
    return CallBudget(config, FakeBudgetStore(config, clock), clock=clock, sleep=clock.sleep)


async def test_the_budget_spaces_calls_at_the_configured_rate() -> None:
    clock = FakeClock()
    budget = budget_on(clock, 2.0)
    granted = []
    for _ in range(4):
        await budget.acquire(Priority.PLACEMENT)
        granted.append(clock.now)

    assert granted == pytest.approx([100.0, 100.5, 101.0, 101.5], abs=0.01)


async def test_the_budget_counts_idle_time_as_budget() -> None:
    clock = FakeClock()
    budget = budget_on(clock, 2.0)
    await budget.acquire(Priority.PLACEMENT)
    clock.now += 5
    await budget.acquire(Priority.PLACEMENT)

    assert clock.sleeps == []


async def test_zero_rate_means_no_budget() -> None:
    clock = FakeClock()
    budget = budget_on(clock, 0)
    for _ in range(10):
        await budget.acquire(Priority.PLACEMENT)

    assert clock.sleeps == []


async def test_every_client_attempt_spends_a_token() -> None:
    clock = FakeClock()
    server = FakeSunsky(httpx.Response(503), ok("1"), ok("2"))
    async with client_for(server, budget=budget_on(clock, 4.0)) as client:
        await client.get_balance()
        await client.get_balance()

    assert clock.sleeps == pytest.approx([0.25, 0.25], abs=0.01)  # 3 attempts, 0.25 s apart


async def test_a_throttled_answer_pauses_the_whole_account() -> None:
    clock = FakeClock()
    budget = budget_on(clock, 4.0, burst=4)
    server = FakeSunsky(err("CALL_FREQUENCY_EXCEEDED"), ok("1"))
    async with client_for(server, budget=budget) as client:
        await client.get_balance()

    # the retry waited out the account's pause (2 s), not just the read's own back-off
    assert clock.now - 100.0 >= PAUSE_SECONDS


class _BlinkingStore(FakeBudgetStore):
    """PostgreSQL away for the first ``down`` takes (a restart: stale pooled connections)."""

    def __init__(self, config: BudgetConfig, clock: FakeClock, down: int) -> None:
        super().__init__(config, clock)
        self.down = down

    async def take(self, priority: Priority, want: int, *, now: float | None = None) -> Taken:
        if self.down:
            self.down -= 1
            raise BudgetUnavailable("ConnectionDoesNotExistError: connection was closed")
        return await super().take(priority, want, now=now)


async def test_a_budget_blip_is_transient_a_read_rides_it_out_and_nothing_is_sent_meanwhile(
        ) -> None:
    clock = FakeClock()
    config = BudgetConfig(4.0, 1, tracking_share=0)
    store = _BlinkingStore(config, clock, down=1)
    server = FakeSunsky(ok("1"))
    async with client_for(server, budget=CallBudget(config, store, clock=clock,
                                                    sleep=clock.sleep)) as client:
        assert await client.get_balance() == Decimal("1")
        store.down = 5
        with pytest.raises(SunskyTransientError) as refused:
            await client.get_balance()

    assert len(server.requests) == 1  # the refused attempts never left
    assert refused.value.code == "BUDGET_UNAVAILABLE" and refused.value.retryable


def test_from_settings_uses_the_sunsky_settings() -> None:
    settings = Settings(sunsky_base_url="http://127.0.0.1:9/", sunsky_api_key="k",
                        sunsky_api_secret="s", sunsky_read_retries=0)
    client = SunskyClient.from_settings(settings)

    assert client.base_url == "http://127.0.0.1:9"


# --- models ----------------------------------------------------------------------------------


def test_order_model_parses_sunsky_formats_and_ignores_unknown_fields() -> None:
    order = SunskyOrder.model_validate(
        {**ORDER, "gmtShipped": "02/06/2026 03:31", "trackingNumber": "LX1", "newField": 1}
    )

    assert order.gmt_created == datetime(2026, 1, 14, 5, 55, 50, tzinfo=UTC)
    assert order.gmt_shipped == datetime(2026, 2, 6, 3, 31, tzinfo=UTC)
    assert order.amount == Decimal("15.4000") and order.lines[0].item_no == "S-CAB-0042"
    assert order.tracking_url == "https://t.17track.net/en#nums=LX1"
    assert order.status_name == "paid"
    with pytest.raises(ValidationError):
        order.status = 3  # type: ignore[misc]


def test_tracking_url_needs_both_parts() -> None:
    assert SunskyOrder.model_validate(ORDER).tracking_url is None
    no_way = SunskyOrder.model_validate({**ORDER, "shippingWay": None, "trackingNumber": "X"})
    assert no_way.tracking_url is None


def test_create_order_request_accepts_tuples_or_items() -> None:
    by_tuple = order_request()
    by_item = CreateOrderRequest(
        site_number="INV-1",
        items=[OrderItem(item_no="S-CAB-0042", qty=2), OrderItem(item_no="S-IP4G-0363", qty=1)],
        address=ADDRESS,
    )

    assert by_tuple.to_params() == by_item.to_params()
    with pytest.raises(ValidationError):
        CreateOrderRequest(site_number="INV-1", items=[], address=ADDRESS)
