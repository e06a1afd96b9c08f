"""Runtime configuration, read once at an entrypoint and passed down (STYLE.md point 11).

Environment variable names are part of the product's interface: users, docker-compose and the
tests rely on them. Nothing else the services run reads ``os.environ`` (the dev tools in
``devtools/`` read it to hand their children an environment).

``load_settings()`` is what entrypoints call: the environment first, then, for what it does not
set, the file a running ``dropship dev`` wrote (``STATE_DIR/dev.env``: its broker, database and
SUNSKY sandbox), so a command in a second terminal talks to the dev stack, never by accident to
the real SUNSKY. The file is ignored once the ``dropship dev`` that wrote it is gone.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.dev_file import dev_settings_path, dev_stack_running

# Topic names of the lifecycle (the user fixed these). ``Settings.topic()`` adds the prefix.
TOPIC_INVOICE_CREATED = "invoice.created"
TOPIC_INVOICE_PAID = "invoice.paid"
TOPIC_ORDER_READY = "order.ready"
TOPIC_ORDER_PLACED = "order.placed"
TOPIC_ORDER_SHIPPED = "order.shipped"
TOPIC_ORDER_DELIVERED = "order.delivered"
TOPIC_ORDER_CANCELLED = "order.cancelled"
TOPIC_ORDER_API_FAILED = "order.api_failed"
DLQ_SUFFIX = ".dlq"

ALL_TOPICS = (
    TOPIC_INVOICE_CREATED,
    TOPIC_INVOICE_PAID,
    TOPIC_ORDER_READY,
    TOPIC_ORDER_PLACED,
    TOPIC_ORDER_SHIPPED,
    TOPIC_ORDER_DELIVERED,
    TOPIC_ORDER_CANCELLED,
    TOPIC_ORDER_API_FAILED,
    TOPIC_INVOICE_CREATED + DLQ_SUFFIX,
    TOPIC_INVOICE_PAID + DLQ_SUFFIX,
    TOPIC_ORDER_READY + DLQ_SUFFIX,
    TOPIC_ORDER_PLACED + DLQ_SUFFIX,
    TOPIC_ORDER_API_FAILED + DLQ_SUFFIX,
    # the notifier's dead letters (order.placed.dlq and order.api_failed.dlq are above)
    TOPIC_ORDER_SHIPPED + DLQ_SUFFIX,
    TOPIC_ORDER_DELIVERED + DLQ_SUFFIX,
    TOPIC_ORDER_CANCELLED + DLQ_SUFFIX,
)

# How much longer than a placement attempt's deadline the settle time must be at least: room
# for clock skew between placer hosts and for SUNSKY still working on a request it received
# just before the deadline.
SETTLE_MARGIN_SECONDS = 1.0

# What the ingest accepts from Perfex, and what the notifier tells Perfex (issue 11).
INGEST_TOPICS = (TOPIC_INVOICE_CREATED, TOPIC_INVOICE_PAID)
NOTIFIED_TOPICS = (TOPIC_ORDER_PLACED, TOPIC_ORDER_SHIPPED, TOPIC_ORDER_DELIVERED,
                   TOPIC_ORDER_CANCELLED, TOPIC_ORDER_API_FAILED)

# The sandbox's built-in credentials; `dropship dev` and the tests use them.
SANDBOX_API_KEY = "sandbox-key"
SANDBOX_API_SECRET = "sandbox-secret"  # a public, sandbox-only value


class Settings(BaseSettings):
    """Every knob the services have. Build ``Settings(...)`` directly in tests."""

    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    # --- infrastructure -------------------------------------------------------------------
    kafka_bootstrap_servers: str = Field(default="127.0.0.1:9092")
    database_url: str | None = Field(default=None)
    database_schema: str = Field(default="public", description="search_path for every query")
    topic_prefix: str = Field(default="", description="prepended to every topic name")
    group_prefix: str = Field(default="dropship",
                              description="Faust app id / consumer group prefix")
    topic_partitions: int = Field(default=8, ge=1)
    topic_replication: int = Field(default=1, ge=1)
    # How fast a dead worker's partitions move to another one (and how long a new member waits
    # to join on Tansu, which ignores LeaveGroup). Kafka's usual 10 s; tests use less.
    kafka_session_timeout_seconds: float = Field(default=10.0, gt=0)
    # Longest a consumer fetch may wait for data (Faust fixes 1500 ms; Tansu always waits it
    # out, so each hop would cost that much). See shared/messaging/faust_transport.py.
    kafka_fetch_max_wait_ms: int = Field(default=100, ge=1, le=1500)
    # How long creating topics waits for a broker to answer at all (a starting broker) before
    # a service or an admin command gives up with BrokerUnavailable.
    kafka_wait_seconds: float = Field(default=30.0, gt=0)
    state_dir: str = Field(default=".dropship", description="local data: embedded PG, Faust state")
    # Every service re-creates missing lifecycle topics this often (and when a publish failed).
    topic_check_seconds: float = Field(default=30.0, gt=0)
    # Failed publications of one outbox row before it is parked for a person.
    outbox_max_attempts: int = Field(default=10, ge=1)
    # Sent outbox rows and processed message ids older than this are deleted, in batches of
    # HOUSEKEEPING_BATCH rows, every HOUSEKEEPING_INTERVAL_SECONDS (by one service at a time).
    housekeeping_retention_days: float = Field(default=7.0, gt=0)
    housekeeping_interval_seconds: float = Field(default=3600.0, gt=0)
    housekeeping_batch: int = Field(default=1000, ge=1)

    # --- SUNSKY ---------------------------------------------------------------------------
    sunsky_base_url: str = Field(default="https://open.sunsky-online.com")
    sunsky_api_key: str = Field(default="")
    sunsky_api_secret: SecretStr = Field(default=SecretStr(""))
    sunsky_timeout_seconds: float = Field(default=15.0, gt=0)
    sunsky_connect_timeout_seconds: float = Field(default=5.0, gt=0)
    # SUNSKY's limit is per account and not public (~2 calls/s, integrators say): one budget
    # for every process, in PostgreSQL (shared/sunsky/budget.py), 0: off; tracking keeps a share.
    sunsky_account_calls_per_second: float = Field(default=2.0, ge=0)
    sunsky_account_calls_burst: int = Field(default=4, ge=1)
    sunsky_budget_tracking_share: float = Field(default=0.1, ge=0, lt=1)
    sunsky_read_retries: int = Field(default=3, ge=0)

    # --- business -------------------------------------------------------------------------
    # The balance read, minus own debits, is trusted this long (re-read sooner when short); SUNSKY
    # refuses what it does not cover anyway. Was 60: 0.375 calls/order at 100 orders/h (bench).
    balance_cache_seconds: float = Field(default=600.0, ge=0)
    # Freight quotes shared by every placer (PostgreSQL) by country, state, items, quantities;
    # 0 = off. A createOrder refusing a stale one re-quotes once, fresh (issue 12).
    quote_cache_seconds: float = Field(default=600.0, ge=0, le=86400)
    # After an unknown createOrder outcome, wait this long after the attempt started before
    # asking SUNSKY whether the order exists (a slow request may still land).
    placing_settle_seconds: float = Field(default=30.0, ge=0)
    # One hard deadline per placement attempt, from its intent: createOrder's wait for a call
    # slot, connect, write and read. A createOrder that cannot leave before it never leaves,
    # so none is sent after another placer's look-up (the settle time must be longer).
    placing_attempt_deadline_seconds: float = Field(default=20.0, gt=0)
    # Most SUNSKY calls one look-up by siteNumber may spend (list pages + order details); one
    # that needs more is an unknown outcome, never "none" (shared/sunsky/lookup.py), and waits
    # for a person. 400 covers a worst-case SUNSKY (no siteNumber filter, none in the list) at
    # about 500 orders a day (docs/BENCHMARKS.md).
    placing_lookup_max_calls: int = Field(default=400, ge=1)
    # A line quantity above this puts the order in API Failed (QUANTITY_TOO_LARGE) instead of
    # sending it to SUNSKY: far more likely a typo than an order.
    max_line_quantity: int = Field(default=10_000, ge=1)

    # --- failures: retries, sweeps, replay (issue 4) ----------------------------------------
    retry_first_delay_seconds: float = Field(default=5.0, gt=0)
    retry_factor: float = Field(default=2.0, ge=1)
    retry_max_delay_seconds: float = Field(default=600.0, gt=0)
    retry_max_attempts: int = Field(default=6, ge=1)
    retry_jitter: float = Field(default=0.2, ge=0, lt=1)
    retry_scan_seconds: float = Field(default=1.0, gt=0, description="how often due retries go")
    # At most one getBalance per this many seconds for orders waiting on money.
    balance_check_seconds: float = Field(default=60.0, gt=0)
    sweep_interval_seconds: float = Field(default=15.0, gt=0)
    stuck_placing_seconds: float = Field(default=120.0, gt=0)
    stale_ready_seconds: float = Field(default=60.0, gt=0)
    replay_max_cycles: int = Field(default=3, ge=1)

    # --- tracking: SUNSKY callbacks and the reconciliation sweep (issue 5) ----------------
    # The HTTP endpoint SUNSKY posts callbacks to (give its public URL to your SUNSKY sales
    # manager). Port 0: no endpoint, the sweep alone follows orders.
    tracker_callback_host: str = Field(default="127.0.0.1")
    tracker_callback_port: int = Field(default=8780, ge=0, le=65535)
    tracker_callback_path: str = Field(default="/sunsky/callback")
    # Callbacks within this window (from the first; at most the sweep interval) are verified
    # together: lone ones share a list page, and Shipped shows up to this late (issue 12).
    tracker_callback_batch_seconds: float = Field(default=10800.0, ge=0)
    # Most order numbers verified in one batch; 20x this many may wait (then HTTP 503).
    tracker_callback_batch_max: int = Field(default=500, ge=1)
    # Delivery has no callback: the sweep finds it (and any callback SUNSKY failed to send).
    # Each sweep pages through every open order, so its cost per order is about (days an order
    # stays open) x (sweeps a day) / 100: 12 h is ~0.3 calls per order (docs/BENCHMARKS.md).
    tracker_sweep_seconds: float = Field(default=43200.0, gt=0)
    tracker_sweep_window_days: int = Field(default=60, ge=1)
    # getOrderDetails per sweep for each of: open orders missing from SUNSKY's list, and open
    # orders older than the window (least recently read first).
    tracker_sweep_stragglers: int = Field(default=20, ge=0)
    # Sweep by status where SUNSKY's list honours ``status`` (checked on every page; ignored:
    # every status for 24 h); false: always every status (services/tracker/statuses.py).
    tracker_status_filter: bool = Field(default=True)

    # --- Perfex connector: the signed ingest and the notifier (issue 11) ------------------
    # Standard Webhooks secrets, whsec_<base64>; several space separated during a rotation.
    ingest_secret: SecretStr = Field(default=SecretStr(""))
    ingest_host: str = Field(default="127.0.0.1")
    ingest_port: int = Field(default=8790, ge=0, le=65535)
    # A webhook-id accepted within this window is answered 202 again and not published twice;
    # longer than the module's retry window (its cron retries within hours).
    ingest_dedup_retention_seconds: float = Field(default=7 * 86400.0, gt=0)
    # Longest wait for the broker's acknowledgement before answering 503 (the module gives up
    # after 5 s, so stay below that).
    ingest_publish_timeout_seconds: float = Field(default=4.0, gt=0)
    ingest_retry_after_seconds: int = Field(default=30, ge=1)
    perfex_webhook_url: str | None = Field(default=None)
    perfex_webhook_secret: SecretStr = Field(default=SecretStr(""))
    # Per POST; then retries with doubling backoff, all within the budget per message, after
    # which the message is dead-lettered (Faust's poll interval is 1000 s: far above).
    notifier_timeout_seconds: float = Field(default=10.0, gt=0)
    notifier_max_attempts: int = Field(default=5, ge=1)
    notifier_backoff_seconds: float = Field(default=1.0, ge=0)
    notifier_budget_seconds: float = Field(default=60.0, gt=0)

    # --- operations and the admin HTTP API / console (issue 10) ----------------------------
    # How often each worker process records that it is alive (the admin Health page).
    heartbeat_seconds: float = Field(default=15.0, gt=0)
    # A console login lasts this long.
    admin_session_hours: float = Field(default=12.0, gt=0)
    # Request bodies above this are refused with 413.
    admin_max_body_bytes: int = Field(default=1_048_576, ge=1024)
    # Proxies whose X-Forwarded-Proto/-For the admin service trusts (HTTPS -> Secure cookie).
    admin_forwarded_allow_ips: str = Field(default="127.0.0.1")

    # /metrics, /livez and /readyz of this process (README "Operations"); 0: not served.
    metrics_host: str = Field(default="127.0.0.1")
    metrics_port: int = Field(default=0, ge=0, le=65535)
    # An order in Ready to Place or Placing unchanged this long counts as stuck (a gauge).
    orders_stuck_seconds: float = Field(default=600.0, gt=0)

    log_level: str = Field(default="INFO")
    # "text" for people, "json": one object per line with order/message ids and offsets.
    log_format: Literal["text", "json"] = Field(default="text")

    @field_validator("sunsky_budget_tracking_share")
    @classmethod
    def _burst_holds_the_share(cls, share: float, info: ValidationInfo) -> float:
        if share > 0 and (burst := info.data.get("sunsky_account_calls_burst", 2)) < 2:
            raise ValueError(f"SUNSKY_ACCOUNT_CALLS_BURST ({burst}) must be 2+ with a share")
        return share

    @field_validator("placing_attempt_deadline_seconds")
    @classmethod
    def _settle_outlasts_an_attempt(cls, deadline: float, info: ValidationInfo) -> float:
        """A look-up after the settle time must never race an attempt still able to send.
        (A field validator, not a model one: its error shows this value alone, never the
        whole input with the API secret in it.)"""
        settle = info.data.get("placing_settle_seconds")
        if settle is not None and settle < deadline + SETTLE_MARGIN_SECONDS:
            raise ValueError(
                f"PLACING_SETTLE_SECONDS ({settle:g}) must be at least "
                f"PLACING_ATTEMPT_DEADLINE_SECONDS ({deadline:g}) + {SETTLE_MARGIN_SECONDS:g}: "
                "an order is looked up at SUNSKY that long after its attempt started, and the "
                "attempt's createOrder may still be on its way until its deadline")
        return deadline

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}{name}"

    def app_id(self, service: str) -> str:
        return f"{self.group_prefix}-{service}"

    def redacted(self) -> dict[str, object]:
        """A loggable view: secrets and passwords masked."""
        data = self.model_dump()
        for name in ("sunsky_api_secret", "ingest_secret", "perfex_webhook_secret"):
            data[name] = "***" if getattr(self, name).get_secret_value() else ""
        if self.perfex_webhook_url:
            data["perfex_webhook_url"] = redact_url(self.perfex_webhook_url)
        if self.database_url:
            data["database_url"] = redact_url(self.database_url)
        return data


def load_settings() -> Settings:
    """Settings from the environment, completed by a running ``dropship dev``'s file."""
    path = dev_settings_path()
    return Settings(_env_file=path) if dev_stack_running(path) else Settings()


def url_password(url: str | None) -> str | None:
    """The password in ``scheme://user:password@host/db``, if any."""
    _, sep, rest = (url or "").partition("://")
    creds = rest.rpartition("@")[0] if sep and "@" in rest else ""
    return creds.split(":", 1)[1] if ":" in creds else None


def redact_url(url: str) -> str:
    """Mask the password in ``scheme://user:password@host/db``."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    creds, _, host = rest.rpartition("@")
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in creds else url


class ConfigurationError(RuntimeError):
    """A service cannot run with these settings; its entrypoint prints the message as one line
    and exits 1 (say which variable and what it must hold, never a secret's value)."""
