"""``shared.webhooks`` against the specification's published vector and the vectors the PHP
module is held to (tests/fixtures/webhook_vectors.json, also run by tests/php/unit/
WebhookSignatureTest.php)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from shared.webhooks import (
    InvalidSecret,
    SigningKey,
    VerificationFailed,
    parse_keys,
    sign,
    signed_headers,
    verify,
)

VECTORS = json.loads(
    (Path(__file__).resolve().parents[1] / "fixtures" / "webhook_vectors.json").read_text("utf-8"))

# github.com/standard-webhooks/standard-webhooks, libraries/python/tests/test_webhooks.py
# ::test_sign_function (commit 33d368b20c5543357f4f27fd13bed0703b8c5204), read for this test.
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID, SPEC_TIMESTAMP = "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
OTHER_SECRET = "whsec_c3Vuc2t5LWRyb3BzaGlwLXNoYXJlZC12ZWN0b3Ita2V5"


def test_the_specification_vector() -> None:
    key = SigningKey.parse(SPEC_SECRET)
    assert sign(key, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY) == SPEC_SIGNATURE
    headers = {"webhook-id": SPEC_ID, "webhook-timestamp": str(SPEC_TIMESTAMP),
               "webhook-signature": SPEC_SIGNATURE}
    assert verify([key], headers, SPEC_BODY, now=SPEC_TIMESTAMP).msg_id == SPEC_ID


@pytest.mark.parametrize("vector", VECTORS["sign"], ids=lambda v: v["name"])
def test_signing_reproduces_the_shared_vectors(vector: dict[str, Any]) -> None:
    key = SigningKey.parse(vector["secret"])
    assert sign(key, vector["msg_id"], vector["timestamp"],
                vector["body"].encode("utf-8")) == vector["signature"]


@pytest.mark.parametrize("case", VECTORS["verify"], ids=lambda c: c["name"])
def test_verification_agrees_with_the_shared_cases(case: dict[str, Any]) -> None:
    keys = [SigningKey.parse(case["secret"])]
    body = case["body"].encode("utf-8")
    if case["valid"]:
        verify(keys, case["headers"], body, now=case["now"])
    else:
        with pytest.raises(VerificationFailed) as failed:
            verify(keys, case["headers"], body, now=case["now"])
        assert failed.value.reason == case["reason"]


def test_any_of_several_secrets_verifies_during_a_rotation() -> None:
    headers = signed_headers([SigningKey.parse(SPEC_SECRET)], "msg_1", b"{}", now=1_800_000_000)
    keys = parse_keys(f"{OTHER_SECRET}  {SPEC_SECRET}")
    assert verify(keys, headers, b"{}", now=1_800_000_000).timestamp == 1_800_000_000
    with pytest.raises(VerificationFailed, match="invalid_signature"):
        verify(parse_keys(OTHER_SECRET), headers, b"{}", now=1_800_000_000)


def test_a_sender_with_two_secrets_signs_with_both() -> None:
    headers = signed_headers(parse_keys(f"{SPEC_SECRET} {OTHER_SECRET}"), "msg_2", b"x", now=5000)
    assert len(headers["webhook-signature"].split()) == 2
    for secret in (SPEC_SECRET, OTHER_SECRET):
        verify(parse_keys(secret), headers, b"x", now=5000)


def test_header_names_are_case_insensitive() -> None:
    headers = signed_headers(parse_keys(SPEC_SECRET), "msg_3", b"{}", now=7000)
    shouting = {k.upper(): v for k, v in headers.items()}
    assert verify(parse_keys(SPEC_SECRET), shouting, b"{}", now=7000).msg_id == "msg_3"


@pytest.mark.parametrize("signature", ["v1,not base64!", "v1", ",", "v1,", "garbage"])
def test_malformed_signature_entries_are_refused_not_raised(signature: str) -> None:
    headers = {"webhook-id": "m", "webhook-timestamp": "100", "webhook-signature": signature}
    with pytest.raises(VerificationFailed, match="invalid_signature"):
        verify(parse_keys(SPEC_SECRET), headers, b"{}", now=100)


@pytest.mark.parametrize("secret", ["", "   ", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_%%%",
                                    "whsec_c2hvcnQ="])
def test_bad_secrets_are_refused_without_repeating_them(secret: str) -> None:
    with pytest.raises(InvalidSecret) as refused:
        parse_keys(secret)
    assert "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" not in str(refused.value)


def test_unpadded_base64_secrets_are_accepted_and_keys_never_print() -> None:
    padded = "whsec_" + base64.b64encode(b"seventeen bytes!!").decode()
    assert padded.endswith("=")
    assert SigningKey.parse(padded.rstrip("=")) == SigningKey.parse(padded)
    assert repr(SigningKey.parse(padded)) == "SigningKey()"
