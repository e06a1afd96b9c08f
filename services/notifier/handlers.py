"""The notifier: every order change Perfex should know about, POSTed to the module's webhook.

One handler for the five message types (``order.placed``, ``order.shipped``,
``order.delivered``, ``order.cancelled``, ``order.api_failed``): the module applies each by its
``type``. The body is the message's JSON bytes exactly as published, signed with
``PERFEX_WEBHOOK_SECRET``; webhook-id = the message's ``message_id``, so a re-delivery (Kafka's
at-least-once, a replay) is one the module already knows and answers "duplicate". This
service keeps no state of its own.

Fates, under the error policy of ``shared.messaging.policy``:

- delivered (2xx): done;
- refused (4xx other than 408/429, a redirect): ``<topic>.dlq`` at once, ``dlq.reason``
  ``perfex_refused``, the answer in ``dlq.http.status`` / ``dlq.http.answer``;
- still failing after the retries of ``delivery.py`` (5xx, 408, 429, timeouts, no
  connection): ``<topic>.dlq`` with ``dlq.reason`` ``perfex_unreachable``;
- not an order message we notify: ``<topic>.dlq`` (``schema_violation``/``wrong_message_type``).

``dropship replay --topic order.shipped.dlq`` sends dead letters back once Perfex is fixed
(every consumer of the original topic sees them again; each is idempotent).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from urllib.parse import urlsplit, urlunsplit

import httpx
from pydantic import ValidationError

from schemas.orders import ORDER_MESSAGE
from services.notifier.delivery import Delivery, DeliveryPolicy, Sleep, deliver
from shared import log_context
from shared.messaging.envelope import Envelope
from shared.messaging.policy import MessageRejected
from shared.settings import NOTIFIED_TOPICS, ConfigurationError, Settings, redact_url
from shared.webhooks import InvalidSecret, SigningKey, parse_keys

logger = logging.getLogger(__name__)

NOTIFIED_TYPES = frozenset(NOTIFIED_TOPICS)


def webhook_target(settings: Settings) -> tuple[str, tuple[SigningKey, ...]]:
    """``PERFEX_WEBHOOK_URL`` and the keys of ``PERFEX_WEBHOOK_SECRET``, or one line saying
    what is missing (``ConfigurationError``)."""
    url = (settings.perfex_webhook_url or "").strip()
    if not url:
        raise ConfigurationError(
            "PERFEX_WEBHOOK_URL is not set: the notifier posts order updates to the Perfex "
            "module's webhook (https://<your Perfex>/sunsky_dropship/webhook)")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError("PERFEX_WEBHOOK_URL must be an http(s) URL, e.g. "
                                 "https://crm.example.com/sunsky_dropship/webhook")
    try:
        return url, parse_keys(settings.perfex_webhook_secret.get_secret_value())
    except InvalidSecret as exc:
        raise ConfigurationError(
            f"PERFEX_WEBHOOK_SECRET: {exc} (whsec_<base64>, the module's \"Perfex webhook "
            "secret\"; several space separated during a rotation)") from None


def loggable_url(url: str) -> str:
    """Scheme, host and path: no password, no query string (it may carry a token)."""
    parts = urlsplit(redact_url(url))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


class Notifier:
    def __init__(self, settings: Settings, client: httpx.AsyncClient, *,
                 sleep: Sleep = asyncio.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._url, self._keys = webhook_target(settings)
        self._client, self._policy = client, DeliveryPolicy.from_settings(settings)
        self._shown_url = loggable_url(self._url)
        self.sleep, self.clock = sleep, clock  # tests move time by hand

    async def handle(self, envelope: Envelope) -> None:
        message_id, kind = decode(envelope)
        delivery = await deliver(self._client, self._url, self._keys, message_id,
                                 envelope.value, self._policy, sleep=self.sleep,
                                 clock=self.clock)
        where = f"{kind} message={message_id} key={envelope.key} {envelope.where()}"
        if delivery.outcome == "delivered":
            logger.info("notified Perfex of %s: HTTP %s after %d attempt(s)", where,
                        delivery.last.status, delivery.attempts)
            return
        raise self._rejection(delivery, where)

    def _rejection(self, delivery: Delivery, where: str) -> MessageRejected:
        last = delivery.last
        reason = "perfex_refused" if delivery.outcome == "refused" else "perfex_unreachable"
        detail = (f"{last.describe()} from {self._shown_url} after {delivery.attempts} "
                  f"attempt(s) in {delivery.seconds:.1f} s"
                  + (f": {_gist(last.answer)}" if last.answer else ""))
        logger.warning("Perfex did not take %s: %s", where, detail)
        return MessageRejected(reason, detail, {
            "dlq.http.status": "" if last.status is None else str(last.status),
            "dlq.http.answer": last.answer or last.error,
            "dlq.attempts": str(delivery.attempts), "dlq.webhook.url": self._shown_url})


def decode(envelope: Envelope) -> tuple[str, str]:
    """(message_id, type) of a notified order message, or ``MessageRejected``."""
    try:
        message = ORDER_MESSAGE.validate_json(envelope.value)
    except ValidationError as exc:
        summary = "; ".join(f"{'.'.join(map(str, e['loc'])) or '<root>'}: {e['type']}"
                            for e in exc.errors()[:3])
        raise MessageRejected("schema_violation", summary) from None
    log_context.bind(message_id=message.message_id, order_id=message.order_id)
    if message.type not in NOTIFIED_TYPES:
        raise MessageRejected("wrong_message_type", f"{message.type} is not sent to Perfex")
    return message.message_id, message.type


def _gist(answer: str) -> str:
    """The module's ``error``/``status`` when it answered JSON, else the answer's start."""
    try:
        parsed = json.loads(answer)
    except ValueError:
        return " ".join(answer.split())[:200]
    if isinstance(parsed, dict):
        return ", ".join(f"{k}={parsed[k]}" for k in ("status", "error", "detail") if k in parsed)
    return answer[:200]
