"""When to try a failed order again (pure).

Transient failures (timeouts, 5xx, throttling) and unknown outcomes retry by themselves with
exponential backoff and jitter, up to a maximum number of attempts; needs-action and auth
failures wait for a person; insufficient balance waits for money (``plan_balance_retries``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal

from shared.domain.order import Order, OrderStatus

RETRYABLE_KINDS = frozenset({"transient", "unknown_outcome"})
BALANCE_CODE = "BALANCE_NOT_ENOUGH"


@dataclass(frozen=True)
class RetryPolicy:
    first_delay: float = 5.0
    factor: float = 2.0
    max_delay: float = 600.0
    max_attempts: int = 6
    jitter: float = 0.2  # +/- this fraction of the delay
    # An unknown outcome is retried no earlier than this long after its attempt started, so
    # the placer's look-up by siteNumber never has to wait while blocking its partition.
    settle: float = 30.0

    def delay(self, attempt: int, unit_random: float) -> float:
        """Seconds before try ``attempt + 1``; ``unit_random`` in [0, 1) spreads the herd."""
        base = min(self.max_delay, self.first_delay * self.factor ** max(attempt - 1, 0))
        return base * (1 - self.jitter + 2 * self.jitter * unit_random)


@dataclass(frozen=True)
class RetryDecision:
    order: Order
    scheduled: bool
    reason: str


def settle_until(order: Order, settle_seconds: float) -> datetime | None:
    """When an attempt that may have reached SUNSKY has surely finished there: ``settle``
    after the later of the attempt's start and the moment we gave up on its answer."""
    if order.placing_started_at is None:
        return None
    anchor = order.placing_started_at
    error = order.last_error
    if error is not None and error.kind == "unknown_outcome" and error.at > anchor:
        anchor = error.at
    return anchor + timedelta(seconds=settle_seconds)


def schedule_retry(order: Order, policy: RetryPolicy, now: datetime,
                   unit_random: float) -> RetryDecision:
    """Set ``next_attempt_at`` for a retryable failure, or say why there is none.

    Backoff and the cap count ``auto_retries`` (every automatic retry, whether the failure
    came before or after createOrder), not createOrder attempts."""
    error = order.last_error
    if order.status != OrderStatus.API_FAILED or error is None:
        return RetryDecision(order, False, f"order is {order.status.label}")
    if error.kind not in RETRYABLE_KINDS:
        return RetryDecision(replace(order, next_attempt_at=None), False,
                             f"{error.code} needs a person ({error.kind})")
    if order.auto_retries >= policy.max_attempts:
        return RetryDecision(replace(order, next_attempt_at=None, retries_exhausted=True), False,
                             f"gave up after {order.auto_retries} automatic retries")
    due = now + timedelta(seconds=policy.delay(order.auto_retries + 1, unit_random))
    settled = settle_until(order, policy.settle) if error.kind == "unknown_outcome" else None
    if settled is not None:
        due = max(due, settled)
    return RetryDecision(replace(order, next_attempt_at=due, retries_exhausted=False), True,
                         f"retry {order.attempts + 1} at {due:%H:%M:%S}")


def plan_balance_retries(waiting: Sequence[Order], balance: Decimal) -> list[Order]:
    """Oldest first, as far as the balance reaches; an order with no quote needs a fresh one
    and is tried when anything is left (the placer re-checks before createOrder)."""
    chosen: list[Order] = []
    left = balance
    for order in waiting:
        need = order.quoted_total if order.quoted_total is not None else Decimal(0)
        if need > left or left <= 0:
            break
        chosen.append(order)
        left -= need
    return chosen


def waits_for_person(order: Order) -> bool:
    """API Failed with nothing automatic coming: a needs-action or auth failure, or automatic
    retries gave up (the Orders page's "Needs action" tab; SQL twin in 0015/0016 migrations)."""
    if order.status != OrderStatus.API_FAILED:
        return False
    kind = order.last_error.kind if order.last_error else ""
    return order.retries_exhausted or kind not in RETRYABLE_KINDS
