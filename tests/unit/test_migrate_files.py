"""list_migrations: naming, ordering and checksums of migration files (no database)."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.db.migrate import (
    MIGRATIONS_DIR,
    DuplicateMigrationVersion,
    InvalidMigrationName,
    MigrationError,
    list_migrations,
)


def write(directory: Path, name: str, sql: str = "SELECT 1;") -> None:
    (directory / name).write_text(sql, encoding="utf-8")


def test_the_shipped_migrations_are_well_formed() -> None:
    migrations = list_migrations(MIGRATIONS_DIR)

    versions = [m.version for m in migrations]
    assert versions == sorted(set(versions))
    assert all(m.sql.strip() for m in migrations)


def test_orders_by_number_not_by_text(tmp_path: Path) -> None:
    write(tmp_path, "0010_ten.sql")
    write(tmp_path, "0002_two.sql")
    write(tmp_path, "0001_one.sql")

    assert [m.name for m in list_migrations(tmp_path)] == ["0001_one", "0002_two", "0010_ten"]
    assert [m.version for m in list_migrations(tmp_path)] == [1, 2, 10]


def test_ignores_files_that_are_not_sql(tmp_path: Path) -> None:
    write(tmp_path, "0001_one.sql")
    write(tmp_path, "README.md", "notes")

    assert [m.name for m in list_migrations(tmp_path)] == ["0001_one"]


@pytest.mark.parametrize("name", ["1_short.sql", "0001-dash.sql", "0001_.sql", "orders.sql"])
def test_rejects_badly_named_sql_files(tmp_path: Path, name: str) -> None:
    write(tmp_path, name)

    with pytest.raises(InvalidMigrationName, match=r"NNNN_name\.sql"):
        list_migrations(tmp_path)


def test_rejects_two_files_with_one_version(tmp_path: Path) -> None:
    write(tmp_path, "0001_one.sql")
    write(tmp_path, "0001_again.sql")

    with pytest.raises(DuplicateMigrationVersion, match="version 1"):
        list_migrations(tmp_path)


def test_missing_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(MigrationError, match="does not exist"):
        list_migrations(tmp_path / "nope")


def test_checksum_follows_content_not_line_endings(tmp_path: Path) -> None:
    write(tmp_path, "0001_one.sql", "CREATE TABLE a (id int);\n")
    unix = list_migrations(tmp_path)[0].checksum
    (tmp_path / "0001_one.sql").write_bytes(b"CREATE TABLE a (id int);\r\n")
    windows = list_migrations(tmp_path)[0].checksum
    write(tmp_path, "0001_one.sql", "CREATE TABLE a (id bigint);\n")
    edited = list_migrations(tmp_path)[0].checksum

    assert unix == windows
    assert edited != unix
