"""The benchmark's traffic: its scenarios and phases, and realistic Perfex ``invoice.paid``
events published as a burst or at a fixed rate.

Events are built with ``devtools.perfex_events`` (string numbers, ``<br />`` streets, SKUs in
``custom_fields.sunsky_sku``). Unlike ``random_valid_event`` each order takes one or two distinct
SKUs with quantity 1, drawn from the sandbox's real stock (``CATALOGUE``): the sandbox refuses
orders once a product sells out, and a benchmark of refusals would measure the wrong path. The
sandbox is reset before each phase, so one phase can hold about 1,500 orders.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from dataclasses import dataclass

from devtools.perfex_events import SKUS, US_STATES, address, encode, invoice_event, item
from sandbox.catalogue import CATALOGUE
from shared.messaging.publisher import KafkaPublisher


@dataclass(frozen=True)
class PhaseSpec:
    name: str
    count: int
    rate: float | None  # None: burst
    scored: bool = True


@dataclass(frozen=True)
class ScenarioSpec:
    key: str
    label: str
    latency_ms: int
    phases: tuple[PhaseSpec, ...]


def scenario_specs(args: argparse.Namespace) -> list[ScenarioSpec]:
    """Zero SUNSKY latency, then ``--latency-ms``: warm-up, burst, paced each."""
    def phases(burst: int, rate: float, seconds: float) -> tuple[PhaseSpec, ...]:
        return (PhaseSpec("warm-up", args.warmup, None, scored=False),
                PhaseSpec("burst", burst, None),
                PhaseSpec(f"paced {rate:g}/s", round(rate * seconds), rate))

    return [
        ScenarioSpec("zero", "0 ms", 0, phases(args.orders, args.rate, args.paced_seconds)),
        ScenarioSpec("slow", f"{args.latency_ms} ms", args.latency_ms,
                     phases(args.slow_orders, args.slow_rate, args.slow_seconds)),
    ]


class OutOfStock(RuntimeError):
    """The phase asks for more units than the sandbox holds."""


class StockPool:
    """What is left of the sandbox's stock for the SKUs Perfex events use."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._left = {sku: CATALOGUE[sku].stock for sku in SKUS}

    def draw(self) -> list[str]:
        """One or two distinct SKUs, weighted by what is left; each takes one unit."""
        wanted = self._rng.randint(1, 2)
        counts = [self._left[sku] for sku in SKUS]
        if sum(counts) < wanted:
            raise OutOfStock("the sandbox's stock is used up: publish fewer orders per phase")
        skus = sorted(set(self._rng.sample(SKUS, wanted, counts=counts)))
        for sku in skus:
            self._left[sku] -= 1
        return skus


@dataclass(frozen=True)
class Paid:
    invoice_id: str
    value: bytes


def paid_events(first_invoice: int, count: int, rng: random.Random) -> list[Paid]:
    """``count`` paid invoices numbered from ``first_invoice``, within one reset's stock."""
    pool = StockPool(rng)
    return [_paid(first_invoice + n, pool.draw(), rng) for n in range(count)]


def _paid(invoice_id: int, skus: list[str], rng: random.Random) -> Paid:
    lines = [item(n, sku, qty="1.00") for n, sku in enumerate(skus, 1)]
    shipping = address(f"{rng.randint(1, 999)} Oak Ave<br />Unit {rng.randint(1, 40)}",
                       "Springfield", rng.choice(US_STATES), f"{rng.randint(10000, 99999)}")
    event = invoice_event("invoice.paid", invoice_id, items=lines, shipping=shipping)
    return Paid(str(invoice_id), encode(event))


async def publish_burst(publisher: KafkaPublisher, topic: str,
                        events: list[Paid]) -> dict[str, float]:
    """Everything at once; every event's send time is the burst's start."""
    start = time.time()
    await publisher.publish_many([(topic, e.invoice_id, e.value, []) for e in events])
    return {e.invoice_id: start for e in events}


async def publish_paced(publisher: KafkaPublisher, topic: str, events: list[Paid],
                        rate: float) -> dict[str, float]:
    """One event every ``1/rate`` s on a fixed schedule (a late send does not shift the rest);
    returns each event's actual send time."""
    sent: dict[str, float] = {}
    pending: list[asyncio.Task[None]] = []
    start = time.monotonic()
    for n, event in enumerate(events):
        await asyncio.sleep(max(0.0, start + n / rate - time.monotonic()))
        sent[event.invoice_id] = time.time()
        pending.append(asyncio.create_task(
            publisher.publish(topic, event.invoice_id, event.value)))
    await asyncio.gather(*pending)
    return sent


async def publish_timed(publisher: KafkaPublisher, topic: str, values: list[bytes],
                        rate: float, key_prefix: str) -> None:
    """Like ``publish_paced``, each record keyed ``<key_prefix><unix time of sending>``."""
    pending: list[asyncio.Task[None]] = []
    start = time.monotonic()
    for n, value in enumerate(values):
        await asyncio.sleep(max(0.0, start + n / rate - time.monotonic()))
        key = f"{key_prefix}{time.time():.6f}"
        pending.append(asyncio.create_task(publisher.publish(topic, key, value)))
    await asyncio.gather(*pending)
