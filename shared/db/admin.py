"""Ports the admin surfaces read and write besides the order aggregate (see
``shared.db.repository`` for the table of roles): summaries for the Orders, Failures and
Billing pages, admin accounts, idempotency keys, heartbeats and the outbox backlog."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from shared.domain.order import OrderStatus


@dataclass(frozen=True)
class StatusCounts:
    by_status: dict[OrderStatus, int]
    needs_action: int

    @property
    def total(self) -> int:
        return sum(self.by_status.values())


@dataclass(frozen=True)
class FailureGroup:
    code: str
    kind: str
    count: int


@dataclass(frozen=True)
class MoneyWait:
    """API Failed orders waiting for SUNSKY balance, and what they need together (the last
    quote, else the invoice total)."""

    orders: int
    amount: Decimal


@dataclass(frozen=True)
class AdminUser:
    id: int
    name: str
    role: str  # "operator" or "viewer"
    created_at: datetime


@dataclass(frozen=True)
class Session:
    user: AdminUser
    csrf_token: str
    expires_at: datetime


@dataclass(frozen=True)
class StoredResponse:
    """An ``Idempotency-Key``'s request fingerprint and, once done, its answer."""

    fingerprint: str
    status_code: int | None
    body: Any


@dataclass(frozen=True)
class Heartbeat:
    service: str
    instance: str
    started_at: datetime
    beat_at: datetime


@dataclass(frozen=True)
class OutboxBacklog:
    pending: int  # waiting to be published (not parked)
    oldest_at: datetime | None  # of those
    parked: int = 0  # given up on after OUTBOX_MAX_ATTEMPTS: `dropship outbox list|retry`


@dataclass(frozen=True)
class ReplayRecord:
    actor: str
    topic: str
    target: str | None
    since: datetime | None
    until: datetime | None
    dry_run: bool
    read: int
    replayed: int
    skipped: int
    refused: int


@dataclass(frozen=True)
class ReplayAudit:
    id: int
    at: datetime
    record: ReplayRecord


class Overview(Protocol):
    async def status_counts(self) -> StatusCounts:
        """Orders per status and how many need action, over all orders."""
        ...

    async def failure_groups(self) -> list[FailureGroup]:
        """API Failed orders by last error code, largest group first."""
        ...

    async def waiting_for_money(self) -> MoneyWait: ...

    async def stuck(self, statuses: Collection[OrderStatus], before: datetime
                    ) -> dict[OrderStatus, int]:
        """How many orders in each of ``statuses`` were last changed before ``before``
        (statuses with none are left out); by index, never a scan of all orders."""
        ...


class AdminAccounts(Protocol):
    async def add_user(self, name: str, role: str, password_hash: str) -> AdminUser | None:
        """None when the name is taken."""
        ...

    async def users(self) -> list[AdminUser]: ...
    async def user(self, name: str) -> AdminUser | None: ...
    async def password_hash(self, name: str) -> str | None: ...
    async def set_password_hash(self, name: str, password_hash: str) -> None: ...
    async def remove_user(self, name: str) -> bool: ...
    async def add_token(self, user_id: int, token_hash: str) -> None: ...
    async def user_by_token(self, token_hash: str) -> AdminUser | None: ...
    async def add_session(self, user_id: int, session_hash: str, csrf_token: str,
                          expires_at: datetime) -> None: ...
    async def session(self, session_hash: str, now: datetime) -> Session | None:
        """The unexpired session with this hash."""
        ...

    async def remove_session(self, session_hash: str) -> None: ...


class IdempotencyKeys(Protocol):
    async def claim(self, user_id: int, key: str, fingerprint: str) -> StoredResponse | None:
        """None: the key is new and now ours; else what is stored under it."""
        ...

    async def complete(self, user_id: int, key: str, status_code: int, body: Any) -> None: ...
    async def release(self, user_id: int, key: str) -> None:
        """Forget a claim whose request failed before it had an answer."""
        ...


class HealthReads(Protocol):
    async def beat(self, service: str, instance: str, started_at: datetime,
                   now: datetime) -> None: ...
    async def heartbeats(self) -> list[Heartbeat]: ...
    async def outbox_backlog(self) -> OutboxBacklog: ...
