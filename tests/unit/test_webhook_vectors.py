"""The Standard Webhooks vectors the Perfex module is also held to (tests/php/unit/
WebhookSignatureTest.php), checked with nothing but Python's hmac, hashlib and base64.

The first vector is the specification's own; the others were computed once and are now fixed, so
the PHP signer, this code and any Python ingest must all agree on them byte for byte."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pytest

VECTORS = json.loads(
    (Path(__file__).resolve().parents[1] / "fixtures" / "webhook_vectors.json").read_text("utf-8"))
TOLERANCE_SECONDS = 300


def sign(secret: str, msg_id: str, timestamp: int | str, body: str) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    content = f"{msg_id}.{timestamp}.".encode() + body.encode("utf-8")
    return "v1," + base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()


def verify(secret: str, headers: dict[str, str], body: str, now: int) -> bool:
    msg_id, timestamp = headers.get("webhook-id", ""), headers.get("webhook-timestamp", "")
    signatures = headers.get("webhook-signature", "")
    if not (msg_id and timestamp and signatures) or not timestamp.isdigit():
        return False
    if abs(now - int(timestamp)) > TOLERANCE_SECONDS:
        return False
    expected = sign(secret, msg_id, timestamp, body).removeprefix("v1,")
    return any(
        version == "v1" and hmac.compare_digest(expected, mac)
        for version, _, mac in (candidate.partition(",") for candidate in signatures.split()))


def test_the_first_vector_is_the_specifications() -> None:
    first = VECTORS["sign"][0]
    assert first["secret"] == "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    assert first["msg_id"] == "msg_p5jXN8AQM9LWM0D4loKWxJek"
    assert first["timestamp"] == 1614265330
    assert first["body"] == '{"test": 2432232314}'
    assert first["signature"] == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


@pytest.mark.parametrize("vector", VECTORS["sign"], ids=lambda v: v["name"])
def test_signing_reproduces_the_vector(vector: dict[str, Any]) -> None:
    assert sign(vector["secret"], vector["msg_id"], vector["timestamp"],
                vector["body"]) == vector["signature"]


@pytest.mark.parametrize("case", VECTORS["verify"], ids=lambda c: c["name"])
def test_verification_accepts_exactly_the_valid_cases(case: dict[str, Any]) -> None:
    assert verify(case["secret"], case["headers"], case["body"], case["now"]) is case["valid"]
