"""The SUNSKY wire plumbing under ``SunskyClient`` (reference sunsky-open-api.md; STYLE.md 8).

One long-lived ``httpx.AsyncClient`` per client, explicit timeouts, and the transport as the only
I/O seam (tests pass ``httpx.MockTransport``). Each call is a signed form POST to
``{base_url}/openapi/<module>!<action>.do``; failures become the exceptions drawn in
``errors.py``. Reads retry ``SunskyError.retryable`` failures up to ``read_retries`` times with
exponential back-off and jitter (seconds when SUNSKY throttles); a mutating call is sent once.
Every attempt waits for the account's call budget (``shared.sunsky.budget``, at the client's
priority) and is counted in ``calls`` (benchmarks read it); when SUNSKY throttles anyway, the
whole account backs off.

A call with a ``Deadline`` (a placement attempt's createOrder) leaves only before it: its wait
for a call slot, connect, write and read are all bounded by what is left of it, and right
before it leaves the caller's ``confirm`` is awaited (is the attempt still the current one?).
Refused there, it raises ``SunskyNotSentError``: it never left. Once it has left, running out
of time is an unknown outcome. What no client-side check can close: a stall in the microseconds
between that last check and the socket write that outlasts the settle time's margin over the
deadline (``SETTLE_MARGIN_SECONDS`` at least).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx
from pydantic import ValidationError

from shared.observability import metrics
from shared.sunsky.budget import BudgetConfig, BudgetUnavailable, CallBudget, Priority
from shared.sunsky.deadline import Confirm, Deadline, DeadlinePassed
from shared.sunsky.errors import (
    SunskyError,
    SunskyTransientError,
    classify_transport,
    not_sent,
    odd_body,
    read_envelope,
    unknown_outcome,
)
from shared.sunsky.signing import signed_params

# One log channel for every SUNSKY call, whichever module makes it (operators filter on it).
logger = logging.getLogger("shared.sunsky.client")

USER_AGENT = "sunsky-dropship/0.1 (+httpx)"
# SUNSKY's call budget is per account and unpublished: a throttled read waits seconds, not ms.
THROTTLE_BACKOFF = 2.0
_THROTTLED = frozenset({"CALL_FREQUENCY_EXCEEDED", "RATE_LIMITED"})
_T = TypeVar("_T")


class SunskyHttp:
    """Signed form POSTs to ``{base_url}/openapi/<path>``: throttle, count, send, classify;
    reads retried with back-off. Endpoints live in ``SunskyClient``."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        api_secret: str,
        *,
        timeout: float = 15.0,
        connect_timeout: float = 5.0,
        budget: CallBudget | None = None,
        priority: Priority = Priority.PLACEMENT,
        read_retries: int = 3,
        backoff_base: float = 0.2,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._key = api_key
        self._secret = api_secret
        self._read_retries = read_retries
        self._backoff_base = backoff_base
        # No budget given: none (tests, the sandbox); services pass the account's.
        self.budget = budget or CallBudget(BudgetConfig(0), None)
        self.priority = priority
        self._sleep = sleep
        self._wall_clock = wall_clock  # what "now" is for a look-up's window
        self._timeout = httpx.Timeout(timeout, connect=connect_timeout)
        self._http = httpx.AsyncClient(
            timeout=self._timeout,
            headers={"User-Agent": USER_AGENT},
            transport=transport,
        )
        self.calls: Counter[str] = Counter()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # --- plumbing -------------------------------------------------------------------------

    async def _read(
        self, path: str, params: Mapping[str, object], parse: Callable[[Any], _T]
    ) -> _T:
        """A read: the call is retried on retryable errors with exponential back-off and
        jitter (much longer when SUNSKY throttles); a body of the wrong shape is not retried,
        since the same body would come back."""
        for attempt in range(self._read_retries + 1):
            try:
                data = await self._call(path, params, mutating=False)
                break
            except SunskyError as exc:
                if not exc.retryable or attempt == self._read_retries:
                    raise
                await self._sleep(self._backoff(attempt, throttled=exc.code in _THROTTLED))
        return parsed_as(parse, data, path)

    def _backoff(self, attempt: int, *, throttled: bool = False) -> float:
        base = max(self._backoff_base, THROTTLE_BACKOFF) if throttled else self._backoff_base
        ceiling = base * 2.0**attempt
        return ceiling / 2 + random.uniform(0, ceiling / 2)  # jitter, not crypto

    async def _call(self, path: str, params: Mapping[str, object], *, mutating: bool,
                    deadline: Deadline | None = None, confirm: Confirm | None = None) -> object:
        """One attempt: throttle (and, guarded, the last check), count, send, classify, log."""
        await self._clear_to_send(path, deadline, confirm)
        self.calls[path] += 1
        started, outcome = time.perf_counter(), "interrupted"
        try:
            data = await self._exchange(path, params, mutating=mutating, deadline=deadline)
            outcome = "ok"
            return data
        except SunskyError as exc:
            outcome = f"{exc.kind}:{exc.code}"
            if exc.code in _THROTTLED:
                await self._account_backs_off(path)
            raise
        finally:
            elapsed = time.perf_counter() - started
            metrics.sunsky_call(path, outcome.partition(":")[0], elapsed)
            logger.debug("sunsky %s %.0fms %s", path, elapsed * 1000, outcome)

    async def _clear_to_send(self, path: str, deadline: Deadline | None,
                             confirm: Confirm | None) -> None:
        """A call slot within the deadline, then the caller's last word, then the deadline
        once more: a refusal raises ``SunskyNotSentError`` and nothing leaves."""
        try:
            await self.budget.acquire(self.priority, deadline)
        except DeadlinePassed as exc:
            raise not_sent(path, [f"no call slot before the deadline: {exc}"]) from None
        except BudgetUnavailable as exc:  # PostgreSQL away: transient, a read retries it, and
            # an order that could not even ask is retried by itself (nothing left, nothing owed)
            raise SunskyTransientError(
                "BUDGET_UNAVAILABLE", [f"not sent: the account's call budget cannot be read: "
                                       f"{exc}"], endpoint=path) from None
        refusal = _expired(deadline)
        if refusal is None and confirm is not None:
            refusal = await confirm() or _expired(deadline)
        if refusal is not None:
            raise not_sent(path, [refusal])

    async def _account_backs_off(self, path: str) -> None:
        try:
            await self.budget.throttled()
        except BudgetUnavailable as exc:  # the call's own error is what the caller needs
            logger.warning("sunsky %s throttled; the account pause was not recorded: %s",
                           path, exc)

    async def _exchange(
        self, path: str, params: Mapping[str, object], *, mutating: bool,
        deadline: Deadline | None = None,
    ) -> object:
        body = signed_params(params, self._key, self._secret)
        left = None if deadline is None else max(deadline.remaining(), 0.001)
        try:
            async with asyncio.timeout(left):
                response = await self._http.post(f"{self.base_url}/openapi/{path}", data=body,
                                                 timeout=_bounded(self._timeout, left))
        except httpx.HTTPError as exc:
            raise classify_transport(path, exc, mutating=mutating) from exc
        except TimeoutError as exc:  # the deadline came while the request may have been out
            detail = [f"no answer within the deadline ({left:.1f}s)"]
            if mutating:
                raise unknown_outcome(path, detail) from exc
            raise SunskyTransientError("TIMEOUT", detail, endpoint=path) from exc
        text = self._scrub(response.text)
        return read_envelope(path, response.status_code, text, mutating=mutating)

    def _scrub(self, text: str) -> str:
        return text.replace(self._secret, "***") if self._secret else text


def _expired(deadline: Deadline | None) -> str | None:
    if deadline is None or not deadline.passed:
        return None
    return f"the deadline passed {-deadline.remaining():.1f}s ago"


def _bounded(timeout: httpx.Timeout, left: float | None) -> httpx.Timeout:
    """Each phase's timeout, no longer than what is left of the deadline."""
    if left is None:
        return timeout

    def cap(value: float | None) -> float:
        return left if value is None else min(value, left)

    return httpx.Timeout(connect=cap(timeout.connect), read=cap(timeout.read),
                         write=cap(timeout.write), pool=cap(timeout.pool))


def parsed_as(parse: Callable[[Any], _T], data: object, path: str) -> _T:
    try:
        return parse(data)
    except ValidationError as exc:
        raise odd_body(path, [validation_summary(exc)], mutating=False) from exc


def validation_summary(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "data"
    return f"unexpected response shape: {where}: {first['msg']} ({exc.error_count()} errors)"
