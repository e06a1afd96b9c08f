"""``dropship replay``: re-run a window of a failed-order or dead-letter topic (see
``shared.replay`` for the rules)."""

from __future__ import annotations

import getpass
from datetime import UTC, datetime

import click

from cli.common import AdminSession, as_utc, with_session
from shared.messaging.publisher import KafkaPublisher
from shared.replay import Replayer, read_window


@click.command()
@click.option("--topic", required=True,
              help="order.api_failed, or a dead-letter topic such as invoice.paid.dlq")
@click.option("--since", type=click.DateTime(), help="Records at/after this time (UTC).")
@click.option("--until", type=click.DateTime(), help="Records before this time (default: now).")
@click.option("--to", "target", help="Send DLQ records here instead of their original topic.")
@click.option("--dry-run", is_flag=True, help="Show what would happen; change nothing.")
def replay(topic: str, since: datetime | None, until: datetime | None, target: str | None,
           dry_run: bool) -> None:
    """Replay failed orders (back to the placer) or dead-lettered messages (to their topic)."""
    since = as_utc(since)
    until = as_utc(until) or datetime.now(UTC)

    async def body(session: AdminSession) -> str:
        full = session.settings.topic(topic)
        records = await read_window(session.settings, full, since, until)
        click.echo(f"{len(records)} record(s) of {full} in the window"
                   + (" (dry run: nothing changes)" if dry_run else ""))
        publisher = KafkaPublisher(session.settings.kafka_bootstrap_servers,
                                   client_id="dropship-replay")
        try:
            replayer = Replayer(session.settings, session.uow, publisher,
                                actor=getpass.getuser(), dry_run=dry_run,
                                target=session.settings.topic(target) if target else None)
            await replayer.replay(full, records, lambda n, total: click.echo(
                f"  ... {n}/{total}", err=True))
            replay_id = await replayer.record(full, since, until)
        finally:
            await publisher.stop()
        if not dry_run:
            await session.flush_outbox()
        return f"replay {replay_id}: {replayer.report.summary()}"

    click.echo(with_session(body))


__all__ = ["AdminSession", "replay"]
