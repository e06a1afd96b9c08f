"""Standard Webhooks v1 signing and verification, for both directions of the Perfex connector.

The ingest verifies what the Perfex module sends; the notifier signs what it posts back to the
module. The scheme (github.com/standard-webhooks/standard-webhooks, ``spec/standard-webhooks.md``):

- headers ``webhook-id``, ``webhook-timestamp`` (unix seconds) and ``webhook-signature``, a
  space-separated list of ``v1,<base64 MAC>`` entries (other versions are ignored);
- MAC = HMAC-SHA256(key, ``"{id}.{timestamp}."`` + the body's exact bytes);
- key = the base64 after ``whsec_`` in the secret; several secrets (space separated) are
  accepted during a rotation, and a sender with several signs with each;
- a timestamp more than ``TOLERANCE_SECONDS`` from the receiver's clock is refused, either way.

Verification checks the headers, the timestamp's form, the MAC, then the freshness, and says
which failed (``VerificationFailed.reason``), the reasons the Perfex module answers with too.
``tests/fixtures/webhook_vectors.json`` holds the vectors both languages must reproduce. Pure: no
I/O, and no secret or MAC ever appears in an exception's text.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

TOLERANCE_SECONDS = 300
SECRET_PREFIX = "whsec_"
MAX_SIGNATURES = 16  # entries read from one header; a sender rotating keys needs two
H_ID, H_TIMESTAMP, H_SIGNATURE = "webhook-id", "webhook-timestamp", "webhook-signature"
_TIMESTAMP = re.compile(r"[0-9]{1,12}")

Reason = Literal["missing_headers", "invalid_timestamp", "invalid_signature", "stale_timestamp"]


class InvalidSecret(ValueError):
    """A secret that is not ``whsec_<base64>`` (the message never repeats the secret)."""


class VerificationFailed(Exception):
    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail


@dataclass(frozen=True)
class SigningKey:
    key: bytes = field(repr=False)

    @classmethod
    def parse(cls, secret: str) -> SigningKey:
        """``whsec_<base64>``; unpadded base64 is accepted, as the reference libraries do."""
        encoded = secret.strip()
        if not encoded.startswith(SECRET_PREFIX):
            raise InvalidSecret(f"a webhook secret must start with {SECRET_PREFIX}")
        encoded = encoded.removeprefix(SECRET_PREFIX)
        try:
            key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
        except binascii.Error:
            raise InvalidSecret(f"the part after {SECRET_PREFIX} is not base64") from None
        if len(key) < 16:
            raise InvalidSecret("a webhook secret must hold at least 16 bytes of key")
        return cls(key)


def parse_keys(secrets: str) -> tuple[SigningKey, ...]:
    """Every secret of a space-separated list (two during a rotation); at least one."""
    keys = tuple(SigningKey.parse(s) for s in secrets.split())
    if not keys:
        raise InvalidSecret("no webhook secret set")
    return keys


def mac(key: SigningKey, msg_id: str, timestamp: int | str, body: bytes) -> bytes:
    content = f"{msg_id}.{timestamp}.".encode() + body
    return hmac.new(key.key, content, hashlib.sha256).digest()


def sign(key: SigningKey, msg_id: str, timestamp: int | str, body: bytes) -> str:
    """One ``v1,<base64>`` entry."""
    return "v1," + base64.b64encode(mac(key, msg_id, timestamp, body)).decode()


def signed_headers(keys: Sequence[SigningKey], msg_id: str, body: bytes,
                   now: float) -> dict[str, str]:
    """The three headers for ``body``, with one signature per key."""
    timestamp = str(int(now))
    signatures = " ".join(sign(key, msg_id, timestamp, body) for key in keys)
    return {H_ID: msg_id, H_TIMESTAMP: timestamp, H_SIGNATURE: signatures}


@dataclass(frozen=True)
class Verified:
    msg_id: str
    timestamp: int


def verify(keys: Sequence[SigningKey], headers: Mapping[str, str], body: bytes,
           now: float) -> Verified:
    """The message id and timestamp of a genuine, fresh message; else ``VerificationFailed``."""
    lowered = {k.lower(): v for k, v in headers.items()}
    msg_id, stamp = lowered.get(H_ID, ""), lowered.get(H_TIMESTAMP, "")
    signatures = lowered.get(H_SIGNATURE, "")
    if not (msg_id and stamp and signatures):
        missing = [h for h, v in ((H_ID, msg_id), (H_TIMESTAMP, stamp), (H_SIGNATURE, signatures))
                   if not v]
        raise VerificationFailed("missing_headers", f"missing {', '.join(missing)}")
    if not _TIMESTAMP.fullmatch(stamp):
        raise VerificationFailed("invalid_timestamp", f"{H_TIMESTAMP} must be unix seconds")
    if not _matches(keys, msg_id, stamp, body, signatures):
        raise VerificationFailed("invalid_signature", "no v1 signature matches a known secret")
    timestamp = int(stamp)
    if abs(now - timestamp) > TOLERANCE_SECONDS:
        raise VerificationFailed(
            "stale_timestamp", f"{H_TIMESTAMP} is {int(now - timestamp)} s away from this "
            f"server's clock (at most {TOLERANCE_SECONDS} s); check the sender's clock (NTP)")
    return Verified(msg_id, timestamp)


def _matches(keys: Sequence[SigningKey], msg_id: str, stamp: str, body: bytes,
             signatures: str) -> bool:
    offered = [_decoded(entry) for entry in signatures.split()[:MAX_SIGNATURES]]
    candidates = [m for m in offered if m is not None]
    expected = [mac(key, msg_id, stamp, body) for key in keys] if candidates else []
    return any(hmac.compare_digest(e, c) for e in expected for c in candidates)


def _decoded(entry: str) -> bytes | None:
    version, _, encoded = entry.partition(",")
    if version != "v1":
        return None
    try:
        return base64.b64decode(encoded, validate=True)
    except binascii.Error:
        return None
