"""SunskyClient against servers over real loopback HTTP (STYLE.md points 13, 14).

1. The sandbox (``sandbox`` fixture): every protocol path the workers depend on, including the
   failure paths the error hierarchy promises (duplicate, low balance, bad credentials, unknown
   item, dropped createOrder response, unknown order).
2. An independent minimal aiohttp server written here, which checks the signature exactly as the
   reference describes it (not through ``shared.sunsky.signing``), so client and sandbox cannot
   agree on a shared mistake.
3. The ``dropship sunsky`` CLI as a real process.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import uuid4

import httpx
import pytest
from aiohttp import web

from shared.sunsky.client import SunskyClient
from shared.sunsky.errors import (
    SunskyAuthError,
    SunskyDuplicateOrderError,
    SunskyNeedsActionError,
    SunskyNotFoundError,
    SunskyTransientError,
    SunskyUnknownOutcomeError,
)
from shared.sunsky.models import CreateOrderRequest, DeliveryAddress, SunskyOrder

pytestmark = pytest.mark.integration

US = 41
CABLE, PHONE_PART = "S-CAB-0042", "S-IP4G-0363"
CREATE_ORDER = "order!createOrder.do"


def site_number() -> str:
    return f"CT-{uuid4().hex[:16]}"


def us_address(shipping_way_id: int | None) -> DeliveryAddress:
    return DeliveryAddress(
        country_id=US, state="IL", city="Chicago", address="1 Contract St", postcode="60601",
        receiver="Contract Test", telephone="3125550100", email="ct@example.com",
        shipping_way_id=shipping_way_id,
    )


def since_yesterday() -> Any:
    return (datetime.now(UTC) - timedelta(days=1)).date()


def a_minute_ago() -> datetime:
    """An attempt's start, for the look-up: just before the test created its order."""
    return datetime.now(UTC) - timedelta(minutes=1)


def make_client(base_url: str, key: str, secret: str, **kwargs: Any) -> SunskyClient:
    options: dict[str, Any] = {"backoff_base": 0.01, "timeout": 10.0}
    options.update(kwargs)
    return SunskyClient(base_url, key, secret, **options)


@pytest.fixture
async def client(sandbox: Any) -> AsyncIterator[SunskyClient]:
    async with make_client(sandbox.base_url, sandbox.config.api_key,
                           sandbox.config.api_secret) as sunsky:
        yield sunsky


@pytest.fixture
async def controls(sandbox: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=sandbox.base_url, timeout=10.0) as http:
        yield http
        await http.delete("/_sandbox/faults")


async def shipping_way(client: SunskyClient, items: list[tuple[str, int]]) -> int:
    quote = await client.get_prices_and_freights(US, items, state="IL")
    return quote.freight_options[0].id


async def place(client: SunskyClient, site: str, items: list[tuple[str, int]] | None = None
                ) -> SunskyOrder:
    lines = items or [(CABLE, 1)]
    request = CreateOrderRequest(site_number=site, items=lines,
                                 address=us_address(await shipping_way(client, lines)))
    return await client.create_order(request)


# --- 1. the sandbox ----------------------------------------------------------------------------


async def test_countries_include_the_us_with_states(client: SunskyClient) -> None:
    countries = {c.id: c for c in await client.get_countries()}

    us = countries[US]
    assert (us.code, us.ship_to_state) == ("US", True)
    assert {"IL", "NY"} <= {s.code for s in us.states}


async def test_quote_returns_freight_options_and_prices(client: SunskyClient) -> None:
    quote = await client.get_prices_and_freights(US, [(CABLE, 2), (PHONE_PART, 1)], state="IL")

    assert quote.freight_options and all(f.shipping_cost >= 0 for f in quote.freight_options)
    assert {p.item_no for p in quote.prices} == {CABLE, PHONE_PART}


async def test_country_without_shipping_ways_gets_no_freight_options(
    client: SunskyClient,
) -> None:
    brazil = next(c for c in await client.get_countries() if c.code == "BR")
    quote = await client.get_prices_and_freights(brazil.id, [(CABLE, 1)])

    assert quote.freight_options == []


async def test_create_then_details_then_list_by_site_number(client: SunskyClient) -> None:
    site = site_number()
    created = await place(client, site, [(CABLE, 2), (PHONE_PART, 1)])

    details = await client.get_order_details(created.number)
    found = await client.find_order_by_site_number(site, not_before=a_minute_ago())

    assert details.site_number == site and details.number == created.number
    assert {(line.item_no, line.qty) for line in details.lines} == {(CABLE, 2), (PHONE_PART, 1)}
    assert details.total_amount == (details.amount or 0) + (details.shipping_cost or 0)
    assert details.gmt_created is not None and details.gmt_created.tzinfo is not None
    assert found is not None and found.number == created.number


async def test_balance_is_debited_and_billed(client: SunskyClient) -> None:
    before = await client.get_balance()
    order = await place(client, site_number())
    after = await client.get_balance()
    bills = await client.get_bill_list(created_from=since_yesterday(),
                                       created_to=datetime.now(UTC).date() + timedelta(days=1))

    assert after == before - (order.total_amount or Decimal(0))
    bill = next(b for b in bills.bills if b.ref_id == order.number)
    assert (bill.tx_type, bill.amount, bill.balance) == ("createOrder", after - before, after)


async def test_duplicate_site_number_is_refused(client: SunskyClient) -> None:
    site = site_number()
    await place(client, site)

    with pytest.raises(SunskyDuplicateOrderError) as caught:
        await place(client, site)
    assert caught.value.code == "DUPLICATE_SITE_NUMBER"


async def test_low_balance_needs_action(client: SunskyClient, controls: httpx.AsyncClient) -> None:
    previous = (await controls.get("/_sandbox/balance")).json()["balance"]
    (await controls.post("/_sandbox/balance", json={"set": "5.00"})).raise_for_status()
    try:
        with pytest.raises(SunskyNeedsActionError) as caught:
            await place(client, site_number(), [(CABLE, 50)])
    finally:
        await controls.post("/_sandbox/balance", json={"set": previous})

    assert caught.value.code == "BALANCE_NOT_ENOUGH"
    assert caught.value.fix_hint == "Top up the SUNSKY balance, then retry the order"


async def test_wrong_secret_is_an_auth_error(sandbox: Any) -> None:
    async with make_client(sandbox.base_url, sandbox.config.api_key, "wrong-secret") as bad:
        with pytest.raises(SunskyAuthError) as caught:
            await bad.get_balance()

    assert caught.value.code == "NO_PERMISSION_DUE_TO_SIGNATURE"
    assert bad.calls["order!getBalance.do"] == 1  # not retried
    assert "wrong-secret" not in str(caught.value)


async def test_unknown_item_needs_action(client: SunskyClient) -> None:
    with pytest.raises(SunskyNeedsActionError) as on_quote:
        await client.get_prices_and_freights(US, [("S-NOPE-0000", 1)], state="IL")
    request = CreateOrderRequest(site_number=site_number(), items=[("S-NOPE-0000", 1)],
                                 address=us_address(await shipping_way(client, [(CABLE, 1)])))
    with pytest.raises(SunskyNeedsActionError) as on_create:
        await client.create_order(request)

    assert on_quote.value.code == on_create.value.code == "ITEM_NOT_EXIST"


async def test_invalid_address_needs_action(client: SunskyClient) -> None:
    way = await shipping_way(client, [(CABLE, 1)])
    no_state = us_address(way).model_copy(update={"state": None})
    request = CreateOrderRequest(site_number=site_number(), items=[(CABLE, 1)], address=no_state)

    with pytest.raises(SunskyNeedsActionError) as caught:
        await client.create_order(request)
    assert caught.value.code == "INVALID_DELIVERY_ADDRESS"


async def test_dropped_create_response_is_unknown_outcome_then_found(
    client: SunskyClient, controls: httpx.AsyncClient
) -> None:
    site = site_number()
    way = await shipping_way(client, [(CABLE, 1)])
    faults = {"drop_response_rate": 1.0, "timeout_hold_seconds": 1}
    (await controls.post("/_sandbox/faults", json=faults)).raise_for_status()
    request = CreateOrderRequest(site_number=site, items=[(CABLE, 1)], address=us_address(way))
    try:
        with pytest.raises(SunskyUnknownOutcomeError):
            await client.create_order(request)
    finally:
        await controls.delete("/_sandbox/faults")

    found = await client.find_order_by_site_number(site, not_before=a_minute_ago())
    log = (await controls.get("/_sandbox/requests", params={"path": CREATE_ORDER})).json()
    sent = [r for r in log["requests"] if r["params"].get("siteNumber") == site]
    assert found is not None and found.site_number == site
    assert len(sent) == 1  # sent once, never retried


async def test_look_up_when_the_list_neither_filters_nor_names_site_numbers(
    client: SunskyClient, controls: httpx.AsyncClient
) -> None:
    sites = [site_number() for _ in range(3)]
    numbers = [(await place(client, site)).number for site in sites]
    faults = {"list_ignores_site_number": True, "list_omits_site_number": True}
    (await controls.post("/_sandbox/faults", json=faults)).raise_for_status()
    before = sum(client.calls.values())

    found = await client.find_order_by_site_number(sites[0], not_before=a_minute_ago())
    assert found is not None and found.number == numbers[0]  # read from its details
    # one list page, then details newest first until the match: the oldest order is the last
    assert sum(client.calls.values()) - before == 1 + 3
    with pytest.raises(SunskyUnknownOutcomeError) as caught:
        await client.find_order_by_site_number(sites[0], not_before=a_minute_ago(), max_calls=2)
    assert caught.value.code == "LOOKUP_BUDGET_EXCEEDED"


async def test_unknown_order_number_is_not_found(client: SunskyClient) -> None:
    with pytest.raises(SunskyNotFoundError) as caught:
        await client.get_order_details("1999999999")

    assert caught.value.code == "NOT_FOUND"


async def test_tracking_url_after_shipping(
    client: SunskyClient, controls: httpx.AsyncClient
) -> None:
    order = await place(client, site_number())
    advanced = await controls.post(f"/_sandbox/orders/{order.number}/advance",
                                   json={"to": "shipped"})
    advanced.raise_for_status()

    shipped = await client.get_order_details(order.number)
    assert shipped.status == 3 and shipped.tracking_number
    assert shipped.shipping_way is not None and shipped.shipping_way.query_url
    assert shipped.tracking_url == f"{shipped.shipping_way.query_url}{shipped.tracking_number}"
    assert shipped.gmt_shipped is not None


async def test_product_detail(client: SunskyClient) -> None:
    product = await client.get_product_detail(CABLE)

    assert product.item_no == CABLE and product.price > 0


async def test_plain_text_user_status_is_an_auth_error(
    client: SunskyClient, controls: httpx.AsyncClient
) -> None:
    faults = {"user_status_plaintext": True}
    (await controls.post("/_sandbox/faults", json=faults)).raise_for_status()

    with pytest.raises(SunskyAuthError) as caught:
        await client.get_balance()
    assert caught.value.code == "NO_PERMISSION_DUE_TO_USER_STATUS"


async def test_server_errors_on_reads_are_retried(
    sandbox: Any, controls: httpx.AsyncClient
) -> None:
    faults = {"error_rate": 1.0, "fault_paths": ["order!getCountries.do"]}
    (await controls.post("/_sandbox/faults", json=faults)).raise_for_status()
    async with make_client(sandbox.base_url, sandbox.config.api_key, sandbox.config.api_secret,
                           read_retries=2) as sunsky:
        with pytest.raises(SunskyTransientError) as caught:
            await sunsky.get_countries()

    assert caught.value.code == "SERVER_ERROR"
    assert sunsky.calls["order!getCountries.do"] == 3


async def test_throttling_is_transient(client: SunskyClient, controls: httpx.AsyncClient) -> None:
    (await controls.post("/_sandbox/faults", json={"throttle_per_second": 1})).raise_for_status()
    request = CreateOrderRequest(site_number=site_number(), items=[(CABLE, 1)],
                                 address=us_address(None))
    await client.get_countries()  # uses the one call this second

    with pytest.raises(SunskyTransientError) as caught:
        await client.create_order(request)
    assert caught.value.code == "CALL_FREQUENCY_EXCEEDED"


# --- 2. an independent server that signs by the book -------------------------------------------

REF_KEY, REF_SECRET = "REFKEY", "REF-SECRET"


def reference_signature(params: dict[str, str], secret: str) -> str:
    """Section 2, literally: values of all params but ``signature``, sorted by name, + @secret."""
    names = sorted(name for name in params if name != "signature")
    joined = "".join(params[name] for name in names) + "@" + secret
    return hashlib.md5(joined.encode("utf-8")).hexdigest()


class ReferenceServer:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str, dict[str, str]]] = []

    async def handle(self, request: web.Request) -> web.Response:
        form = await request.post()
        params = {name: str(form[name]) for name in form}
        self.seen.append((request.method, request.raw_path, request.content_type, params))
        if params.get("key") != REF_KEY or params.get("signature") != reference_signature(
            params, REF_SECRET
        ):
            return web.json_response({"result": "error",
                                      "messages": ["NO_PERMISSION_DUE_TO_SIGNATURE"]})
        return web.json_response({"result": "success", "data": self.data(request, params)})

    def data(self, request: web.Request, params: dict[str, str]) -> object:
        action = request.match_info["action"]
        if action == "order!getBalance.do":
            return "5.2600"
        if action == "order!getPricesAndFreights.do":
            return {"freightList": [{"id": 246, "name": "Postnord", "shippingCost": "2.9300"}]}
        return {"number": "2301144841", "status": 1, "siteNumber": params.get("siteNumber")}


@pytest.fixture
async def reference() -> AsyncIterator[tuple[str, ReferenceServer]]:
    server = ReferenceServer()
    app = web.Application()
    app.router.add_post("/openapi/{action}", server.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}", server
    finally:
        await runner.cleanup()


async def test_independent_server_accepts_the_clients_signatures(
    reference: tuple[str, ReferenceServer],
) -> None:
    base_url, server = reference
    many = [(f"S-ITEM-{n:04d}", n) for n in range(1, 13)]  # items.1 < items.10 < items.2
    async with make_client(base_url, REF_KEY, REF_SECRET) as sunsky:
        assert await sunsky.get_balance() == Decimal("5.2600")
        quote = await sunsky.get_prices_and_freights(US, many, state="NY")
        order = await sunsky.create_order(CreateOrderRequest(
            site_number="INV-张三 1", items=[(CABLE, 1)],
            address=us_address(quote.freight_options[0].id).model_copy(
                update={"receiver": "张 三", "address2": "Apt 5 & 6"}),
        ))

    assert order.number == "2301144841" and order.site_number == "INV-张三 1"
    for method, raw_path, content_type, params in server.seen:
        assert (method, content_type) == ("POST", "application/x-www-form-urlencoded")
        assert raw_path.startswith("/openapi/order!") and raw_path.endswith(".do")
        assert REF_SECRET not in params.values()
    assert server.seen[1][3]["items.12.qty"] == "12"
    assert server.seen[2][3]["deliveryAddress.receiver"] == "张 三"


async def test_independent_server_rejects_a_wrong_secret(
    reference: tuple[str, ReferenceServer],
) -> None:
    base_url, _ = reference
    async with make_client(base_url, REF_KEY, "not-the-secret") as sunsky:
        with pytest.raises(SunskyAuthError):
            await sunsky.get_balance()


# --- 3. the CLI as a process -------------------------------------------------------------------


async def dropship(*args: str, base_url: str, key: str, secret: str) -> tuple[int, str, str]:
    """Run ``dropship`` in a child process without blocking this loop (the sandbox may live
    in it)."""
    script = shutil.which("dropship", path=os.path.dirname(sys.executable))
    fallback = [sys.executable, "-c", "from cli.main import cli; cli()"]
    command = [script] if script else fallback
    env = {**os.environ, "SUNSKY_BASE_URL": base_url, "SUNSKY_API_KEY": key,
           "SUNSKY_API_SECRET": secret, "SUNSKY_ACCOUNT_CALLS_PER_SECOND": "0"}
    process = await asyncio.create_subprocess_exec(
        *command, *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


async def test_cli_balance(sandbox: Any, client: SunskyClient) -> None:
    expected = await client.get_balance()
    code, out, err = await dropship("sunsky", "balance", base_url=sandbox.base_url,
                                    key=sandbox.config.api_key, secret=sandbox.config.api_secret)

    assert (code, err) == (0, "")
    assert out.strip() == f"SUNSKY balance: {expected:.4f} USD"


async def test_cli_countries_and_order(sandbox: Any, client: SunskyClient) -> None:
    order = await place(client, site_number())
    creds = {"base_url": sandbox.base_url, "key": sandbox.config.api_key,
             "secret": sandbox.config.api_secret}

    code, countries, _ = await dropship("sunsky", "countries", **creds)
    assert code == 0
    assert any(line.split()[:2] == ["41", "US"] for line in countries.splitlines())
    code, shown, _ = await dropship("sunsky", "order", order.number, **creds)
    assert code == 0
    assert order.number in shown and CABLE in shown and "paid" in shown


async def test_cli_wrong_secret_is_one_clear_line(sandbox: Any) -> None:
    code, out, err = await dropship("sunsky", "balance", base_url=sandbox.base_url,
                                    key=sandbox.config.api_key, secret="wrong-secret")

    assert code == 1 and out == ""
    assert err.strip().splitlines() == [
        "error: SUNSKY rejected the credentials (NO_PERMISSION_DUE_TO_SIGNATURE): "
        "check SUNSKY_API_KEY/SUNSKY_API_SECRET"
    ]


async def test_cli_unknown_order_is_one_clear_line(sandbox: Any) -> None:
    code, _, err = await dropship("sunsky", "order", "1999999999", base_url=sandbox.base_url,
                                  key=sandbox.config.api_key, secret=sandbox.config.api_secret)

    assert code == 1
    assert len(err.strip().splitlines()) == 1 and "NOT_FOUND" in err


async def test_cli_unreachable_host_is_one_clear_line() -> None:
    code, _, err = await dropship("sunsky", "balance", base_url="http://127.0.0.1:1",
                                  key="k", secret="s")

    assert code == 1
    assert err.strip().splitlines() == [
        "error: cannot reach SUNSKY at http://127.0.0.1:1: connection refused"
    ]
