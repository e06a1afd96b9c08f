"""Every Prometheus metric the services export, defined once (README "Operations").

Names follow the Prometheus conventions: the ``sunsky_dropship_`` prefix, base units (seconds),
``_total`` on counters (prometheus_client adds it), and labels drawn from bounded sets only
(topics, agents, SUNSKY endpoints, statuses, failure codes): never an order id, an invoice or a
customer. Call sites use the small ``record_*`` functions below, one line each, so the
instrumentation stays at the seams (the agent, the SUNSKY plumbing, the unit of work).

The metrics live in prometheus_client's default registry, next to its process and platform
collectors (CPU seconds, resident memory, open file descriptors). ``_created`` series are off.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics

disable_created_metrics()  # type: ignore[no-untyped-call]  # no `_created` series

PREFIX = "sunsky_dropship"
# From a fast handler (~5 ms) to a SUNSKY call near its timeout (15 s) and beyond.
SECONDS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

MESSAGES = Counter(f"{PREFIX}_messages_processed", "Consumed messages by topic and fate "
                   "(done, dead_lettered).", ["topic", "outcome"])
PROCESSING = Histogram(f"{PREFIX}_message_processing_seconds", "Time from taking a message to "
                       "its fate, retries in place included.", ["topic"], buckets=SECONDS_BUCKETS)
LAST_PROCESSED = Gauge(f"{PREFIX}_last_message_processed_timestamp_seconds", "Unix time the "
                       "agent last finished a message.", ["agent"])
BUSY_SINCE = Gauge(f"{PREFIX}_agent_busy_since_timestamp_seconds", "Unix time the agent's "
                   "oldest message still in processing was taken (0: idle).", ["agent"])
DEAD_LETTERED = Counter(f"{PREFIX}_dead_lettered_messages", "Messages sent to <topic>.dlq, by "
                        "original topic and reason.", ["topic", "reason"])
INGEST_REQUESTS = Counter(f"{PREFIX}_ingest_requests", "Perfex events the ingest answered, by "
                          "HTTP status and result (accepted, duplicate or the refusal's "
                          "error code).", ["status", "result"])
SUNSKY_REQUESTS = Counter(f"{PREFIX}_sunsky_requests", "SUNSKY API requests by endpoint and "
                          "outcome (ok or the error kind).", ["endpoint", "outcome"])
SUNSKY_LATENCY = Histogram(f"{PREFIX}_sunsky_request_duration_seconds", "SUNSKY API request "
                           "latency.", ["endpoint"], buckets=SECONDS_BUCKETS)
BUDGET_WAIT = Histogram(f"{PREFIX}_sunsky_call_budget_wait_seconds", "Time a SUNSKY call "
                        "waited for the call budget before it could leave.",
                        buckets=(0.0, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0))
TRANSITIONS = Counter(f"{PREFIX}_order_transitions", "Committed order status changes "
                      "(from_status 'none': a new order).", ["from_status", "to_status"])
FAILURES = Counter(f"{PREFIX}_order_failures", "Orders put in API Failed, by failure code.",
                   ["code"])
BALANCE = Gauge(f"{PREFIX}_sunsky_balance_usd", "The SUNSKY account balance this process read "
                "last (NaN until it reads one).")
BALANCE_READ_AT = Gauge(f"{PREFIX}_sunsky_balance_read_timestamp_seconds", "Unix time of that "
                        "read.")
BALANCE.set(float("nan"))

# Read from PostgreSQL at scrape time by one service (the retrier): shared/observability/gauges.
OUTBOX_UNSENT = Gauge(f"{PREFIX}_outbox_unsent_rows", "Outbox rows not published yet (parked "
                      "ones included).")
OUTBOX_PARKED = Gauge(f"{PREFIX}_outbox_parked_rows", "Outbox rows parked for a person.")
ORDERS_STUCK = Gauge(f"{PREFIX}_orders_stuck", "Orders in an in-between status unchanged for "
                     "longer than ORDERS_STUCK_SECONDS.", ["status"])
WAITING_FOR_MONEY = Gauge(f"{PREFIX}_orders_waiting_for_money", "Orders in API Failed because "
                          "the SUNSKY balance was too low.")
WAITING_AMOUNT = Gauge(f"{PREFIX}_orders_waiting_for_money_usd", "What those orders need "
                       "together.")
ORDERS = Gauge(f"{PREFIX}_orders", "Orders per status.", ["status"])
GAUGES_READ_AT = Gauge(f"{PREFIX}_database_gauges_read_timestamp_seconds", "Unix time the "
                       "database gauges were last read.")

# Health of this process, as /livez and /readyz see it.
READY = Gauge(f"{PREFIX}_ready", "1 while /readyz passes.")
LOOP_LAG = Gauge(f"{PREFIX}_event_loop_lag_seconds", "How late the event loop ran its last "
                 "heartbeat tick.")

_in_flight: dict[str, dict[int, float]] = {}


def message_started(agent: str, token: int) -> float:
    """A message was taken; returns the start time for ``message_finished``."""
    mine = _in_flight.get(agent)
    if mine is None:  # the gauge reads the agent's messages in flight when scraped
        mine = _in_flight[agent] = {}
        BUSY_SINCE.labels(agent).set_function(lambda: min(mine.values(), default=0.0))
    mine[token] = time.time()
    return time.perf_counter()


def message_abandoned(agent: str, token: int) -> None:
    """The actor was cancelled mid-message (its partition revoked): no longer in flight."""
    _in_flight.get(agent, {}).pop(token, None)


def message_finished(agent: str, token: int, topic: str, outcome: str, started: float) -> None:
    _in_flight.get(agent, {}).pop(token, None)
    MESSAGES.labels(topic, outcome).inc()
    PROCESSING.labels(topic).observe(time.perf_counter() - started)
    LAST_PROCESSED.labels(agent).set(time.time())


def sunsky_call(path: str, outcome: str, seconds: float) -> None:
    endpoint = path.removesuffix(".do")
    SUNSKY_REQUESTS.labels(endpoint, outcome).inc()
    SUNSKY_LATENCY.labels(endpoint).observe(seconds)


def ingest_answered(status: int, result: str) -> None:
    INGEST_REQUESTS.labels(str(status), result).inc()


def budget_waited(seconds: float) -> None:
    BUDGET_WAIT.observe(max(seconds, 0.0))


def balance_read(amount: float) -> None:
    BALANCE.set(amount)
    BALANCE_READ_AT.set(time.time())


def dead_lettered(topic: str, reason: str) -> None:
    DEAD_LETTERED.labels(topic, reason).inc()


def orders_changed(changes: Iterable[tuple[str | None, str, str | None]]) -> None:
    """Committed (from, to, failure code when to is API Failed) status changes."""
    for source, target, code in changes:
        TRANSITIONS.labels(source or "none", target).inc()
        if code is not None:
            FAILURES.labels(code).inc()


def metrics_table_markdown() -> str:
    """Every metric above as a Markdown table, for the README (generated, never hand-written)."""
    rows = ["| metric | type | labels | meaning |", "|---|---|---|---|"]
    for metric in (v for v in globals().values() if isinstance(v, Counter | Gauge | Histogram)):
        suffix = "_total" if metric._type == "counter" else ""
        labels = ", ".join(f"`{n}`" for n in metric._labelnames) or "-"
        rows.append(f"| `{metric._name}{suffix}` | {metric._type} | {labels} | "
                    f"{metric._documentation} |")
    return "\n".join(rows)
