"""The admin API and console in process (httpx's ASGI transport) on the fakes: who may do
what, CSRF, bad input answered 4xx with a reason, Idempotency-Key, nothing secret shown.
The same over real HTTP with PostgreSQL and the sandbox: tests/integration/test_admin_http.py.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio

from application import accounts
from services.admin.app import create_app
from shared.domain.order import OrderStatus
from tests.fakes import FakeStore, FakeSunsky
from tests.unit.admin_support import add_order, context

SECRET = "sunsky-secret-value-1234"
_USERS: dict[str, object] = {}


@pytest_asyncio.fixture
async def app(store: FakeStore, sunsky: FakeSunsky) -> AsyncIterator[httpx.AsyncClient]:
    ctx = context(store, sunsky)
    ctx.settings = ctx.settings.model_copy(update={"sunsky_api_secret": SECRET})
    if not _USERS:  # argon2 is slow on purpose: hash the two users once per module
        await accounts.add_user(ctx, "alice", "operator", "operator-pass")
        await accounts.add_user(ctx, "vera", "viewer", "viewer-pass")
        _USERS.update(store.users)
    store.users = dict(_USERS)
    transport = httpx.ASGITransport(app=create_app(ctx.settings, context=ctx))
    async with httpx.AsyncClient(transport=transport, base_url="http://admin") as client:
        client.headers["authorization"] = "Bearer " + await accounts.create_token(ctx, "alice")
        client.viewer_token = await accounts.create_token(ctx, "vera")  # type: ignore[attr-defined]
        yield client


def as_viewer(client: httpx.AsyncClient) -> dict[str, str]:
    return {"authorization": "Bearer " + client.viewer_token}  # type: ignore[attr-defined]


async def test_without_credentials_the_api_says_401_and_the_console_shows_the_login(app) -> None:
    response = await app.get("/api/v1/orders", headers={"authorization": ""})
    assert response.status_code == 401 and response.json()["error"]["code"] == "unauthenticated"
    page = await app.get("/orders", headers={"authorization": ""})
    assert page.status_code == 303 and page.headers["location"].startswith("/login")
    wrong = await app.get("/api/v1/orders", headers={"authorization": "Bearer dsk_forged"})
    assert wrong.status_code == 401


async def test_a_viewer_reads_but_may_not_act(app, store) -> None:
    order = await add_order(store, 1, code="SERVER_ERROR")
    assert (await app.get(f"/api/v1/orders/{order.id}", headers=as_viewer(app))).status_code \
        == 200
    refused = await app.post(f"/api/v1/orders/{order.id}/retry", headers=as_viewer(app))
    assert refused.status_code == 403 and "viewer" in refused.json()["error"]["message"]
    assert store.orders[order.id].status == OrderStatus.API_FAILED


async def test_an_operators_retry_answers_the_order_and_records_who(app, store) -> None:
    order = await add_order(store, 1, code="SERVER_ERROR")
    response = await app.post(f"/api/v1/orders/{order.id}/retry")
    body = response.json()
    assert response.status_code == 200 and body["outcome"] == "queued"
    assert body["order"]["status"] == "ready_to_place"
    assert body["order"]["timeline"][-1]["actor"] == "admin:alice"


async def test_an_idempotency_key_does_not_act_twice(app, store) -> None:
    order = await add_order(store, 1, status=OrderStatus.READY_TO_PLACE)
    headers = {"Idempotency-Key": "place-1"}
    first = await app.post(f"/api/v1/orders/{order.id}/place", headers=headers)
    again = await app.post(f"/api/v1/orders/{order.id}/place", headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    assert len(store.messages("order.ready")) == 1
    other = await app.post("/api/v1/orders/99/place", headers=headers)
    assert other.status_code == 422 and other.json()["error"]["code"] == \
        "idempotency_key_reused"


@pytest.mark.parametrize(("url", "field"), [
    ("/api/v1/orders?tab=shipped_maybe", "tab"), ("/api/v1/orders?from=2026-13-45", "from"),
    ("/api/v1/orders?limit=-1", "limit"), ("/api/v1/orders?q=a%00b", "q"),
    ("/api/v1/orders?stuck_hours=nan", "stuck_hours"), ("/api/v1/orders?colour=red", "colour"),
    ("/api/v1/orders?cursor=%21%21", "cursor"), ("/api/v1/orders/0", "order_id"),
    ("/api/v1/orders?from=0001-01-01T00:00:00%2B05:00", "from")])
async def test_bad_input_is_422_naming_the_field(app, url, field) -> None:
    response = await app.get(url)
    assert response.status_code == 422, response.text
    assert field in [f["field"] for f in response.json()["error"]["fields"]]


async def test_an_order_that_does_not_exist_is_404(app) -> None:
    response = await app.get("/api/v1/orders/424242")
    assert response.status_code == 404 and "424242" in response.json()["error"]["message"]
    page = await app.post("/api/v1/orders/424242/retry")
    assert page.status_code == 404


async def test_a_ten_megabyte_body_is_413(app, store) -> None:
    order = await add_order(store, 1, code="ADDRESS_INCOMPLETE")
    response = await app.patch(f"/api/v1/orders/{order.id}/address",
                               content=b'{"city": "' + b"x" * 10_000_000 + b'"}',
                               headers={"content-type": "application/json"})
    assert response.status_code == 413 and response.json()["error"]["code"] == "body_too_large"


async def test_an_address_edit_is_validated_then_saved(app, store) -> None:
    order = await add_order(store, 1, code="ADDRESS_INCOMPLETE")
    empty = await app.patch(f"/api/v1/orders/{order.id}/address", json={})
    assert empty.status_code == 422
    saved = await app.patch(f"/api/v1/orders/{order.id}/address",
                            json={"postcode": "60601", "country_iso2": "us"})
    assert saved.status_code == 200
    assert store.orders[order.id].shipping.country_iso2 == "US"


async def test_bulk_work_is_accepted_and_read_back_per_order(app, store) -> None:
    order = await add_order(store, 1, code="SERVER_ERROR")
    accepted = await app.post("/api/v1/orders/bulk",
                              json={"action": "retry", "order_ids": [order.id, 77]})
    assert accepted.status_code == 202
    url = accepted.json()["status_url"]
    for _ in range(200):  # poll until the job says it is over
        job = (await app.get(url)).json()
        if job["state"] != "running":
            break
        await asyncio.sleep(0.01)  # the fakes never suspend: let the job's task run
    assert job["state"] == "done"
    assert [(r["order_id"], r["ok"]) for r in job["results"]] == [(order.id, True), (77, False)]


async def login(app: httpx.AsyncClient, name: str, password: str) -> str:
    page = await app.get("/login", headers={"authorization": ""})
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    response = await app.post("/login", headers={"authorization": ""}, data={
        "csrf_token": token.group(1), "name": name, "password": password})
    assert response.status_code == 303, response.text
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    orders = await app.get("/orders", headers={"authorization": ""})
    found = re.search(r'"X-CSRF-Token": "([^"]+)"', orders.text)
    assert found is not None
    return found.group(1)


async def test_console_posts_need_the_sessions_csrf_token(app, store) -> None:
    order = await add_order(store, 1, code="SERVER_ERROR")
    csrf = await login(app, "alice", "operator-pass")
    forged = await app.post(f"/orders/{order.id}/retry", headers={"authorization": ""})
    assert forged.status_code == 403 and "CSRF" in forged.text
    assert store.orders[order.id].status == OrderStatus.API_FAILED
    done = await app.post(f"/orders/{order.id}/retry",
                          headers={"authorization": "", "x-csrf-token": csrf})
    assert done.status_code == 200 and "queued for placement" in done.text


async def test_a_wrong_password_shows_the_login_again(app) -> None:
    page = await app.get("/login", headers={"authorization": ""})
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    response = await app.post("/login", headers={"authorization": ""}, data={
        "csrf_token": token.group(1), "name": "alice", "password": "nope"})
    assert response.status_code == 401 and "Wrong user name or password" in response.text


async def test_password_guessing_is_refused_after_five_failures(app) -> None:
    async def attempt(password: str) -> httpx.Response:
        page = await app.get("/login", headers={"authorization": ""})
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token is not None
        return await app.post("/login", headers={"authorization": ""}, data={
            "csrf_token": token.group(1), "name": "alice", "password": password})

    assert [(await attempt(f"guess-{n}")).status_code for n in range(5)] == [401] * 5
    refused = await attempt("operator-pass")  # even the right one, for now
    assert refused.status_code == 429 and "Too many failed logins" in refused.text
    assert int(refused.headers["retry-after"]) > 0


async def test_no_page_or_answer_shows_the_secret_or_a_hash(app, store) -> None:
    order = await add_order(store, 1, code="ADDRESS_INCOMPLETE")
    await login(app, "alice", "operator-pass")
    bodies = [(await app.get(path)).text for path in (
        "/api/v1/me", "/api/v1/settings", "/api/v1/health", "/api/v1/billing",
        f"/api/v1/orders/{order.id}", "/api/v1/openapi.json")]
    bodies += [(await app.get(path, headers={"authorization": ""})).text for path in (
        "/orders", f"/orders/{order.id}", "/settings", "/billing", "/failures", "/health")]
    for body in bodies:
        assert SECRET not in body and "$argon2" not in body
    assert store.users["alice"][1].startswith("$argon2")


async def test_every_console_page_renders_for_a_viewer(app, store) -> None:
    order = await add_order(store, 1, code="ADDRESS_INCOMPLETE")
    await login(app, "vera", "viewer-pass")
    for path in ("/orders", "/orders?tab=needs_action&customer=acme", f"/orders/{order.id}",
                 "/settings", "/billing", "/failures", "/health"):
        response = await app.get(path, headers={"authorization": ""})
        assert response.status_code == 200, (path, response.text[:500])
        assert "Retry</button>" not in response.text  # a viewer sees no action buttons
    bad = await app.get("/orders?from=yesterday", headers={"authorization": ""})
    assert bad.status_code == 422 and "from" in bad.text
