"""What can go wrong talking to SUNSKY, as exceptions the workers can act on (STYLE.md 8, 9).

Every transport error, HTTP status and SUNSKY error envelope maps to exactly one class below.
The class answers "what should the caller do with this message?"; ``code`` is the stable
upper-snake string stored on orders; ``messages`` keeps SUNSKY's texts verbatim::

    Exception
     └── SunskyError                      code, kind, messages, endpoint, fix_hint, retryable
          ├── SunskyTransientError        TRANSIENT: try again later (reads retry by themselves)
          │    │                          timeouts/dropped connections on reads, connect errors,
          │    │                          HTTP 5xx/429, CALL_FREQUENCY_EXCEEDED
          │    └── SunskyProtocolError    BAD_RESPONSE: non-JSON or odd body on a read
          ├── SunskyNeedsActionError      NEEDS_ACTION: a person must fix something, then retry
          │                               BALANCE_NOT_ENOUGH, INVALID_DELIVERY_ADDRESS,
          │                               ITEM_NOT_EXIST, OUT_OF_STOCK, SHIPPING_WAY_NOT_AVAILABLE,
          │                               UNKNOWN_BUSINESS_ERROR (any unrecognised error envelope)
          ├── SunskyAuthError             AUTH: NO_PERMISSION_DUE_TO_SIGNATURE / _USER_STATUS
          ├── SunskyUnknownOutcomeError   UNKNOWN_OUTCOME: createOrder only; the order may exist,
          │                               so look it up by siteNumber before creating it again
          ├── SunskyDuplicateOrderError   DUPLICATE_SITE_NUMBER: createOrder said 已下单
          ├── SunskyNotFoundError         NOT_FOUND: "The record you visiting does NOT exist."
          └── SunskyNotSentError          NOT_SENT: a guarded createOrder was refused before it
                                          left (its deadline, or the caller's last check)

SUNSKY's real error texts are mostly undocumented (reference section 3), so envelopes are
classified by case-insensitive substring rules, first matching rule wins. Errors never carry the
API secret or a request signature: messages are scrubbed of signature-shaped tokens here, and
the client removes the secret from response bodies before they reach these functions.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from enum import StrEnum

import httpx

_SIGNATURE_LIKE = re.compile(r"\b[0-9a-fA-F]{32}\b")
_MAX_BODY_CHARS = 300


class ErrorKind(StrEnum):
    TRANSIENT = "transient"
    NEEDS_ACTION = "needs_action"
    AUTH = "auth"
    UNKNOWN_OUTCOME = "unknown_outcome"
    DUPLICATE = "duplicate"
    NOT_FOUND = "not_found"
    NOT_SENT = "not_sent"


class SunskyError(Exception):
    """Base of every SUNSKY failure; see the module docstring for the tree."""

    kind: ErrorKind = ErrorKind.NEEDS_ACTION
    retryable: bool = False
    default_hint: str = "Read SUNSKY's message, fix the cause, then retry"

    def __init__(
        self,
        code: str,
        messages: Sequence[str] = (),
        *,
        endpoint: str = "",
        fix_hint: str | None = None,
    ) -> None:
        self.code = code
        self.messages = [_SIGNATURE_LIKE.sub("***", m) for m in messages]
        self.endpoint = endpoint
        self.fix_hint = fix_hint or _HINTS_BY_CODE.get(code) or self.default_hint
        super().__init__(self._render())

    def _render(self) -> str:
        detail = "; ".join(self.messages) or "(no message)"
        where = f"SUNSKY {self.endpoint}" if self.endpoint else "SUNSKY"
        return f"{self.code} from {where}: {detail}. {self.fix_hint}"


class SunskyTransientError(SunskyError):
    kind = ErrorKind.TRANSIENT
    retryable = True
    default_hint = "Temporary SUNSKY or network problem; retry later (reads retry by themselves)"


class SunskyProtocolError(SunskyTransientError):
    """A read got a body that is not a SUNSKY envelope (proxy page, truncated JSON, ...)."""

    default_hint = (
        "SUNSKY sent something that is not an API response; check SUNSKY_BASE_URL if it persists"
    )


class SunskyNeedsActionError(SunskyError):
    kind = ErrorKind.NEEDS_ACTION


class SunskyAuthError(SunskyError):
    kind = ErrorKind.AUTH
    default_hint = "Check SUNSKY_API_KEY/SUNSKY_API_SECRET and the SUNSKY account"


class SunskyUnknownOutcomeError(SunskyError):
    """createOrder may or may not have created the order; never retry it blindly."""

    kind = ErrorKind.UNKNOWN_OUTCOME
    default_hint = "The order may exist: look it up by siteNumber before creating it again"


class SunskyDuplicateOrderError(SunskyError):
    kind = ErrorKind.DUPLICATE
    default_hint = "An order with this siteNumber exists; look it up instead of creating it again"


class SunskyNotFoundError(SunskyError):
    kind = ErrorKind.NOT_FOUND
    default_hint = "Check the SUNSKY order number (or other id) you asked for"


class SunskyNotSentError(SunskyError):
    """The request never left: nothing happened at SUNSKY, and nothing of it can arrive late."""

    kind = ErrorKind.NOT_SENT
    default_hint = "Never sent: nothing happened at SUNSKY"


_Rule = tuple[tuple[str, ...], type[SunskyError], str, str]

# (substrings, class, code, fix hint). Order matters: the first rule that matches wins.
ENVELOPE_RULES: tuple[_Rule, ...] = (
    (("NO_PERMISSION_DUE_TO_SIGNATURE",), SunskyAuthError, "NO_PERMISSION_DUE_TO_SIGNATURE",
     "Check SUNSKY_API_KEY/SUNSKY_API_SECRET: SUNSKY rejected the key/secret pair"),
    (("NO_PERMISSION_DUE_TO_USER_STATUS",), SunskyAuthError, "NO_PERMISSION_DUE_TO_USER_STATUS",
     "The SUNSKY account or API key is not active; ask your SUNSKY sales manager"),
    (("CALL_FREQUENCY_EXCEEDED",), SunskyTransientError, "CALL_FREQUENCY_EXCEEDED",
     "SUNSKY throttled the call; retry later or lower SUNSKY_ACCOUNT_CALLS_PER_SECOND"),
    (("已下单",), SunskyDuplicateOrderError, "DUPLICATE_SITE_NUMBER",
     SunskyDuplicateOrderError.default_hint),
    (("BALANCE_NOT_ENOUGH", "INSUFFICIENT_BALANCE", "余额不足"), SunskyNeedsActionError,
     "BALANCE_NOT_ENOUGH", "Top up the SUNSKY balance, then retry the order"),
    (("INVALID_DELIVERY_ADDRESS",), SunskyNeedsActionError, "INVALID_DELIVERY_ADDRESS",
     "Correct the shipping address, then retry"),
    (("ITEM_NOT_EXIST",), SunskyNeedsActionError, "ITEM_NOT_EXIST",
     "Fix the SUNSKY item number (unknown or discontinued item), then retry"),
    (("OUT_OF_STOCK", "库存不足"), SunskyNeedsActionError, "OUT_OF_STOCK",
     "Wait for a restock or substitute the item, then retry"),
    (("SHIPPING_WAY_NOT_AVAILABLE",), SunskyNeedsActionError, "SHIPPING_WAY_NOT_AVAILABLE",
     "Choose another shipping way for this destination, then retry"),
    (("does NOT exist", "record you visiting"), SunskyNotFoundError, "NOT_FOUND",
     SunskyNotFoundError.default_hint),
)
_HINTS_BY_CODE = {code: hint for _, _, code, hint in ENVELOPE_RULES}


def classify_envelope(endpoint: str, messages: Sequence[str]) -> SunskyError:
    """The error for ``{"result": "error", "messages": messages}`` from ``endpoint``."""
    text = "\n".join(messages).casefold()
    for needles, cls, code, hint in ENVELOPE_RULES:
        if any(needle.casefold() in text for needle in needles):
            return cls(code, messages, endpoint=endpoint, fix_hint=hint)
    return SunskyNeedsActionError("UNKNOWN_BUSINESS_ERROR", messages, endpoint=endpoint)


def classify_http(
    endpoint: str, status_code: int, body_text: str, *, mutating: bool
) -> SunskyError | None:
    """The error for an HTTP response that is not a readable envelope; None when it is."""
    envelope = parse_envelope(body_text)
    if 200 <= status_code < 300 and envelope is not None:
        return None
    if envelope is None and _mentions_auth(body_text):
        return classify_envelope(endpoint, [body_text.strip()[:_MAX_BODY_CHARS]])
    detail = [f"HTTP {status_code}: {_snippet(body_text)}"]
    if status_code == 429:
        return SunskyTransientError("RATE_LIMITED", detail, endpoint=endpoint)
    if mutating:
        return unknown_outcome(endpoint, detail)
    if status_code >= 500:
        return SunskyTransientError("SERVER_ERROR", detail, endpoint=endpoint)
    return bad_response(endpoint, detail)


def classify_transport(endpoint: str, exc: httpx.HTTPError, *, mutating: bool) -> SunskyError:
    """The error for an httpx exception raised while calling ``endpoint``."""
    detail = [f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__]
    if mutating and not isinstance(exc, _NEVER_SENT):
        return unknown_outcome(endpoint, detail)
    return SunskyTransientError(_transport_code(exc), detail, endpoint=endpoint)


# The request cannot have reached SUNSKY, so even createOrder is safely "not done".
_NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout,
               httpx.UnsupportedProtocol)


def _transport_code(exc: httpx.HTTPError) -> str:
    if isinstance(exc, httpx.ConnectTimeout):
        return "CONNECT_TIMEOUT"
    if isinstance(exc, httpx.ConnectError | httpx.UnsupportedProtocol):
        return "CONNECT_FAILED"
    if isinstance(exc, httpx.TimeoutException):
        return "TIMEOUT"
    return "NETWORK_ERROR"


def unknown_outcome(endpoint: str, messages: Sequence[str]) -> SunskyUnknownOutcomeError:
    return SunskyUnknownOutcomeError("UNKNOWN_OUTCOME", messages, endpoint=endpoint)


def not_sent(endpoint: str, messages: Sequence[str]) -> SunskyNotSentError:
    return SunskyNotSentError("NOT_SENT", messages, endpoint=endpoint)


def bad_response(endpoint: str, messages: Sequence[str]) -> SunskyProtocolError:
    return SunskyProtocolError("BAD_RESPONSE", messages, endpoint=endpoint)


def odd_body(endpoint: str, messages: Sequence[str], *, mutating: bool) -> SunskyError:
    """A body we cannot use: on createOrder the order may still exist."""
    if mutating:
        return unknown_outcome(endpoint, messages)
    return bad_response(endpoint, messages)


def parse_envelope(body_text: str) -> dict[str, object] | None:
    """The decoded envelope, or None when the body is not ``{"result": "success"|"error"}``."""
    try:
        decoded = json.loads(body_text)
    except ValueError:
        return None
    if isinstance(decoded, dict) and decoded.get("result") in ("success", "error"):
        return decoded
    return None


def read_envelope(endpoint: str, status_code: int, body_text: str, *, mutating: bool) -> object:
    """``data`` of a success envelope; raises the matching SunskyError otherwise."""
    error = classify_http(endpoint, status_code, body_text, mutating=mutating)
    if error is not None:
        raise error
    envelope = parse_envelope(body_text)
    assert envelope is not None  # classify_http returned None, so the body parsed
    if envelope["result"] == "success":
        return envelope.get("data")
    raise classify_envelope(endpoint, _messages(envelope.get("messages")))


def _messages(raw: object) -> list[str]:
    if isinstance(raw, list):
        return [str(m) for m in raw]
    return [] if raw is None else [str(raw)]


def _mentions_auth(body_text: str) -> bool:
    return "NO_PERMISSION_DUE_TO_" in body_text


def _snippet(body_text: str) -> str:
    text = " ".join(body_text.split())
    if not text:
        return "(empty body)"
    return text if len(text) <= _MAX_BODY_CHARS else text[:_MAX_BODY_CHARS] + "…"
