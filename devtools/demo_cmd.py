"""``dropship demo publish``: realistic Perfex traffic so a new user can watch orders move.

A mix like a real shop's: mostly paid invoices (some with their ``invoice.created`` first, some
after), a few duplicates, one invoice whose address is incomplete, one with no SUNSKY line and
a few broken messages that must land in the dead-letter topic.
"""

from __future__ import annotations

import random
import time

import click

from cli.common import run
from devtools.perfex_events import BROKEN_PAYLOADS, address, encode, item, random_valid_event
from shared.messaging.publisher import KafkaPublisher
from shared.messaging.topics import ensure_topics
from shared.settings import (
    TOPIC_INVOICE_CREATED,
    TOPIC_INVOICE_PAID,
    Settings,
    load_settings,
)

Record = tuple[str, str | None, bytes, list[tuple[str, bytes]]]


@click.group()
def demo() -> None:
    """Demo traffic."""


@demo.command()
@click.option("--count", default=20, show_default=True, help="Paid invoices to publish.")
@click.option("--first-invoice", type=int, default=None, help="First invoice id (default: time).")
@click.option("--seed", type=int, default=None)
@click.option("--broken/--no-broken", default=True, help="Also publish broken messages.")
def publish(count: int, first_invoice: int | None, seed: int | None, broken: bool) -> None:
    """Publish COUNT paid invoices (plus duplicates, late 'created' events, broken ones)."""
    settings = load_settings()
    start = first_invoice if first_invoice is not None else int(time.time()) % 10_000_000 * 10
    records = build_traffic(settings, count, start, random.Random(seed), broken=broken)
    run(_send(settings, records))
    click.echo(f"published {len(records)} messages for invoices {start}..{start + count - 1} "
               f"to {settings.kafka_bootstrap_servers}; watch with: dropship orders list")


def build_traffic(settings: Settings, count: int, start: int, rng: random.Random, *,
                  broken: bool = True) -> list[Record]:
    created, paid = settings.topic(TOPIC_INVOICE_CREATED), settings.topic(TOPIC_INVOICE_PAID)
    records: list[Record] = []
    for invoice_id in range(start, start + count):
        event = encode(random_valid_event("invoice.paid", invoice_id, rng))
        key = str(invoice_id)
        if rng.random() < 0.3:
            records.append((created, key, encode(random_valid_event("invoice.created",
                                                                    invoice_id, rng)), []))
        records.append((paid, key, event, []))
        if rng.random() < 0.2:
            records.append((paid, key, event, []))  # Perfex re-sent the same event
    if broken:
        records += _awkward(settings, start + count)
    return records


def _awkward(settings: Settings, invoice_id: int) -> list[Record]:
    from devtools.perfex_events import invoice_event

    paid = settings.topic(TOPIC_INVOICE_PAID)
    bad_address = invoice_event("invoice.paid", invoice_id, shipping=address(city="", zip_code=""))
    no_sku = invoice_event("invoice.paid", invoice_id + 1, items=[item(1, None)])
    out: list[Record] = [(paid, str(invoice_id), encode(bad_address), []),
                         (paid, str(invoice_id + 1), encode(no_sku), [])]
    out += [(paid, f"broken-{name}", raw, [("demo", b"broken")]) for name, raw in BROKEN_PAYLOADS]
    return out


async def _send(settings: Settings, records: list[Record]) -> None:
    await ensure_topics(settings)
    publisher = KafkaPublisher(settings.kafka_bootstrap_servers, client_id="dropship-demo")
    try:
        await publisher.publish_many(records)
    finally:
        await publisher.stop()
