"""Admin accounts, idempotency keys and health reads on PostgreSQL (0017, 0018 migrations)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import asyncpg

from shared.db.admin import AdminUser, Heartbeat, OutboxBacklog, Session, StoredResponse

_USER = "u.id, u.name, u.role, u.created_at"
FORGET_AFTER = timedelta(days=1)


def _user(row: asyncpg.Record) -> AdminUser:
    return AdminUser(row["id"], row["name"], row["role"], row["created_at"])


class PgAdminAccounts:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def add_user(self, name: str, role: str, password_hash: str) -> AdminUser | None:
        row = await self._conn.fetchrow(
            "INSERT INTO admin_users AS u (name, role, password_hash) VALUES ($1, $2, $3)"
            f" ON CONFLICT (name) DO NOTHING RETURNING {_USER}", name, role, password_hash)
        return _user(row) if row else None

    async def users(self) -> list[AdminUser]:
        return [_user(r) for r in await self._conn.fetch(
            f"SELECT {_USER} FROM admin_users u ORDER BY u.name")]

    async def user(self, name: str) -> AdminUser | None:
        row = await self._conn.fetchrow(f"SELECT {_USER} FROM admin_users u WHERE name = $1",
                                        name)
        return _user(row) if row else None

    async def password_hash(self, name: str) -> str | None:
        value: str | None = await self._conn.fetchval(
            "SELECT password_hash FROM admin_users WHERE name = $1", name)
        return value

    async def set_password_hash(self, name: str, password_hash: str) -> None:
        await self._conn.execute("UPDATE admin_users SET password_hash = $2 WHERE name = $1",
                                 name, password_hash)

    async def remove_user(self, name: str) -> bool:
        return await self._conn.fetchval(
            "DELETE FROM admin_users WHERE name = $1 RETURNING 1", name) is not None

    async def add_token(self, user_id: int, token_hash: str) -> None:
        await self._conn.execute(
            "INSERT INTO admin_tokens (token_hash, user_id) VALUES ($1, $2)", token_hash, user_id)

    async def user_by_token(self, token_hash: str) -> AdminUser | None:
        row = await self._conn.fetchrow(
            f"SELECT {_USER} FROM admin_tokens t JOIN admin_users u ON u.id = t.user_id"
            " WHERE t.token_hash = $1", token_hash)
        return _user(row) if row else None

    async def add_session(self, user_id: int, session_hash: str, csrf_token: str,
                          expires_at: datetime) -> None:
        await self._conn.execute("DELETE FROM admin_sessions WHERE expires_at < now()")
        await self._conn.execute(
            "INSERT INTO admin_sessions (session_hash, user_id, csrf_token, expires_at)"
            " VALUES ($1, $2, $3, $4)", session_hash, user_id, csrf_token, expires_at)

    async def session(self, session_hash: str, now: datetime) -> Session | None:
        row = await self._conn.fetchrow(
            f"SELECT {_USER}, s.csrf_token, s.expires_at FROM admin_sessions s"
            " JOIN admin_users u ON u.id = s.user_id"
            " WHERE s.session_hash = $1 AND s.expires_at > $2", session_hash, now)
        return Session(_user(row), row["csrf_token"], row["expires_at"]) if row else None

    async def remove_session(self, session_hash: str) -> None:
        await self._conn.execute("DELETE FROM admin_sessions WHERE session_hash = $1",
                                 session_hash)


class PgIdempotencyKeys:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def claim(self, user_id: int, key: str, fingerprint: str) -> StoredResponse | None:
        await self._conn.execute(
            "DELETE FROM admin_idempotency WHERE created_at < now() - interval '24 hours'")
        inserted = await self._conn.fetchval(
            "INSERT INTO admin_idempotency (user_id, key, fingerprint) VALUES ($1, $2, $3)"
            " ON CONFLICT DO NOTHING RETURNING 1", user_id, key, fingerprint)
        if inserted:
            return None
        row = await self._conn.fetchrow(
            "SELECT fingerprint, status_code, body FROM admin_idempotency"
            " WHERE user_id = $1 AND key = $2", user_id, key)
        assert row is not None
        return StoredResponse(row["fingerprint"], row["status_code"], row["body"])

    async def complete(self, user_id: int, key: str, status_code: int, body: Any) -> None:
        await self._conn.execute(
            "UPDATE admin_idempotency SET status_code = $3, body = $4::jsonb"
            " WHERE user_id = $1 AND key = $2", user_id, key, status_code, body)

    async def release(self, user_id: int, key: str) -> None:
        await self._conn.execute(
            "DELETE FROM admin_idempotency WHERE user_id = $1 AND key = $2"
            " AND status_code IS NULL", user_id, key)


class PgHealthReads:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def beat(self, service: str, instance: str, started_at: datetime,
                   now: datetime) -> None:
        await self._conn.execute(
            "INSERT INTO service_heartbeats (service, instance, started_at, beat_at)"
            " VALUES ($1, $2, $3, $4) ON CONFLICT (service, instance)"
            " DO UPDATE SET beat_at = EXCLUDED.beat_at", service, instance, started_at, now)
        # processes gone for a day (restarts leave their row behind) are forgotten
        await self._conn.execute("DELETE FROM service_heartbeats WHERE beat_at < $1",
                                 now - FORGET_AFTER)

    async def heartbeats(self) -> list[Heartbeat]:
        rows = await self._conn.fetch(
            "SELECT * FROM service_heartbeats ORDER BY service, beat_at DESC")
        return [Heartbeat(r["service"], r["instance"], r["started_at"], r["beat_at"])
                for r in rows]

    async def outbox_backlog(self) -> OutboxBacklog:
        row = await self._conn.fetchrow(
            "SELECT count(*) FILTER (WHERE parked_at IS NULL) AS n,"
            " min(created_at) FILTER (WHERE parked_at IS NULL) AS oldest,"
            " count(parked_at) AS parked FROM outbox WHERE published_at IS NULL")
        assert row is not None
        return OutboxBacklog(row["n"], row["oldest"], row["parked"])
