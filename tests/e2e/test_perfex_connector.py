"""Issue 11 end to end, across both languages: the Perfex module's own PHP code sends a paid
invoice to ``dropship ingest``; listener, placer and tracker place and follow it at the SUNSKY
sandbox; the notifier tells the module's webhook (``php -S`` serving
``tests/php/bin/webhook_router.php``), whose order mirror in MariaDB ends up with the tracking
number and a queued "your order has shipped" e-mail.

Every part is real and separate: PHP CLI and ``php -S`` processes on a fresh MariaDB database,
each service its own ``dropship`` process, the broker, PostgreSQL, the sandbox over HTTP. Needs
``php`` (with curl and mysqli) and MariaDB on 127.0.0.1:3306: ``.ci/run`` installs and starts
them, so under CI their absence fails the test; locally, without ``php``, it is skipped loudly.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import secrets
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from devtools.broker import free_port
from devtools.supervisor import dropship_argv
from tests.e2e.conftest import Pipeline

pytestmark = [pytest.mark.e2e]
ROOT = Path(__file__).resolve().parents[2]
HARNESS = ROOT / "tests" / "php" / "bin" / "perfex_harness.php"
ROUTER = ROOT / "tests" / "php" / "bin" / "webhook_router.php"
INGEST_SECRET = "whsec_" + base64.b64encode(b"e2e perfex -> ingest signing key").decode()
WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"e2e notifier -> perfex webhook key").decode()


def require_php_and_mariadb() -> str:
    php = shutil.which("php")
    if php is None:
        why = ("php is not installed, so the Perfex connector was not tested end to end "
               "(apt-get install php-cli php-curl php-mysql; .ci/run does)")
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(f"SKIPPED LOUDLY: {why}")
    host = os.environ.get("SUNSKY_MYSQL_HOST", "127.0.0.1")
    port = int(os.environ.get("SUNSKY_MYSQL_PORT", "3306"))
    try:
        socket.create_connection((host, port), timeout=3).close()
    except OSError as exc:
        pytest.fail(f"MariaDB does not answer on {host}:{port} ({exc}): the Perfex module's "
                    "database is needed (.ci/run starts it)")
    return php


class Perfex:
    """The module inside the PHP harness, on its own MariaDB database."""

    def __init__(self, php: str, database: str) -> None:
        self.php, self.database = php, database

    async def harness(self, *args: str) -> dict[str, Any]:
        result = await asyncio.to_thread(
            subprocess.run, [self.php, str(HARNESS), "--db", self.database, *args],
            capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        assert result.returncode == 0, f"harness {args[0]}: {result.stderr}"
        answer: dict[str, Any] = json.loads(result.stdout)
        return answer

    async def order(self, invoice_id: str) -> dict[str, Any] | None:
        mirror = (await self.harness("dump"))["orders"]
        return next((o for o in mirror if o["invoice_id"] == invoice_id), None)


@pytest_asyncio.fixture(loop_scope="session")
async def perfex() -> AsyncIterator[Perfex]:
    module = Perfex(require_php_and_mariadb(), f"sunsky_e2e_{uuid.uuid4().hex[:10]}")
    await module.harness("install")
    try:
        yield module
    finally:
        await asyncio.to_thread(subprocess.run, [module.php, str(HARNESS), "--db",
                                                 module.database, "drop"],
                                capture_output=True, timeout=60)


async def until_up(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=2) as client:
        while True:
            try:
                if (await client.get(url)).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"{url} never answered 200"
            await asyncio.sleep(0.2)


async def test_a_paid_perfex_invoice_is_placed_shipped_and_its_tracking_lands_in_perfex(
        perfex: Perfex, pipeline_factory: Callable[..., Awaitable[Pipeline]]) -> None:
    ingest_port, router_port, callback_port = free_port(), free_port(), free_port()
    webhook_url = f"http://127.0.0.1:{router_port}/sunsky_dropship/webhook"
    p = await pipeline_factory(
        partitions=1, INGEST_SECRET=INGEST_SECRET, PERFEX_WEBHOOK_URL=webhook_url,
        PERFEX_WEBHOOK_SECRET=WEBHOOK_SECRET, TRACKER_CALLBACK_PORT=str(callback_port),
        TRACKER_CALLBACK_BATCH_SECONDS="0.2", NOTIFIER_BUDGET_SECONDS="10")
    p.supervisor.start("perfex", [perfex.php, "-S", f"127.0.0.1:{router_port}", str(ROUTER)],
                       {"SUNSKY_DB": perfex.database, "SUNSKY_WEBHOOK_SECRET": WEBHOOK_SECRET})
    p.supervisor.start("ingest", dropship_argv("ingest", "--port", str(ingest_port)))
    await asyncio.gather(*(p.start(name) for name in
                           ("invoice-listener", "placer", "tracker", "notifier")),
                         p.wait_for_log("ingest", "ingest listening on"),
                         until_up(f"http://127.0.0.1:{router_port}/health"))
    await p.sandbox_post("/_sandbox/callbacks", {
        "url": f"http://127.0.0.1:{callback_port}/sunsky/callback", "retry_seconds": 0.2})
    await perfex.harness("set-option", "sunsky_dropship_ingest_url",
                         f"http://127.0.0.1:{ingest_port}")
    await perfex.harness("set-option", "sunsky_dropship_signing_secret", INGEST_SECRET)
    invoice = str(700000 + secrets.randbelow(99999))

    sent = await perfex.harness("paid", "--invoice", "contract_example", "--id", invoice)

    [event] = sent["events"]
    assert (event["status"], event["last_status_code"]) == ("sent", "202"), sent
    placed = await p.eventually(lambda: perfex.order(invoice), timeout=60,
                                what="order.placed in the Perfex mirror")
    assert placed["status"] == "Placed" and placed["sunsky_order_number"], placed
    [at_sunsky] = [o for o in await p.sandbox_get_orders()
                   if o["number"] == placed["sunsky_order_number"]]
    assert at_sunsky["siteNumber"].endswith(f"-INV{invoice}")

    tracking = f"RR{secrets.randbelow(10**9):09d}CN"
    await p.sandbox_post(f"/_sandbox/orders/{placed['sunsky_order_number']}/advance",
                         {"to": "shipped", "tracking_number": tracking})

    async def shipped_in_perfex() -> dict[str, Any] | None:
        order = await perfex.order(invoice)
        return order if order and order["status"] == "Shipped" else None

    order = await p.eventually(shipped_in_perfex, timeout=60, what="order.shipped in Perfex")
    assert order["tracking_number"] == tracking and tracking in order["tracking_url"]
    dump = await perfex.harness("dump")
    [email] = dump["emails"]
    assert email["to_email"] == "jane@example.com" and tracking in email["message"]
    assert [n["rel_id"] for n in dump["notes"]] == [invoice]
    assert {w["message_type"] for w in dump["webhook_ids"]} == {"order.placed", "order.shipped"}
