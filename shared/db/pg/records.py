"""Small asyncpg adapters: the inbox (processed messages, ignored invoices), shop settings,
advisory locks and the replay audit (0001_orders.sql, 0002_retries.sql). The outbox has its
own module (``shared.db.pg.outbox``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from shared.db.repository import ReplayAudit, ReplayRecord


class PgInbox:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def mark_processed(self, consumer: str, message_id: str) -> bool:
        row = await self._conn.fetchrow(
            "INSERT INTO processed_messages (consumer, message_id) VALUES ($1, $2)"
            " ON CONFLICT DO NOTHING RETURNING 1", consumer, message_id)
        return row is not None

    async def record_ignored(self, invoice_id: str, event_id: str, event_type: str,
                             reason: str) -> None:
        await self._conn.execute(
            "INSERT INTO ignored_invoices (invoice_id, event_id, event_type, reason)"
            " VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            invoice_id, event_id, event_type, reason)

    async def prune(self, before: datetime, limit: int) -> int:
        status = await self._conn.execute(
            "DELETE FROM processed_messages WHERE ctid = ANY(ARRAY(SELECT ctid FROM"
            " processed_messages WHERE processed_at < $1 LIMIT $2))", before, limit)
        return int(status.rsplit(" ", 1)[-1])


class PgSettingsStore:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def get(self, name: str) -> Any:
        # jsonb comes back decoded: create_pool registers the JSON codec
        return await self._conn.fetchval("SELECT value FROM app_settings WHERE name = $1", name)

    async def set(self, name: str, value: Any, *, by: str) -> None:
        await self._conn.execute(
            "INSERT INTO app_settings (name, value, updated_by) VALUES ($1, $2::jsonb, $3)"
            " ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, updated_at = now(),"
            " updated_by = EXCLUDED.updated_by", name, value, by)


class PgLocks:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def try_lock(self, name: str) -> bool:
        return bool(await self._conn.fetchval(
            # per schema: two shops (or test runs) in one database must not block each other
            "SELECT pg_try_advisory_xact_lock(hashtext(current_schema() || ':' || $1))", name))


class PgReplays:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def record(self, replay: ReplayRecord) -> int:
        return int(await self._conn.fetchval(
            "INSERT INTO replays (actor, topic, target, since, until, dry_run, read, replayed,"
            " skipped, refused) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
            replay.actor, replay.topic, replay.target, replay.since, replay.until,
            replay.dry_run, replay.read, replay.replayed, replay.skipped, replay.refused))

    async def recent(self, limit: int) -> list[ReplayAudit]:
        rows = await self._conn.fetch(
            "SELECT * FROM replays ORDER BY id DESC LIMIT $1", limit)
        return [ReplayAudit(r["id"], r["at"], ReplayRecord(
            actor=r["actor"], topic=r["topic"], target=r["target"], since=r["since"],
            until=r["until"], dry_run=r["dry_run"], read=r["read"], replayed=r["replayed"],
            skipped=r["skipped"], refused=r["refused"])) for r in rows]
