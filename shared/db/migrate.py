"""Forward-only SQL migrations.

Files in ``migrations/`` are named ``NNNN_name.sql`` and run in numeric order, each once, each in
its own transaction with ``search_path`` set to the target schema (so they never name a schema).
``{schema}.schema_migrations`` records what ran with a checksum of the file; editing a file that
already ran is refused (``MigrationChecksumMismatch``): add a new file instead. A PostgreSQL
advisory lock per schema lets several processes call ``migrate()`` at start-up safely.
Statements that cannot run inside a transaction (``CREATE INDEX CONCURRENTLY``) are not supported.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from shared.db.pool import ensure_schema_on, quote_ident

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_FILE_NAME = re.compile(r"^(?P<version>\d{4})_(?P<label>[A-Za-z0-9_]+)\.sql$")


class MigrationError(RuntimeError):
    """The migrations on disk or in the database are not in a state we can apply."""


class InvalidMigrationName(MigrationError):
    pass


class DuplicateMigrationVersion(MigrationError):
    pass


class MigrationChecksumMismatch(MigrationError):
    """A migration that already ran was edited afterwards."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str  # the file name without ".sql", e.g. "0001_orders"
    sql: str
    checksum: str  # sha256 of the text with normalised line endings


def list_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The ``*.sql`` files of ``directory`` in version order. Pure: reads files only."""
    if not directory.is_dir():
        raise MigrationError(f"migrations directory {directory} does not exist")
    migrations = [_load(path) for path in directory.iterdir() if path.suffix == ".sql"]
    migrations.sort(key=lambda m: m.version)
    for previous, current in itertools.pairwise(migrations):
        if previous.version == current.version:
            raise DuplicateMigrationVersion(
                f"{previous.name}.sql and {current.name}.sql share version {current.version}"
            )
    return migrations


def _load(path: Path) -> Migration:
    match = _FILE_NAME.match(path.name)
    if match is None:
        raise InvalidMigrationName(
            f"{path.name}: migration files must be named NNNN_name.sql (e.g. 0002_add_notes.sql)"
        )
    sql = path.read_text(encoding="utf-8").replace("\r\n", "\n")
    checksum = hashlib.sha256(sql.encode("utf-8")).hexdigest()
    return Migration(int(match["version"]), path.stem, sql, checksum)


async def migrate(
    conn_or_pool: asyncpg.Connection | asyncpg.Pool,
    schema: str = "public",
    migrations_dir: Path = MIGRATIONS_DIR,
) -> list[str]:
    """Apply pending migrations to ``schema``; returns the names applied by this call."""
    migrations = list_migrations(migrations_dir)
    async with _connection(conn_or_pool) as connection, _advisory_lock(connection, schema):
        await _ensure_table(connection, schema)
        applied = await _applied_checksums(connection, schema)
        _check_unchanged(migrations, applied)
        pending = [m for m in migrations if m.version not in applied]
        for migration in pending:
            await _apply(connection, schema, migration)
    return [m.name for m in pending]


@asynccontextmanager
async def _connection(
    conn_or_pool: asyncpg.Connection | asyncpg.Pool,
) -> AsyncIterator[asyncpg.Connection]:
    if isinstance(conn_or_pool, asyncpg.Pool):
        async with conn_or_pool.acquire() as connection:
            yield connection
    else:
        yield conn_or_pool


@asynccontextmanager
async def _advisory_lock(connection: asyncpg.Connection, schema: str) -> AsyncIterator[None]:
    key = _lock_key(schema)
    await connection.execute("SELECT pg_advisory_lock($1)", key)
    try:
        yield
    finally:
        await connection.execute("SELECT pg_advisory_unlock($1)", key)


def _lock_key(schema: str) -> int:
    digest = hashlib.sha256(f"dropship.migrate:{schema}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


async def _ensure_table(connection: asyncpg.Connection, schema: str) -> None:
    await ensure_schema_on(connection, schema)
    await connection.execute(
        f"CREATE TABLE IF NOT EXISTS {quote_ident(schema)}.schema_migrations ("
        " version integer PRIMARY KEY,"
        " name text NOT NULL,"
        " checksum text NOT NULL,"
        " applied_at timestamptz NOT NULL DEFAULT now())"
    )


async def _applied_checksums(connection: asyncpg.Connection, schema: str) -> dict[int, str]:
    rows = await connection.fetch(
        f"SELECT version, checksum FROM {quote_ident(schema)}.schema_migrations"
    )
    return {row["version"]: row["checksum"] for row in rows}


def _check_unchanged(migrations: list[Migration], applied: dict[int, str]) -> None:
    changed = [m.name for m in migrations if applied.get(m.version, m.checksum) != m.checksum]
    if changed:
        raise MigrationChecksumMismatch(
            f"already applied migrations were edited: {', '.join(changed)}; "
            "restore them and put the change in a new migration file"
        )
    unknown = sorted(set(applied) - {m.version for m in migrations})
    if unknown:
        logger.warning("Database has migrations this code does not know: %s", unknown)


async def _apply(connection: asyncpg.Connection, schema: str, migration: Migration) -> None:
    async with connection.transaction():
        await connection.execute(f"SET LOCAL search_path TO {quote_ident(schema)}")
        await connection.execute(migration.sql)
        await connection.execute(
            f"INSERT INTO {quote_ident(schema)}.schema_migrations (version, name, checksum)"
            " VALUES ($1, $2, $3)",
            migration.version,
            migration.name,
            migration.checksum,
        )
    logger.info("Applied migration %s to schema %s", migration.name, schema)
