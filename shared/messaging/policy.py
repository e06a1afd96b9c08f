"""The error policy every agent applies to every message (STYLE.md point 9).

Faust acks a message when the agent raises, so nothing may escape an agent. Each message ends in
exactly one of these fates:

============================  ==================================================================
what happened                 fate
============================  ==================================================================
handler returned              done (the offset is committed by Faust afterwards)
``MessageRejected``           dead-letter ``<topic>.dlq`` with the reason; next message
database/broker unreachable   retried in place with backoff until it works (nothing is acked,
                              so a crash or rebalance hands the message to another worker)
conflict (unique, deadlock)   retried in place up to ``CONFLICT_RETRIES`` times, then DLQ
any other exception (a bug)   dead-letter with ``handler_error`` and the exception; next message
``CancelledError``            re-raised: shutdown must not be swallowed
============================  ==================================================================

Business "no"s (bad address, low balance) are not exceptions: handlers turn them into an
order in API Failed with a coded reason.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import TypeVar

import asyncpg
from pydantic import BaseModel, ValidationError

from schemas.orders import ORDER_MESSAGE
from shared import log_context
from shared.messaging.deadletter import DeadLetters
from shared.messaging.envelope import Envelope

logger = logging.getLogger(__name__)

Handler = Callable[[Envelope], Awaitable[None]]
M = TypeVar("M", bound=BaseModel)
CONFLICT_RETRIES = 5
MAX_BACKOFF = 30.0

_UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError, ConnectionError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError,
    asyncpg.TooManyConnectionsError, asyncpg.CannotConnectNowError,
)
_CONFLICT: tuple[type[BaseException], ...] = (
    asyncpg.UniqueViolationError, asyncpg.DeadlockDetectedError,
    asyncpg.SerializationError,
)


def retried_in_place(exc: BaseException) -> bool:
    """True for failures the policy retries in place (infrastructure down, conflicts)."""
    return isinstance(exc, _UNAVAILABLE + _CONFLICT)


class MessageRejected(Exception):
    """The message itself is bad (not JSON, wrong schema, unknown order), or a downstream
    refused it for good: dead-letter it. ``headers`` (``dlq.*`` names) go on the DLQ record
    too, e.g. the HTTP answer that refused it."""

    def __init__(self, reason: str, detail: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail
        self.headers = dict(headers or {})


async def process(envelope: Envelope, handler: Handler, dead_letters: DeadLetters) -> str:
    """Run ``handler`` on ``envelope`` under the policy above; returns the fate's name."""
    attempt = 0
    while True:
        attempt += 1
        try:
            await handler(envelope)
            return "done"
        except asyncio.CancelledError:
            raise
        except MessageRejected as exc:
            await _dead_letter(envelope, dead_letters, exc.reason, exc.detail, exc.headers)
            return "dead_lettered"
        except _CONFLICT as exc:
            if attempt > CONFLICT_RETRIES:
                await _dead_letter(envelope, dead_letters, "conflict", repr(exc))
                return "dead_lettered"
            await _backoff(envelope, exc, attempt)
        except _UNAVAILABLE as exc:
            await _backoff(envelope, exc, attempt)
        except Exception as exc:
            logger.exception("handler failed on %s key=%s", envelope.where(), envelope.key)
            await _dead_letter(envelope, dead_letters, "handler_error", repr(exc))
            return "dead_lettered"


async def _dead_letter(envelope: Envelope, dead_letters: DeadLetters, reason: str,
                       error: str, extra: Mapping[str, str] | None = None) -> None:
    """Publish to the DLQ, retrying while the broker is down: the message must not vanish."""
    attempt = 0
    while True:
        try:
            await dead_letters.send(envelope, reason=reason, error=error, extra=extra)
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            attempt += 1
            await _backoff(envelope, exc, attempt)


async def _backoff(envelope: Envelope, exc: BaseException, attempt: int) -> None:
    delay = min(MAX_BACKOFF, 0.2 * 2 ** min(attempt, 10))
    logger.warning("retrying %s key=%s in %.1fs (attempt %d): %r", envelope.where(),
                   envelope.key, delay, attempt, exc)
    await asyncio.sleep(delay)


def decode_order_message(envelope: Envelope, expected: type[M]) -> M:
    """Bytes -> one ``order.*`` message of the ``expected`` type, or ``MessageRejected``."""
    try:
        message = ORDER_MESSAGE.validate_json(envelope.value)
    except ValidationError as exc:
        raise MessageRejected("schema_violation", str(exc.errors()[:3])) from None
    log_context.bind(message_id=message.message_id, order_id=message.order_id)
    if not isinstance(message, expected):
        raise MessageRejected("wrong_message_type", f"{message.type} on {envelope.topic}")
    return message
