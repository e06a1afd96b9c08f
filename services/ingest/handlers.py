"""What the ingest does with one signed Perfex event: verify, validate, publish once, answer.

=====================================  ======  =============================================
the request                            answer  what happens
=====================================  ======  =============================================
missing or wrong signature             401     ``missing_headers`` / ``invalid_timestamp`` /
                                               ``invalid_signature``; nothing published
timestamp more than 5 minutes away     401     ``stale_timestamp``
a webhook-id we cannot store           400     ``invalid_webhook_id`` (1-255 printable ASCII)
not JSON                               400     ``invalid_json``
unknown ``event_type``                 422     ``unknown_event_type``
not the contract's shape               422     ``schema_violation`` with the fields at fault
a new event                            202     ``accepted``: the broker acknowledged the
                                               record (topic = event_type, key = invoice id,
                                               header ``message_id`` = webhook-id)
a webhook-id accepted before           202     ``duplicate``: nothing published again
the same webhook-id, another body      409     ``webhook_id_reused``: nothing published
broker or database unreachable         503     ``broker_unavailable`` /
                                               ``database_unavailable``, ``Retry-After``
=====================================  ======  =============================================

(Bodies over 1 MiB get 413 in ``http.py`` before they are read.) The body is published as
received, byte for byte: the invoice listener parses it with the same ``INVOICE_EVENT`` this
module validates with, so what is accepted here is what the listener accepts. Logs name the
webhook-id, event type, invoice id and the fields at fault, never a value from the body.

A record is published at most once per webhook-id within ``INGEST_DEDUP_RETENTION_SECONDS``
(``shared.db.ledger``): the id is remembered in the transaction that waits for the broker, for
a group of concurrent requests at once (``batching.py``). If the broker acknowledged but its
answer was lost (a timeout here, hence 503), the sender's retry publishes again; the invoice
listener drops that copy by ``event_id``.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from schemas.perfex import INVOICE_EVENT, InvoiceCreated, InvoicePaid
from services.ingest.batching import GroupCommit
from shared.db.ledger import IngestLedger, LedgerEntry
from shared.messaging.publisher import Publisher
from shared.settings import ConfigurationError, Settings
from shared.webhooks import InvalidSecret, SigningKey, VerificationFailed, parse_keys, verify

logger = logging.getLogger(__name__)

InvoiceEvent = InvoiceCreated | InvoicePaid
_WEBHOOK_ID = re.compile(r"[\x21-\x7e]{1,255}")
_UNPRINTABLE = re.compile(r"[^\x21-\x7e]")


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def refusal(status: int, error: str, detail: str, **headers: str) -> Answer:
    return Answer(status, {"error": error, "detail": detail}, headers)


def signing_keys(settings: Settings) -> tuple[SigningKey, ...]:
    """``INGEST_SECRET`` parsed, or one line saying what is wrong with it."""
    try:
        return parse_keys(settings.ingest_secret.get_secret_value())
    except InvalidSecret as exc:
        raise ConfigurationError(
            f"INGEST_SECRET: {exc} (whsec_<base64>, the module's signing secret; several "
            "space separated during a rotation)") from None


class Ingest:
    def __init__(self, settings: Settings, ledger: IngestLedger, publisher: Publisher, *,
                 clock: Callable[[], float] = time.time) -> None:
        self._settings, self._keys, self._clock = settings, signing_keys(settings), clock
        self._group = GroupCommit(settings, ledger, publisher, clock=clock)

    async def receive(self, headers: Mapping[str, str], body: bytes) -> Answer:
        try:
            webhook_id = verify(self._keys, headers, body, self._clock()).msg_id
        except VerificationFailed as exc:
            return _refused(headers.get("webhook-id"), 401, exc.reason, exc.detail)
        if not _WEBHOOK_ID.fullmatch(webhook_id):
            return _refused(None, 400, "invalid_webhook_id",
                            "webhook-id must be 1 to 255 printable ASCII characters")
        event = parse_event(body)
        if isinstance(event, Answer):
            logger.warning("ingest refused webhook-id=%s: %s %s (%s)", webhook_id, event.status,
                           event.body["error"], event.body.get("log", ""))
            return Answer(event.status, {k: v for k, v in event.body.items() if k != "log"})
        return await self._accept(webhook_id, event, body)

    async def _accept(self, webhook_id: str, event: InvoiceEvent, body: bytes) -> Answer:
        entry = LedgerEntry(webhook_id, event.event_type, event.data.invoice.id,
                            hashlib.sha256(body).digest())
        outcome = await self._group.submit(entry, body)
        if outcome == "accepted":
            logger.info("ingest accepted webhook-id=%s %s invoice=%s -> %s", webhook_id,
                        event.event_type, entry.invoice_id, self._settings.topic(entry.event_type))
            return Answer(202, {"status": "accepted", "webhook_id": webhook_id,
                                "topic": event.event_type})
        if outcome in ("duplicate", "reused"):
            return _duplicate(entry, same_body=outcome == "duplicate")
        return self._unavailable(outcome, entry)

    async def drain(self) -> None:
        await self._group.drain()

    def _unavailable(self, error: str, entry: LedgerEntry) -> Answer:
        retry_after = str(self._settings.ingest_retry_after_seconds)
        logger.error("ingest could not accept webhook-id=%s %s invoice=%s: %s; answered 503, "
                     "Retry-After %s s", entry.webhook_id, entry.event_type, entry.invoice_id,
                     error, retry_after)
        what = "message broker" if error == "broker_unavailable" else "database"
        return refusal(503, error, f"the {what} is unreachable; nothing was published, send "
                       "the event again later", **{"Retry-After": retry_after})


def parse_event(body: bytes) -> InvoiceEvent | Answer:
    """The contract event in ``body``, or the 400/422 answer (with a value-free ``log``)."""
    try:
        return INVOICE_EVENT.validate_json(body)
    except ValidationError as exc:
        errors = exc.errors()
    kind = errors[0]["type"]
    if kind == "json_invalid":
        return Answer(400, {"error": "invalid_json", "detail": "the body is not UTF-8 JSON",
                            "log": kind})
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        return Answer(422, {"error": "unknown_event_type",
                            "detail": "event_type must be invoice.created or invoice.paid",
                            "log": kind})
    places = [".".join(str(p) for p in _field(e["loc"])) or "<body>" for e in errors[:10]]
    return Answer(422, {
        "error": "schema_violation", "detail": "the body is not a contract event",
        "fields": [f"{place}: {e['msg']}" for place, e in zip(places, errors, strict=False)],
        "log": "; ".join(f"{place}: {e['type']}" for place, e in
                         zip(places, errors, strict=False))})


def _field(loc: tuple[int | str, ...]) -> tuple[int | str, ...]:
    """The location without the union's tag (``invoice.paid.data.x`` -> ``data.x``)."""
    return loc[1:] if loc and loc[0] in ("invoice.created", "invoice.paid") else loc


def loggable_id(webhook_id: str | None) -> str:
    """A header value as it may appear in a log line: short, printable, no forged lines."""
    return _UNPRINTABLE.sub("?", (webhook_id or "-")[:80])


def _refused(webhook_id: str | None, status: int, error: str, detail: str) -> Answer:
    logger.warning("ingest refused webhook-id=%s: %s %s", loggable_id(webhook_id), status, error)
    return refusal(status, error, detail)


def _duplicate(entry: LedgerEntry, same_body: bool) -> Answer:
    if same_body:
        logger.info("ingest: webhook-id=%s %s invoice=%s was accepted before: not published "
                    "again", entry.webhook_id, entry.event_type, entry.invoice_id)
        return Answer(202, {"status": "duplicate", "webhook_id": entry.webhook_id})
    logger.warning("ingest refused webhook-id=%s %s invoice=%s: accepted before with another "
                   "body", entry.webhook_id, entry.event_type, entry.invoice_id)
    return refusal(409, "webhook_id_reused", "this webhook-id was accepted before with a "
                   "different body; nothing was published (give each event its own id)")
