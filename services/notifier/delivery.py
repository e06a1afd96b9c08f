"""One message to the Perfex module's webhook: signed POSTs, retried within a time budget.

The retry policy is declared here, where the call is made:

==========================================  =================================================
the answer                                  what happens
==========================================  =================================================
2xx                                         delivered
408, 429, 5xx, a timeout, no connection     tried again after 1, 2, 4 ... x
                                            ``NOTIFIER_BACKOFF_SECONDS`` (or the answer's
                                            ``Retry-After``), at most
                                            ``NOTIFIER_MAX_ATTEMPTS`` tries in all
any other answer (4xx, a redirect)          refused: not tried again
==========================================  =================================================

Every try, the waits included, fits in ``NOTIFIER_BUDGET_SECONDS`` per message (a try gets at
most what is left of it, and at most ``NOTIFIER_TIMEOUT_SECONDS``), so one bad URL holds a
partition up for a bounded time, far below Faust's poll interval. Each try is signed afresh
(a new timestamp: the module refuses one more than 5 minutes old) with the same webhook-id,
which is how the module knows a retry it already applied. Redirects are not followed: a POST
must not wander, and a wrong URL should show.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import httpx

from shared.settings import Settings
from shared.webhooks import SigningKey, signed_headers

ANSWER_EXCERPT_BYTES = 2000
Outcome = Literal["delivered", "refused", "gave_up"]


@dataclass(frozen=True)
class DeliveryPolicy:
    timeout: float
    max_attempts: int
    first_backoff: float
    budget: float

    @classmethod
    def from_settings(cls, settings: Settings) -> DeliveryPolicy:
        return cls(settings.notifier_timeout_seconds, settings.notifier_max_attempts,
                   settings.notifier_backoff_seconds, settings.notifier_budget_seconds)

    def backoff(self, attempt: int, retry_after: float | None) -> float:
        doubling: float = self.first_backoff * 2.0 ** (attempt - 1)
        return doubling if retry_after is None else max(doubling, retry_after)


@dataclass(frozen=True)
class Try:
    """One POST's result: ``status`` None when no answer came (``error`` says why)."""

    status: int | None
    answer: str = ""
    error: str = ""
    retry_after: float | None = None

    @property
    def outcome(self) -> Literal["delivered", "transient", "refused"]:
        if self.status is None or self.status in (408, 429) or self.status >= 500:
            return "transient"
        return "delivered" if 200 <= self.status < 300 else "refused"

    def describe(self) -> str:
        return f"HTTP {self.status}" if self.status is not None else self.error


@dataclass(frozen=True)
class Delivery:
    outcome: Outcome
    attempts: int
    last: Try
    seconds: float


Sleep = Callable[[float], Awaitable[None]]


async def deliver(client: httpx.AsyncClient, url: str, keys: Sequence[SigningKey],
                  webhook_id: str, body: bytes, policy: DeliveryPolicy, *,
                  sleep: Sleep = asyncio.sleep,
                  clock: Callable[[], float] = time.monotonic) -> Delivery:
    started = clock()
    deadline = started + policy.budget
    attempt = 0
    while True:
        attempt += 1
        result = await _post(client, url, keys, webhook_id, body,
                             min(policy.timeout, max(0.001, deadline - clock())))
        if result.outcome != "transient":
            return Delivery(result.outcome, attempt, result, clock() - started)
        delay = policy.backoff(attempt, result.retry_after)
        if attempt >= policy.max_attempts or clock() + delay >= deadline:
            return Delivery("gave_up", attempt, result, clock() - started)
        await sleep(delay)


async def _post(client: httpx.AsyncClient, url: str, keys: Sequence[SigningKey],
                webhook_id: str, body: bytes, seconds: float) -> Try:
    headers = {"content-type": "application/json",
               **signed_headers(keys, webhook_id, body, time.time())}
    try:
        async with asyncio.timeout(seconds):  # the whole exchange, not each read
            async with client.stream("POST", url, content=body, headers=headers,
                                     timeout=seconds) as response:
                answer = await _excerpt(response)
                return Try(response.status_code, answer,
                           retry_after=_seconds(response.headers.get("retry-after")))
    except (TimeoutError, httpx.TimeoutException):
        return Try(None, error=f"no answer within {seconds:.3g} s")
    except httpx.TransportError as exc:
        return Try(None, error=f"{type(exc).__name__}: {exc}"[:300])


async def _excerpt(response: httpx.Response) -> str:
    """The start of the answer: enough to say why, never a whole page held in memory."""
    kept = b""
    async for chunk in response.aiter_bytes():
        kept += chunk[:ANSWER_EXCERPT_BYTES - len(kept)]
        if len(kept) >= ANSWER_EXCERPT_BYTES:
            break
    return kept.decode("utf-8", "replace")


def _seconds(value: str | None) -> float | None:
    """``Retry-After`` in seconds (the HTTP-date form is not used by the module)."""
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None
