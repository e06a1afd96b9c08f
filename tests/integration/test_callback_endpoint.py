"""The tracker's public callback endpoint over real HTTP: anyone can reach it, so a hostile body
gets a 4xx with a JSON reason, never a 500 and a traceback (issue 9, section 5)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio

from devtools.broker import free_port
from services.tracker.callbacks import CallbackInbox, CallbackServer
from shared.settings import Settings

pytestmark = [pytest.mark.integration]


async def _later(batch: Any) -> None:
    raise AssertionError("not verified in this test")


@pytest_asyncio.fixture(loop_scope="session")
async def endpoint() -> AsyncIterator[tuple[str, CallbackInbox]]:
    settings = Settings(tracker_callback_port=free_port())
    inbox = CallbackInbox(_later, batch_seconds=60, batch_max=10)
    server = CallbackServer(settings, inbox)
    await server.start()
    assert server.url is not None
    try:
        yield server.url, inbox
    finally:
        await server.stop()


@pytest.mark.parametrize("opener", ["[", '{"order":'])
async def test_a_body_nested_5000_levels_deep_is_a_400_with_a_reason(
        endpoint: tuple[str, CallbackInbox], opener: str) -> None:
    url, inbox = endpoint
    closer = "]" if opener == "[" else "}"
    body = (opener * 5000 + '{"number": "2611270001"}' + closer * 5000).encode()
    async with httpx.AsyncClient() as http:
        nested = await http.post(url, content=body,
                                 headers={"content-type": "application/json"})
        assert nested.status_code == 400, nested.text
        assert "order number" in nested.json()["error"]
        assert inbox.pending == 0
        fine = await http.post(url, json={"event": "order/shipped",
                                          "order": {"number": "2611270001"}})
    assert fine.status_code == 200 and inbox.pending == 1  # and the endpoint still serves
