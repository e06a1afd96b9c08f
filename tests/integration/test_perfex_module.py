"""The Perfex module's real PHP code (tests/php/bin/*), held to the Python side of the contract.

Events built from invoice fixtures must validate against schemas/json/invoice.*.schema.json and
parse with schemas.perfex.INVOICE_EVENT; the harness must deliver them signed so that a plain
Python verifier accepts them; the webhook router must apply a signed order message once. Needs
``php`` (with curl and mysqli) and MariaDB on 127.0.0.1:3306, which ``.ci/run`` provides."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar

import jsonschema
import pytest

from schemas.perfex import INVOICE_EVENT

pytestmark = [pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / "tests" / "php" / "bin"
FIXTURE_DIR = ROOT / "tests" / "php" / "fixtures" / "invoices"
FIXTURES = sorted(p.stem for p in FIXTURE_DIR.glob("*.json"))
PUBLISHED = [name for name in FIXTURES if name != "draft"]
SECRET = "whsec_" + base64.b64encode(b"perfex-module-integration-test-key").decode()
PHP = shutil.which("php")

if PHP is None:
    pytest.skip("SKIPPED LOUDLY: php is not installed, so the Perfex module was not tested "
                "(.ci/run installs php-cli; locally: apt-get install php-cli php-curl php-mysql)",
                allow_module_level=True)


def signature(msg_id: str, timestamp: str, body: bytes) -> str:
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def php(script: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PHP or "php", str(BIN / script), *args], capture_output=True,
                          text=True, timeout=60, check=check)


def build(fixture: str, event_type: str) -> str:
    return php("build_event.php", fixture, event_type).stdout


@pytest.mark.parametrize("event_type", ["invoice.created", "invoice.paid"])
@pytest.mark.parametrize("fixture", PUBLISHED)
def test_events_validate_against_the_json_schema_and_the_model(fixture: str,
                                                               event_type: str) -> None:
    raw = build(fixture, event_type)

    schema = json.loads((ROOT / "schemas" / "json" / f"{event_type}.schema.json").read_text())
    jsonschema.validate(json.loads(raw), schema)
    event = INVOICE_EVENT.validate_json(raw)
    assert event.event_type == event_type
    assert uuid.UUID(event.event_id).version == 4
    assert event.source.base_url == "https://crm.example.com"
    assert any(item.sunsky_sku for item in event.data.invoice.items)
    invoice = json.loads((FIXTURE_DIR / f"{fixture}.json").read_text())["invoice"]
    paid_by_payment = bool(invoice.get("payments")) and float(invoice["total"]) != 0
    assert (event.data.payment is not None) == (event_type == "invoice.paid" and paid_by_payment)
    if event_type == "invoice.paid":
        assert event.data.invoice.status == "2"


def test_the_contract_example_reads_as_the_python_side_expects() -> None:
    event = INVOICE_EVENT.validate_json(build("contract_example", "invoice.paid"))

    invoice = event.data.invoice
    assert invoice.display_number == "INV-000042"
    assert [item.sunsky_sku for item in invoice.items] == ["S-CAB-0042", None]
    assert str(invoice.items[0].qty) == "2.00"
    assert invoice.include_shipping is True
    assert invoice.shipping is not None and invoice.shipping.country_iso2 == "US"
    assert event.data.payment is not None and event.data.payment.paymentid == "9"
    assert event.data.primary_contact is not None
    assert event.data.primary_contact.email == "jane@example.com"


def test_a_draft_publishes_nothing() -> None:
    result = php("build_event.php", "draft", "invoice.created", check=False)

    assert result.returncode == 3, result.stderr
    assert result.stdout == ""


class Ingest(BaseHTTPRequestHandler):
    """A stand-in for the dropship ingest that checks Standard Webhooks with the stdlib only."""

    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        msg_id, timestamp = self.headers["webhook-id"], self.headers["webhook-timestamp"]
        expected = signature(msg_id, timestamp, body)
        valid = any(hmac.compare_digest(sig, expected)
                    for sig in self.headers["webhook-signature"].split())
        fresh = abs(time.time() - int(timestamp)) <= 300
        Ingest.received.append({"path": self.path, "id": msg_id, "body": body.decode(),
                                "valid": valid and fresh})
        self.send_response(202 if valid and fresh else 401)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def database() -> Iterator[str]:
    name = f"sunsky_it_{uuid.uuid4().hex[:10]}"
    php("perfex_harness.php", "--db", name, "install")
    yield name
    php("perfex_harness.php", "--db", name, "drop", check=False)


def harness(database: str, *args: str) -> dict[str, Any]:
    answer: dict[str, Any] = json.loads(php("perfex_harness.php", "--db", database, *args).stdout)
    return answer


def test_the_harness_delivers_a_paid_event_python_can_verify_and_cron_retries_it(
        database: str) -> None:
    server = HTTPServer(("127.0.0.1", 0), Ingest)
    Ingest.received = []
    harness(database, "set-option", "sunsky_dropship_ingest_url", "http://127.0.0.1:1")
    harness(database, "set-option", "sunsky_dropship_signing_secret", SECRET)

    first = harness(database, "paid", "--invoice", "contract_example", "--id", "7001")
    [row] = first["events"]
    assert (row["status"], row["attempts"]) == ("pending", "1")  # nobody listening: kept

    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        harness(database, "set-option", "sunsky_dropship_ingest_url",
                f"http://127.0.0.1:{server.server_port}")
        harness(database, "cron", "--due-now")
    finally:
        server.shutdown()
        server.server_close()

    [received] = Ingest.received
    assert received["valid"], "the ingest's stdlib verifier refused the module's signature"
    assert received["path"] == "/v1/events"
    assert received["id"] == row["event_uid"]
    assert received["body"] == row["body"]
    INVOICE_EVENT.validate_json(received["body"])
    [sent] = harness(database, "dump")["outbox"]
    assert (sent["status"], sent["attempts"]) == ("sent", "2")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def router(database: str) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "SUNSKY_DB": database, "SUNSKY_WEBHOOK_SECRET": SECRET}
    process = subprocess.Popen([PHP or "php", "-S", f"127.0.0.1:{port}",
                                str(BIN / "webhook_router.php")], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                with urllib.request.urlopen(url + "/health", timeout=1):
                    break
            except OSError:
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def post_signed(url: str, message: dict[str, Any], msg_id: str) -> tuple[int, dict[str, Any]]:
    body = json.dumps(message).encode()
    timestamp = str(int(time.time()))
    request = urllib.request.Request(url + "/sunsky_dropship/webhook", body, {
        "content-type": "application/json", "webhook-id": msg_id, "webhook-timestamp": timestamp,
        "webhook-signature": signature(msg_id, timestamp, body)})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read())


def test_the_webhook_router_applies_a_signed_shipment_once(database: str, router: str) -> None:
    harness(database, "created", "--invoice", "contract_example", "--id", "7002")
    shipped = {"type": "order.shipped", "message_id": "msg-it-1", "order_id": 9,
               "invoice_id": "7002", "occurred_at": "2026-12-01T10:00:00Z",
               "sunsky_order_number": "SO-9", "invoice_number": "INV-007002",
               "is_update": False, "shipping_method": "Air Mail",
               "tracking_number": "RR900", "tracking_url": "https://track.example/RR900"}

    assert post_signed(router, shipped, "msg-it-1") == (
        200, {"status": "applied", "invoice_id": "7002", "order_status": "Shipped"})
    assert post_signed(router, shipped, "msg-it-1")[1]["status"] == "duplicate"
    assert post_signed(router, {**shipped, "type": "order.unknown"}, "msg-it-2")[0] == 422

    dump = harness(database, "dump")
    [order] = dump["orders"]
    assert (order["status"], order["tracking_number"]) == ("Shipped", "RR900")
    [email] = dump["emails"]
    assert email["to_email"] == "jane@example.com"
    assert "RR900" in email["message"]
    assert len(dump["notes"]) == 1
