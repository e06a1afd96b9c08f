"""``dropship migrate|topics``: the one-shot set-up steps docker-compose runs before the workers.
"""

from __future__ import annotations

import asyncio

import click

from cli.common import fail as _fail
from shared.settings import Settings, load_settings


@click.command()
def migrate() -> None:
    """Apply pending database migrations to DATABASE_SCHEMA."""
    from shared.db.connect import DatabaseUnavailable
    from shared.db.migrate import MigrationError

    settings = load_settings()
    try:
        applied = asyncio.run(_migrate(settings))
    except (DatabaseUnavailable, MigrationError) as exc:
        _fail(str(exc))
    for name in applied:
        click.echo(f"applied {name}")
    if not applied:
        click.echo(f"schema {settings.database_schema}: up to date")


async def _migrate(settings: Settings) -> list[str]:
    from shared.db.connect import database_url
    from shared.db.migrate import migrate as apply_migrations
    from shared.db.pool import create_pool

    url = await database_url(settings)
    pool = await create_pool(url, settings.database_schema, max_size=1)
    try:
        return await apply_migrations(pool, settings.database_schema)
    finally:
        await pool.close()


@click.command()
@click.option("--list", "list_only", is_flag=True, help="List the topics instead of creating.")
def topics(list_only: bool) -> None:
    """Create every lifecycle topic on KAFKA_BOOTSTRAP_SERVERS (existing ones are kept)."""
    from aiokafka.errors import KafkaError

    from shared.messaging.topics import BrokerUnavailable, ensure_topics, list_topics

    settings = load_settings()
    try:
        if list_only:
            for name in asyncio.run(list_topics(settings)):
                click.echo(name)
            return
        asyncio.run(ensure_topics(settings))
    except (BrokerUnavailable, KafkaError) as exc:
        _fail(str(exc))
    click.echo(
        f"topics ready on {settings.kafka_bootstrap_servers} "
        f"({settings.topic_partitions} partitions each)"
    )
