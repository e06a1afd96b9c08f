"""The SUNSKY sandbox over real HTTP on loopback, driven with plain httpx (not our client)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
import pytest_asyncio
from aiohttp import web

from sandbox import SandboxConfig, running_sandbox
from sandbox.runner import PortInUseError, RunningSandbox
from shared.sunsky.signing import signed_params
from tests.fixtures.sandbox import reset_sandbox

pytestmark = [pytest.mark.integration, pytest.mark.timeout(10)]

KEY, SECRET = "sandbox-key", "sandbox-secret"
CREATE = "order!createOrder.do"


@pytest_asyncio.fixture(loop_scope="session")
async def http(sandbox: RunningSandbox) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=sandbox.base_url, timeout=5) as client:
        yield client


async def call(http: httpx.AsyncClient, action: str, **params: object) -> dict[str, Any]:
    response = await http.post(f"/openapi/{action}", data=signed_params(params, KEY, SECRET))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def order_params(site_number: str | None = None, **overrides: object) -> dict[str, object]:
    params: dict[str, object] = {
        "items.1.itemNo": "S-IP4G-0363", "items.1.qty": 2, "items.1.remark": "ok",
        "items.2.itemNo": "S-CAB-0042", "items.2.qty": 1,
        "siteNumber": site_number, "useBalanceOnly": True, "vatNumber": "GB123",
        "deliveryAddress.countryId": 41, "deliveryAddress.state": "NY",
        "deliveryAddress.city": "New York", "deliveryAddress.address": "5th Avenue 1",
        "deliveryAddress.postcode": "10001", "deliveryAddress.receiver": "Test Buyer",
        "deliveryAddress.telephone": "123456", "deliveryAddress.email": "t@example.com",
        "deliveryAddress.shipment": "drop", "deliveryAddress.shippingWayId": 246,
    }
    params.update(overrides)
    return params


async def place(http: httpx.AsyncClient, site_number: str | None = None,
                **overrides: object) -> dict[str, Any]:
    body = await call(http, CREATE, **order_params(site_number, **overrides))
    assert body["result"] == "success", body
    order: dict[str, Any] = body["data"]
    return order


async def eventually(check: Callable[[], Awaitable[bool]], seconds: float = 3.0) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


# --- signature and transport ----------------------------------------------------------------

async def test_hand_signed_request_is_accepted(http: httpx.AsyncClient) -> None:
    def documented_signature(params: dict[str, str], secret: str) -> str:
        values = "".join(params[name] for name in sorted(params))  # values sorted by name
        return hashlib.md5(f"{values}@{secret}".encode()).hexdigest()

    doc_example = {"name": "John Smith", "age": "19", "gendar": "mail", "key": "MYKEY"}
    assert documented_signature(doc_example, "MYSECRET") == "c908e6a13552aab42ce5f71adf78e21b"
    params = {"key": KEY, "countryId": "41", "state": "NY",
              "items.1.itemNo": "S-CAB-0042", "items.1.qty": "10", "items.10.itemNo": "S-LED-0909",
              "items.10.qty": "1", "items.2.itemNo": "S-EAR-0777", "items.2.qty": "3"}
    params["signature"] = documented_signature(params, SECRET)
    response = await http.post("/openapi/order!getPricesAndFreights.do", data=params)
    assert response.headers["Content-Type"].startswith("application/json")
    data = response.json()["data"]
    assert [p["itemNo"] for p in data["priceList"]] == ["S-CAB-0042", "S-EAR-0777", "S-LED-0909"]
    assert data["priceList"][0] == {"itemNo": "S-CAB-0042", "qty": 10, "price": "1.2000",
                                    "amount": "12.0000"}
    assert {f["id"] for f in data["freightList"]} == {25, 246, 7}
    assert all(set(f) == {"id", "name", "shippingCost", "transitTime"}
               for f in data["freightList"])


@pytest.mark.parametrize("tamper", ["wrong", "missing", "other-key", "changed-param"])
async def test_bad_signature_is_rejected(http: httpx.AsyncClient, tamper: str) -> None:
    params = signed_params({}, KEY, SECRET)
    if tamper == "wrong":
        params["signature"] = "0" * 32
    elif tamper == "missing":
        del params["signature"]
    elif tamper == "other-key":
        params = signed_params({}, "someone-else", SECRET)
    else:
        params["lang"] = "en"
    response = await http.post("/openapi/order!getBalance.do", data=params)
    assert response.status_code == 200
    assert response.json() == {"result": "error", "messages": ["NO_PERMISSION_DUE_TO_SIGNATURE"]}


async def test_query_string_and_get_are_accepted(http: httpx.AsyncClient) -> None:
    params = signed_params({"countryId": 41, "items.1.itemNo": "S-CAB-0042", "items.1.qty": 1},
                           KEY, SECRET)
    as_query = await http.post("/openapi/order!getPricesAndFreights.do", params=params)
    assert as_query.json()["result"] == "success"
    split = {"countryId": params.pop("countryId")}  # part in the query, the rest in the body
    merged = await http.post("/openapi/order!getPricesAndFreights.do", params=split, data=params)
    assert merged.json()["result"] == "success"
    as_get = await http.get("/openapi/order!getBalance.do", params=signed_params({}, KEY, SECRET))
    assert as_get.json() == {"result": "success", "data": "10000.0000"}


async def test_unknown_path_is_404(http: httpx.AsyncClient) -> None:
    response = await http.post("/openapi/order!getOrderDetail.do",
                               data=signed_params({}, KEY, SECRET))
    assert response.status_code == 404


# --- reference data ---------------------------------------------------------------------------

async def test_countries_products_and_freight(http: httpx.AsyncClient) -> None:
    countries = (await call(http, "order!getCountries.do"))["data"]
    us = next(c for c in countries if c["id"] == 41)
    assert us["code"] == "US" and us["shipToState"] is True
    brazil = next(c for c in countries if c["code"] == "BR")
    quote = await call(http, "order!getPricesAndFreights.do", countryId=brazil["id"],
                       **{"items.1.itemNo": "S-CAB-0042", "items.1.qty": 1})
    assert quote["data"]["freightList"] == []
    unknown = await call(http, "order!getPricesAndFreights.do", countryId=41,
                         **{"items.1.itemNo": "S-CAB-0042", "items.1.qty": 1,
                            "items.2.itemNo": "NOPE", "items.2.qty": 1})
    assert unknown == {"result": "error", "messages": ["ITEM_NOT_EXIST"]}

    search = (await call(http, "product!search.do", pageSize=5, page=1))["data"]
    assert search["total"] >= 12 and search["pageCount"] == -(-search["total"] // 5)
    assert len(search["result"]) == 5
    cables = (await call(http, "product!search.do", categoryId=1001))["data"]["result"]
    assert "S-CAB-0042" in {p["itemNo"] for p in cables}
    recent = (await call(http, "product!search.do", gmtModifiedStart="02/20/2026"))["data"]
    assert all(p["gmtModified"] >= "2026-2-2" for p in recent["result"]) and recent["total"] < 12
    sold_out = (await call(http, "product!search.do", status=3))["data"]["result"]
    assert [p["itemNo"] for p in sold_out] == ["S-OOS-0001"]
    detail = (await call(http, "product!detail.do", itemNo="S-OOS-0001"))["data"]
    assert detail["stock"] == 0 and detail["price"] == "2.1000"
    missing = await call(http, "product!detail.do", itemNo="NOPE")
    assert missing["messages"] == ["ITEM_NOT_EXIST"]


# --- orders and money -----------------------------------------------------------------------

async def test_create_order_debits_balance_and_adds_a_bill(http: httpx.AsyncClient) -> None:
    order = await place(http, "INV-1001")
    assert order["status"] == 2 and order["gmtPaid"] is not None
    assert order["siteNumber"] == "INV-1001" and order["trackingNumber"] is None
    assert order["number"].isdigit() and len(order["number"]) == 10
    amount = Decimal(order["amount"])
    assert amount == Decimal("6.2000")  # 2 x 2.5000 + 1 x 1.2000
    assert Decimal(order["totalAmount"]) == amount + Decimal(order["shippingCost"])
    assert order["shippingWay"] == {"id": 246, "name": "Postnord",
                                    "queryUrl": "https://t.17track.net/en#nums="}
    assert order["deliveryAddress"]["shipment"] == "drop"
    assert order["detailList"][0]["remark"] == "ok"

    balance = (await call(http, "order!getBalance.do"))["data"]
    assert Decimal(balance) == Decimal("10000") - Decimal(order["totalAmount"])
    bills = (await call(http, "order!getBillList.do", pageSize=100, page=1))["data"]
    assert bills["total"] == 1
    assert bills["result"][0] == {"amount": f"-{order['totalAmount']}", "balance": balance,
                                  "gmtCreated": order["gmtCreated"], "txType": "createOrder",
                                  "refId": order["number"]}
    details = (await call(http, "order!getOrderDetails.do", number=order["number"]))["data"]
    assert details == order


async def test_balance_too_low_is_rejected(http: httpx.AsyncClient) -> None:
    (await http.post("/_sandbox/balance", json={"set": "1.00"})).raise_for_status()
    body = await call(http, CREATE, **order_params("INV-LOW"))
    assert body["result"] == "error"
    assert body["messages"][0].startswith("BALANCE_NOT_ENOUGH: needs ")
    assert body["messages"][0].endswith(", has 1.0000")
    assert (await http.get("/_sandbox/orders")).json() == {"orders": []}
    unpaid = await place(http, "INV-LOW", useBalanceOnly=False)
    assert unpaid["status"] == 1 and unpaid["gmtPaid"] is None
    assert (await call(http, "order!getBalance.do"))["data"] == "1.0000"


async def test_duplicate_site_number_is_refused(http: httpx.AsyncClient) -> None:
    await place(http, "INV-DUP")
    again = await call(http, CREATE, **order_params("INV-DUP"))
    assert again["result"] == "error" and "已下单" in again["messages"][0]
    creates = (await http.get("/_sandbox/requests", params={"path": CREATE})).json()["requests"]
    assert [r["outcome"] for r in creates] == ["success", "error"]
    assert creates[0]["params"]["signature"] == "***"
    assert creates[0]["params"]["siteNumber"] == "INV-DUP"


async def test_dedupe_off_creates_a_second_order_until_reset(
        http: httpx.AsyncClient) -> None:
    assert (await http.get("/_sandbox/dedupe")).json() == {"dedupe": True}
    off = await http.post("/_sandbox/dedupe", json={"dedupe": False})
    assert off.json() == {"dedupe": False}
    first, second = await place(http, "INV-TWICE"), await place(http, "INV-TWICE")
    assert first["number"] != second["number"]
    by_site = (await call(http, "order!getOrderList.do", siteNumber="INV-TWICE"))["data"]
    assert by_site["total"] == 2
    creates = (await http.get("/_sandbox/requests", params={"path": CREATE})).json()["requests"]
    assert [r["outcome"] for r in creates] == ["success", "success"]
    await reset_sandbox(str(http.base_url))
    assert (await http.get("/_sandbox/dedupe")).json() == {"dedupe": True}
    bad = await http.post("/_sandbox/dedupe", json={"dedupe": "sometimes"})
    assert bad.status_code == 400 and "error" in bad.json()


async def test_order_list_filters_and_pages(http: httpx.AsyncClient) -> None:
    numbers = [(await place(http, f"INV-L{i}"))["number"] for i in range(3)]
    today = datetime.now(UTC).date()
    padded, unpadded = today.strftime("%m/%d/%Y"), f"{today.month}/{today.day}/{today.year}"
    first = (await call(http, "order!getOrderList.do", gmtCreatedStart=padded,
                        gmtCreatedEnd=unpadded, page=1, pageSize=2))["data"]
    second = (await call(http, "order!getOrderList.do", gmtCreatedStart=padded,
                         gmtCreatedEnd=padded, page=2, pageSize=2))["data"]
    assert first["total"] == 3 and first["pageCount"] == 2
    listed = [o["number"] for o in first["result"] + second["result"]]
    assert sorted(listed) == sorted(numbers)
    assert all("detailList" not in o for o in first["result"])
    by_site = (await call(http, "order!getOrderList.do", siteNumber="INV-L1"))["data"]
    assert [o["number"] for o in by_site["result"]] == [numbers[1]]
    tomorrow = (today + timedelta(days=1)).strftime("%m/%d/%Y")
    later = (await call(http, "order!getOrderList.do", gmtCreatedStart=tomorrow))["data"]
    assert later == {"total": 0, "pageCount": 0, "result": []}
    unpaid = (await call(http, "order!getOrderList.do", status=1))["data"]
    assert unpaid["total"] == 0
    bad = await call(http, "order!getOrderList.do", gmtCreatedStart="2026-01-01")
    assert bad["messages"] == ["INVALID_PARAMETER: gmtCreatedStart"]


async def test_unknown_order_number(http: httpx.AsyncClient) -> None:
    body = await call(http, "order!getOrderDetails.do", number="2601010001")
    assert body == {"result": "error", "messages": ["The record you visiting does NOT exist."]}


async def test_invalid_address_and_unavailable_way(http: httpx.AsyncClient) -> None:
    no_state = await call(http, CREATE, **order_params("A1", **{"deliveryAddress.state": ""}))
    assert no_state["messages"] == ["INVALID_DELIVERY_ADDRESS: state"]
    brazil = await call(http, CREATE, **order_params(
        "A2", **{"deliveryAddress.countryId": 30, "deliveryAddress.state": None}))
    assert brazil["messages"] == ["SHIPPING_WAY_NOT_AVAILABLE"]
    sold_out = await call(http, CREATE, **order_params("A3", **{"items.2.itemNo": "S-OOS-0001"}))
    assert sold_out["messages"] == ["OUT_OF_STOCK: S-OOS-0001"]


# --- controls and callbacks -------------------------------------------------------------------

@pytest_asyncio.fixture(loop_scope="session")
async def receiver() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    """A callback endpoint that answers 500 to its first POST and 200 afterwards."""
    received: list[dict[str, Any]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.Response(status=500 if len(received) == 1 else 200)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}/hook", received
    await runner.cleanup()


async def test_shipping_fires_a_callback_until_it_gets_200(
    http: httpx.AsyncClient, receiver: tuple[str, list[dict[str, Any]]]
) -> None:
    url, received = receiver
    registered = await http.post("/_sandbox/callbacks", json={"url": url, "retry_seconds": 0.05})
    assert registered.json() == {"url": url, "retry_seconds": 0.05}
    order = await place(http, "INV-CB")
    shipped = await http.post(f"/_sandbox/orders/{order['number']}/advance", json={"to": "shipped"})
    tracking = shipped.json()["order"]["trackingNumber"]
    assert tracking.startswith("YT") and shipped.json()["order"]["gmtShipped"] is not None

    async def two_attempts() -> bool:
        return len((await http.get("/_sandbox/callbacks/deliveries")).json()) >= 2

    await eventually(two_attempts)
    deliveries = (await http.get("/_sandbox/callbacks/deliveries")).json()
    assert [(d["event"], d["number"], d["status_code"]) for d in deliveries] == [
        ("order/shipped", order["number"], 500), ("order/shipped", order["number"], 200)]
    assert received[0] == received[1]
    assert received[1]["event"] == "order/shipped"
    assert received[1]["order"]["trackingNumber"] == tracking
    assert received[1]["order"]["status"] == 3 and "detailList" in received[1]["order"]


async def test_tracking_change_and_cancel_fire_their_events(
    http: httpx.AsyncClient, receiver: tuple[str, list[dict[str, Any]]]
) -> None:
    url, received = receiver
    received.append({})  # the receiver's "first call fails" is used up
    await http.post("/_sandbox/callbacks", json={"url": url, "retry_seconds": 0.05})
    shipped = await place(http, "INV-T")
    to_cancel = await place(http, "INV-C")
    await http.post(f"/_sandbox/orders/{shipped['number']}/advance",
                    json={"to": "shipped", "tracking_number": "LX123"})
    changed = await http.post(f"/_sandbox/orders/{shipped['number']}/tracking",
                              json={"tracking_number": "LX999"})
    assert changed.json()["order"]["trackingNumber"] == "LX999"
    await http.post(f"/_sandbox/orders/{to_cancel['number']}/advance",
                    json={"to": "cancelled", "reason": "customer asked"})

    async def three_events() -> bool:
        return len(received) >= 4

    await eventually(three_events)
    events = {(r["event"], r["order"]["number"]) for r in received[1:]}
    assert events == {("order/shipped", shipped["number"]), ("order/tracking", shipped["number"]),
                      ("order/cancelled", to_cancel["number"])}
    cancelled = next(r for r in received[1:] if r["event"] == "order/cancelled")
    assert cancelled["order"]["status"] == 4
    assert cancelled["order"]["cancelReason"] == "customer asked"


async def test_control_errors(http: httpx.AsyncClient) -> None:
    order = await place(http, "INV-E")
    number = order["number"]
    delivered = await http.post(f"/_sandbox/orders/{number}/advance", json={"to": "delivered"})
    assert delivered.status_code == 409 and "error" in delivered.json()
    missing = await http.post("/_sandbox/orders/1/advance", json={"to": "shipped"})
    assert missing.status_code == 404
    bad = await http.post(f"/_sandbox/orders/{number}/advance", json={"to": "lost"})
    assert bad.status_code == 400
    both = await http.post("/_sandbox/balance", json={"add": "1", "set": "2"})
    assert both.status_code == 400
    added = await http.post("/_sandbox/balance", json={"add": "100.00"})
    assert Decimal(added.json()["balance"]) == Decimal(10100) - Decimal(order["totalAmount"])


async def test_session_sandbox_resets(sandbox_session: RunningSandbox) -> None:
    await reset_sandbox(sandbox_session.base_url)
    async with httpx.AsyncClient(base_url=sandbox_session.base_url) as http:
        await place(http, "INV-S")
        await http.post("/_sandbox/faults", json={"latency_ms": 1})
        await reset_sandbox(sandbox_session.base_url)
        assert (await http.get("/_sandbox/orders")).json() == {"orders": []}
        assert (await http.get("/_sandbox/requests")).json() == {"requests": []}
        assert (await http.get("/_sandbox/balance")).json() == {"balance": "10000.0000"}
        assert (await http.get("/_sandbox/faults")).json()["latency_ms"] == 0
        await place(http, "INV-S")  # the siteNumber is free again
    assert len(sandbox_session.state.orders()) == 1


async def test_auto_advance_ships_then_delivers() -> None:
    config = SandboxConfig(auto_advance_seconds=0.1, callback_retry_seconds=0.1)
    async with running_sandbox(config) as sandbox, \
            httpx.AsyncClient(base_url=sandbox.base_url) as http:
        order = await place(http, "INV-AUTO")

        async def delivered() -> bool:
            details = await call(http, "order!getOrderDetails.do", number=order["number"])
            return bool(details["data"]["status"] == 5)

        await eventually(delivered)
        final = sandbox.state.order(order["number"])
        assert final.tracking_number is not None and final.shipped is not None


async def test_port_in_use_is_reported(sandbox: RunningSandbox) -> None:
    port = int(sandbox.base_url.rsplit(":", 1)[1])
    with pytest.raises(PortInUseError):
        async with running_sandbox(port=port):
            pass


CLI = [sys.executable, "-c", "from cli.main import cli; cli()", "sandbox"]


async def test_cli_serves_until_interrupted() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = await asyncio.create_subprocess_exec(
        *CLI, "--port", str(port), "--balance", "55.5", "--no-dedupe",
        stdout=asyncio.subprocess.PIPE)
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 10)
        assert line.decode().strip() == (
            f"SUNSKY sandbox listening on http://127.0.0.1:{port} (key=sandbox-key)")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            assert (await call(http, "order!getBalance.do"))["data"] == "55.5000"
            await place(http, "INV-CLI", useBalanceOnly=False)
            await place(http, "INV-CLI", useBalanceOnly=False)  # --no-dedupe: a second order
            await reset_sandbox(f"http://127.0.0.1:{port}")  # keeps the configured default
            assert (await http.get("/_sandbox/dedupe")).json() == {"dedupe": False}
        process.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(process.wait(), 10) == 0
    finally:
        if process.returncode is None:  # a failed assertion must not leave it serving
            process.kill()
            await process.wait()


async def test_cli_reports_a_taken_port(sandbox: RunningSandbox) -> None:
    port = sandbox.base_url.rsplit(":", 1)[1]
    process = await asyncio.create_subprocess_exec(
        *CLI, "--port", port, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    _, stderr = await asyncio.wait_for(process.communicate(), 10)
    assert process.returncode == 1
    assert f"port {port} on 127.0.0.1 is already in use" in stderr.decode()


# --- faults -----------------------------------------------------------------------------------

async def set_faults(http: httpx.AsyncClient, **faults: object) -> None:
    response = await http.post("/_sandbox/faults", json=faults)
    assert response.status_code == 200, response.text


async def last_outcome(http: httpx.AsyncClient) -> str:
    requests = (await http.get("/_sandbox/requests")).json()["requests"]
    outcome: str = requests[-1]["outcome"]
    return outcome


async def test_latency_applies_to_chosen_paths(http: httpx.AsyncClient) -> None:
    await set_faults(http, latency_ms=300, latency_paths=["order!getBalance.do"])
    started = time.monotonic()
    await call(http, "order!getBalance.do")
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    await call(http, "order!getCountries.do")
    assert time.monotonic() - started < 0.3


async def test_error_rate_answers_500(http: httpx.AsyncClient) -> None:
    await set_faults(http, error_rate=1.0, fault_paths=[CREATE])
    response = await http.post(f"/openapi/{CREATE}", data=signed_params(order_params("F1"), KEY,
                                                                          SECRET))
    assert response.status_code == 500 and not response.text.startswith("{")
    assert await last_outcome(http) == "fault:error"
    assert (await call(http, "order!getBalance.do"))["result"] == "success"  # other paths fine
    assert (await http.get("/_sandbox/orders")).json() == {"orders": []}


async def test_timeout_holds_then_answers_504(http: httpx.AsyncClient) -> None:
    await set_faults(http, timeout_rate=1.0, timeout_hold_seconds=0.2)
    started = time.monotonic()
    response = await http.post("/openapi/order!getBalance.do", data=signed_params({}, KEY, SECRET))
    assert response.status_code == 504 and time.monotonic() - started >= 0.2
    assert await last_outcome(http) == "fault:timeout"


async def test_throttle_answers_call_frequency_exceeded(http: httpx.AsyncClient) -> None:
    await set_faults(http, throttle_per_second=2)
    bodies = [await call(http, "order!getBalance.do") for _ in range(3)]
    assert [b["result"] for b in bodies] == ["success", "success", "error"]
    assert bodies[2]["messages"] == ["CALL_FREQUENCY_EXCEEDED"]
    assert await last_outcome(http) == "fault:throttle"


async def test_dropped_response_still_places_the_order(
    sandbox: RunningSandbox, http: httpx.AsyncClient
) -> None:
    await set_faults(http, drop_response_rate=1.0, timeout_hold_seconds=0.1)
    with pytest.raises(httpx.RemoteProtocolError):
        await http.post(f"/openapi/{CREATE}",
                        data=signed_params(order_params("INV-DROP"), KEY, SECRET))
    orders = (await http.get("/_sandbox/orders")).json()["orders"]
    assert [o["siteNumber"] for o in orders] == ["INV-DROP"]
    balance = (await call(http, "order!getBalance.do"))["data"]
    assert Decimal(balance) == Decimal(10000) - Decimal(orders[0]["totalAmount"])
    creates = (await http.get("/_sandbox/requests", params={"path": CREATE})).json()["requests"]
    assert [r["outcome"] for r in creates] == ["fault:drop_response"]
    (await http.delete("/_sandbox/faults")).raise_for_status()
    retry = await call(http, CREATE, **order_params("INV-DROP"))
    assert "已下单" in retry["messages"][0]
    assert len(sandbox.state.orders()) == 1


async def test_list_faults_ignore_the_site_number_filter_and_omit_the_field(
        http: httpx.AsyncClient) -> None:
    numbers = [(await place(http, f"INV-F{i}"))["number"] for i in range(3)]
    await set_faults(http, list_ignores_site_number=True)
    ignored = (await call(http, "order!getOrderList.do", siteNumber="INV-F1"))["data"]
    assert sorted(o["number"] for o in ignored["result"]) == sorted(numbers)
    await set_faults(http, list_omits_site_number=True)
    omitted = (await call(http, "order!getOrderList.do", siteNumber="INV-F1"))["data"]
    assert [o["number"] for o in omitted["result"]] == [numbers[1]]  # still filtered
    assert all("siteNumber" not in o for o in omitted["result"])
    details = await call(http, "order!getOrderDetails.do", number=numbers[1])
    assert details["data"]["siteNumber"] == "INV-F1"  # details still say it


async def test_user_status_plaintext(http: httpx.AsyncClient) -> None:
    await set_faults(http, user_status_plaintext=True)
    response = await http.post("/openapi/order!getBalance.do", data=signed_params({}, KEY, SECRET))
    assert response.status_code == 200
    assert response.text == "NO_PERMISSION_DUE_TO_USER_STATUS"
    assert response.headers["Content-Type"].startswith("text/plain")
    with pytest.raises(json.JSONDecodeError):
        response.json()
    assert await last_outcome(http) == "fault:user_status"


async def test_fault_settings_round_trip(http: httpx.AsyncClient) -> None:
    await set_faults(http, error_rate=0.25, seed=4)
    current = (await http.get("/_sandbox/faults")).json()
    assert current["error_rate"] == 0.25 and current["seed"] == 4
    assert current["drop_response_paths"] == [CREATE] and current["timeout_hold_seconds"] == 30
    cleared = (await http.delete("/_sandbox/faults")).json()
    assert cleared["error_rate"] == 0 and cleared["seed"] is None
    typo = await http.post("/_sandbox/faults", json={"eror_rate": 1})
    assert typo.status_code == 400
