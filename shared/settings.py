"""Runtime configuration, read once at an entrypoint and passed down (STYLE.md point 11).

Environment variable names are part of the product's interface: users, docker-compose and the
tests rely on them. Nothing else in the code base reads ``os.environ``.
"""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

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
)

# The sandbox's built-in credentials; `dropship dev` and the tests use them.
SANDBOX_API_KEY = "sandbox-key"
SANDBOX_API_SECRET = "sandbox-secret"  # noqa: S105 - a public, sandbox-only value


class Settings(BaseSettings):
    """Every knob the services have. Build ``Settings(...)`` directly in tests."""

    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    # --- infrastructure -------------------------------------------------------------------
    kafka_bootstrap_servers: str = Field(default="127.0.0.1:9092")
    database_url: str | None = Field(default=None)
    database_schema: str = Field(default="public", description="search_path for every query")
    topic_prefix: str = Field(default="", description="prepended to every topic name")
    group_prefix: str = Field(default="dropship", description="Faust app id / consumer group prefix")
    topic_partitions: int = Field(default=8, ge=1)
    topic_replication: int = Field(default=1, ge=1)
    state_dir: str = Field(default=".dropship", description="local data: embedded PG, Faust state")

    # --- SUNSKY ---------------------------------------------------------------------------
    sunsky_base_url: str = Field(default="https://open.sunsky-online.com")
    sunsky_api_key: str = Field(default="")
    sunsky_api_secret: SecretStr = Field(default=SecretStr(""))
    sunsky_timeout_seconds: float = Field(default=15.0, gt=0)
    sunsky_connect_timeout_seconds: float = Field(default=5.0, gt=0)
    # SUNSKY's per-account limits are not public; ~2 calls/s is what integrators use.
    # 0 switches the limiter off (the sandbox, benchmarks).
    sunsky_max_calls_per_second: float = Field(default=2.0, ge=0)
    sunsky_read_retries: int = Field(default=3, ge=0)

    # --- business -------------------------------------------------------------------------
    balance_cache_seconds: float = Field(default=60.0, ge=0)
    # After an unknown createOrder outcome, wait this long after the attempt started before
    # asking SUNSKY whether the order exists (a slow request may still land).
    placing_settle_seconds: float = Field(default=30.0, ge=0)

    log_level: str = Field(default="INFO")

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}{name}"

    def app_id(self, service: str) -> str:
        return f"{self.group_prefix}-{service}"

    def redacted(self) -> dict[str, object]:
        """A loggable view: secrets and passwords masked."""
        data = self.model_dump()
        data["sunsky_api_secret"] = "***" if self.sunsky_api_secret.get_secret_value() else ""
        if self.database_url:
            data["database_url"] = redact_url(self.database_url)
        return data


def redact_url(url: str) -> str:
    """Mask the password in ``scheme://user:password@host/db``."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    creds, _, host = rest.rpartition("@")
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in creds else url
