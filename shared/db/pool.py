"""One asyncpg pool per process (STYLE.md point 10), pinned to one schema.

Every connection gets ``search_path`` = the schema, so the SQL in the code base never names a
schema and the tests can run each session in a fresh one. JSON and JSONB columns come back as
Python objects: pass dicts/lists as parameters, not ``json.dumps`` output (that would be stored as
a JSON string).
"""

from __future__ import annotations

import json
import logging

import asyncpg

logger = logging.getLogger(__name__)


def quote_ident(name: str) -> str:
    """Quote a PostgreSQL identifier (schema names come from settings, not from users)."""
    return '"' + name.replace('"', '""') + '"'


async def create_pool(
    dsn: str, schema: str = "public", *, min_size: int = 1, max_size: int = 10,
    server_settings: dict[str, str] | None = None,
) -> asyncpg.Pool:
    """A pool whose connections use ``schema``; the schema is created when missing.
    ``server_settings``: more per-connection PostgreSQL settings."""
    await ensure_schema(dsn, schema)
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        server_settings={**(server_settings or {}), "search_path": quote_ident(schema)},
        init=_init_connection,
    )
    assert pool is not None  # typed Optional by asyncpg; None only when awaited twice
    return pool


async def ensure_schema(dsn: str, schema: str) -> None:
    """``CREATE SCHEMA IF NOT EXISTS``, skipped when it exists (no CREATE privilege needed)."""
    connection = await asyncpg.connect(dsn)
    try:
        await ensure_schema_on(connection, schema)
    finally:
        await connection.close()


async def ensure_schema_on(connection: asyncpg.Connection, schema: str) -> None:
    exists = await connection.fetchval("SELECT 1 FROM pg_namespace WHERE nspname = $1", schema)
    if exists:
        return
    try:
        await connection.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(schema)}")
    except asyncpg.UniqueViolationError:
        pass  # a concurrent CREATE SCHEMA won the race; the schema exists, which is all we need
    logger.info("Created schema %s", schema)


async def _init_connection(connection: asyncpg.Connection) -> None:
    for type_name in ("json", "jsonb"):
        await connection.set_type_codec(
            type_name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
        )
