"""Every way a SUNSKY call can fail maps to one class, code and kind (STYLE.md point 8).

One table per input: SUNSKY error envelopes, HTTP responses, httpx transport errors. Each read
case has its createOrder twin, because the same failure means "unknown outcome" only there.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import pytest

from shared.sunsky.errors import (
    ENVELOPE_RULES,
    ErrorKind,
    SunskyAuthError,
    SunskyDuplicateOrderError,
    SunskyError,
    SunskyNeedsActionError,
    SunskyNotFoundError,
    SunskyProtocolError,
    SunskyTransientError,
    SunskyUnknownOutcomeError,
    classify_envelope,
    classify_http,
    classify_transport,
    read_envelope,
)

READ = "order!getOrderDetails.do"
CREATE = "order!createOrder.do"
DUPLICATE_TEXT = "该订单已下单 / order already placed: siteNumber=INV-7"


@dataclass(frozen=True)
class Expect:
    cls: type[SunskyError]
    code: str
    kind: ErrorKind


AUTH_SIG = Expect(SunskyAuthError, "NO_PERMISSION_DUE_TO_SIGNATURE", ErrorKind.AUTH)
AUTH_USER = Expect(SunskyAuthError, "NO_PERMISSION_DUE_TO_USER_STATUS", ErrorKind.AUTH)
UNKNOWN = Expect(SunskyUnknownOutcomeError, "UNKNOWN_OUTCOME", ErrorKind.UNKNOWN_OUTCOME)
BAD = Expect(SunskyProtocolError, "BAD_RESPONSE", ErrorKind.TRANSIENT)


def needs(code: str) -> Expect:
    return Expect(SunskyNeedsActionError, code, ErrorKind.NEEDS_ACTION)


def transient(code: str) -> Expect:
    return Expect(SunskyTransientError, code, ErrorKind.TRANSIENT)


ENVELOPE_CASES: list[tuple[str, list[str], Expect]] = [
    (READ, ["NO_PERMISSION_DUE_TO_SIGNATURE"], AUTH_SIG),
    (CREATE, ["NO_PERMISSION_DUE_TO_USER_STATUS"], AUTH_USER),
    (READ, ["CALL_FREQUENCY_EXCEEDED"], transient("CALL_FREQUENCY_EXCEEDED")),
    (CREATE, ["CALL_FREQUENCY_EXCEEDED"], transient("CALL_FREQUENCY_EXCEEDED")),
    (CREATE, [DUPLICATE_TEXT],
     Expect(SunskyDuplicateOrderError, "DUPLICATE_SITE_NUMBER", ErrorKind.DUPLICATE)),
    (CREATE, ["BALANCE_NOT_ENOUGH: needs 12.3400, has 5.0000"], needs("BALANCE_NOT_ENOUGH")),
    (CREATE, ["余额不足"], needs("BALANCE_NOT_ENOUGH")),
    (CREATE, ["INVALID_DELIVERY_ADDRESS: postcode"], needs("INVALID_DELIVERY_ADDRESS")),
    (CREATE, ["SHIPPING_WAY_NOT_AVAILABLE"], needs("SHIPPING_WAY_NOT_AVAILABLE")),
    ("order!getPricesAndFreights.do", ["ITEM_NOT_EXIST"], needs("ITEM_NOT_EXIST")),
    (CREATE, ["item_not_exist: S-NOPE-1"], needs("ITEM_NOT_EXIST")),
    (CREATE, ["OUT_OF_STOCK: S-CAB-0042"], needs("OUT_OF_STOCK")),
    (READ, ["The record you visiting does NOT exist."],
     Expect(SunskyNotFoundError, "NOT_FOUND", ErrorKind.NOT_FOUND)),
    (CREATE, ["Something SUNSKY never told us about"], needs("UNKNOWN_BUSINESS_ERROR")),
    (CREATE, ["INVALID_PARAMETER: deliveryAddress.countryId"], needs("UNKNOWN_BUSINESS_ERROR")),
    (READ, [], needs("UNKNOWN_BUSINESS_ERROR")),
]

USER_STATUS_TEXT = "NO_PERMISSION_DUE_TO_USER_STATUS"
HTML = "<html><body>502 Bad Gateway</body></html>"

HTTP_CASES: list[tuple[str, int, str, Expect]] = [
    (READ, 200, USER_STATUS_TEXT, AUTH_USER),
    (CREATE, 200, USER_STATUS_TEXT, AUTH_USER),
    (READ, 403, f"Forbidden: {USER_STATUS_TEXT}\n", AUTH_USER),
    (READ, 500, "Internal Server Error", transient("SERVER_ERROR")),
    (READ, 502, HTML, transient("SERVER_ERROR")),
    (READ, 503, "", transient("SERVER_ERROR")),
    (READ, 429, "Too Many Requests", transient("RATE_LIMITED")),
    (CREATE, 500, "Internal Server Error", UNKNOWN),
    (CREATE, 502, HTML, UNKNOWN),
    (CREATE, 503, "", UNKNOWN),
    # A 429 means the request was turned away before it ran: no order, so retry later.
    (CREATE, 429, "Too Many Requests", transient("RATE_LIMITED")),
    (READ, 200, '{"result": "success", "data": ', BAD),
    (READ, 200, "OK", BAD),
    (READ, 200, '{"status": "fine"}', BAD),
    (READ, 404, "Not Found", BAD),
    (CREATE, 200, '{"result": "success", "data": ', UNKNOWN),
    (CREATE, 200, "", UNKNOWN),
    (CREATE, 404, "Not Found", UNKNOWN),
]

REQUEST = httpx.Request("POST", "https://open.sunsky-online.com/openapi/order!createOrder.do")

TRANSPORT_CASES: list[tuple[str, httpx.HTTPError, Expect]] = [
    (READ, httpx.ConnectTimeout("timed out"), transient("CONNECT_TIMEOUT")),
    (CREATE, httpx.ConnectTimeout("timed out"), transient("CONNECT_TIMEOUT")),
    (READ, httpx.ConnectError("[Errno 111] Connection refused"), transient("CONNECT_FAILED")),
    (CREATE, httpx.ConnectError("[Errno 111] Connection refused"), transient("CONNECT_FAILED")),
    (CREATE, httpx.PoolTimeout("no connection"), transient("TIMEOUT")),
    (CREATE, httpx.UnsupportedProtocol("ftp://"), transient("CONNECT_FAILED")),
    (READ, httpx.ReadTimeout("timed out"), transient("TIMEOUT")),
    (CREATE, httpx.ReadTimeout("timed out"), UNKNOWN),
    (READ, httpx.WriteTimeout("timed out"), transient("TIMEOUT")),
    (CREATE, httpx.WriteTimeout("timed out"), UNKNOWN),
    (READ, httpx.RemoteProtocolError("Server disconnected"), transient("NETWORK_ERROR")),
    (CREATE, httpx.RemoteProtocolError("Server disconnected"), UNKNOWN),
    (READ, httpx.ReadError("connection reset"), transient("NETWORK_ERROR")),
    (CREATE, httpx.ReadError("connection reset"), UNKNOWN),
    (CREATE, httpx.WriteError("broken pipe"), UNKNOWN),
    (READ, httpx.DecodingError("bad gzip", request=REQUEST), transient("NETWORK_ERROR")),
    (CREATE, httpx.DecodingError("bad gzip", request=REQUEST), UNKNOWN),
]


def assert_mapped(error: SunskyError | None, expect: Expect, endpoint: str) -> None:
    assert error is not None
    assert type(error) is expect.cls
    assert (error.code, error.kind, error.endpoint) == (expect.code, expect.kind, endpoint)
    assert error.retryable is (expect.kind is ErrorKind.TRANSIENT)
    assert error.fix_hint and error.fix_hint in str(error)
    assert error.code in str(error)


@pytest.mark.parametrize(("endpoint", "messages", "expect"), ENVELOPE_CASES)
def test_envelope_messages(endpoint: str, messages: list[str], expect: Expect) -> None:
    error = classify_envelope(endpoint, messages)

    assert_mapped(error, expect, endpoint)
    assert error.messages == messages


@pytest.mark.parametrize(("endpoint", "status", "body", "expect"), HTTP_CASES)
def test_http_responses(endpoint: str, status: int, body: str, expect: Expect) -> None:
    error = classify_http(endpoint, status, body, mutating=endpoint == CREATE)

    assert_mapped(error, expect, endpoint)


@pytest.mark.parametrize(("endpoint", "exc", "expect"), TRANSPORT_CASES)
def test_transport_errors(endpoint: str, exc: httpx.HTTPError, expect: Expect) -> None:
    error = classify_transport(endpoint, exc, mutating=endpoint == CREATE)

    assert_mapped(error, expect, endpoint)
    assert type(exc).__name__ in error.messages[0]


def test_every_envelope_rule_has_a_case() -> None:
    covered = {expect.code for _, _, expect in ENVELOPE_CASES}

    assert {code for _, _, code, _ in ENVELOPE_RULES} <= covered


def test_first_matching_rule_wins() -> None:
    error = classify_envelope(CREATE, ["ITEM_NOT_EXIST", "NO_PERMISSION_DUE_TO_SIGNATURE"])

    assert error.code == "NO_PERMISSION_DUE_TO_SIGNATURE"


@pytest.mark.parametrize("status", [200, 201])
def test_readable_envelope_is_not_an_http_error(status: int) -> None:
    body = '{"result": "error", "messages": ["ITEM_NOT_EXIST"]}'

    assert classify_http(READ, status, body, mutating=False) is None


def test_read_envelope_returns_data_or_raises_the_classified_error() -> None:
    assert read_envelope(READ, 200, '{"result":"success","data":"5.2600"}', mutating=False) == (
        "5.2600"
    )
    with pytest.raises(SunskyNotFoundError):
        read_envelope(
            READ, 200, '{"result":"error","messages":["The record you visiting does NOT exist."]}',
            mutating=False,
        )


def test_documented_hints_for_the_common_needs_action_codes() -> None:
    balance = classify_envelope(CREATE, ["BALANCE_NOT_ENOUGH: needs 9.0000, has 5.0000"])
    address = classify_envelope(CREATE, ["INVALID_DELIVERY_ADDRESS: city"])

    assert balance.fix_hint == "Top up the SUNSKY balance, then retry the order"
    assert address.fix_hint == "Correct the shipping address, then retry"


def test_signature_shaped_tokens_never_reach_the_message() -> None:
    signature = "c908e6a13552aab42ce5f71adf78e21b"
    error = classify_http(READ, 500, f"bad request signature={signature}", mutating=False)

    assert error is not None
    assert signature not in str(error)
    assert all(signature not in m for m in error.messages)


def test_long_bodies_are_cut() -> None:
    error = classify_http(READ, 502, "x" * 10_000, mutating=False)

    assert error is not None
    assert len(str(error)) < 600


def test_errors_built_by_hand_get_the_matching_hint() -> None:
    """Fakes elsewhere raise these directly; the hint follows the code, else the class."""
    by_code = SunskyNeedsActionError("BALANCE_NOT_ENOUGH", ["BALANCE_NOT_ENOUGH: needs 1, has 0"])
    by_class = SunskyUnknownOutcomeError("UNKNOWN_OUTCOME")

    assert by_code.fix_hint == "Top up the SUNSKY balance, then retry the order"
    assert "siteNumber" in by_class.fix_hint
    assert by_class.kind is ErrorKind.UNKNOWN_OUTCOME and not by_class.retryable
    assert str(by_class).startswith("UNKNOWN_OUTCOME from SUNSKY: (no message).")
