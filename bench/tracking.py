"""Issue 5 benchmark: SUNSKY calls and delay to follow orders from Placed to Delivered.

What runs: the tracker's own parts in-process (``Tracker``, ``Reconciler``, the callback
``CallbackServer`` + ``CallbackInbox``), not Faust processes, against real PostgreSQL (a fresh
schema per scenario) and the SUNSKY sandbox over real HTTP: every SUNSKY call is a signed HTTP
request, every callback an HTTP POST from the sandbox to the tracker's endpoint.

Time is compressed: the sandbox and the tracker share a simulated clock. The run walks through
the orders' life (created over ``--days`` days, shipped 0.5-2 days later, delivered 5-9 days
after that) event by event: it moves the clock, moves the order in the sandbox (``POST
/_sandbox/orders/{n}/advance``), lets the callback pipeline drain (callbacks on), and runs a sweep
whenever one is due. Delays are simulated time between SUNSKY's change and ours (the history
row); the callback path's real wall-clock latency is reported beside it.

Scenarios: callbacks on with shipments in one daily warehouse wave, callbacks on with shipments
spread evenly (each callback arrives alone), callbacks off at two sweep intervals. Callbacks wait
in the tracker's batch window (``TRACKER_CALLBACK_BATCH_SECONDS``, its default unless a scenario
says, never longer than the sweep interval) on the simulated clock: the inbox's batch is verified
when the window closes in simulated time. The tracker reads by status where SUNSKY honours the
list's status filter (the sandbox does; ``TRACKER_STATUS_FILTER=false`` in the environment reads
every status, as issue 5 did). The baseline
is computed: polling each order every 30 minutes over a 10-day delivery = 480 calls/order.

    python bench/tracking.py                 # 1,000 orders, ~3 minutes
    python bench/tracking.py --orders 200 --no-write
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import random
import secrets
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tracking_report import WAVE_HOUR, render, write_section

from devtools.broker import free_port
from devtools.perfex_events import encode, invoice_event
from devtools.postgres import resolve_database_url
from sandbox import SandboxConfig, running_sandbox
from sandbox.core import SANDBOX
from schemas.orders import OrderPlaced
from schemas.perfex import INVOICE_EVENT
from services.tracker.callbacks import CallbackInbox, CallbackServer
from services.tracker.handlers import Tracker
from services.tracker.reconcile import Reconciler
from shared.db.migrate import migrate
from shared.db.pg import PgUnitOfWork
from shared.db.pool import create_pool, quote_ident
from shared.domain.intake import Save, decide_invoice_event
from shared.domain.order import OrderStatus, SunskyPlacement
from shared.messaging.envelope import Envelope
from shared.settings import SANDBOX_API_KEY, SANDBOX_API_SECRET, Settings
from shared.sunsky.client import GET_ORDER_DETAILS, GET_ORDER_LIST, SunskyClient
from shared.sunsky.models import CreateOrderRequest, DeliveryAddress

START = datetime(2026, 3, 2, tzinfo=UTC)
SKUS = ("S-CAB-0042", "S-CAS-0555", "S-EAR-0777")
S = OrderStatus


@dataclass(frozen=True)
class Scenario:
    name: str
    callbacks: bool
    waves: bool
    sweep_hours: float
    batch_seconds: float | None = None  # None: the setting's default


SCENARIOS = (
    Scenario("callbacks on, daily shipping wave", True, True, 12),
    Scenario("callbacks on, daily shipping wave", True, True, 72),
    Scenario("callbacks on, shipments spread evenly", True, False, 72),
    Scenario("callbacks on, shipments spread evenly", True, False, 12),
    Scenario("callbacks on, shipments spread evenly, issue 5's 0.05 s window", True, False, 72,
             0.05),
    Scenario("callbacks off", False, True, 12),
    Scenario("callbacks off", False, True, 8),
)


class SimClock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Planned:
    order_id: int
    number: str
    created: datetime
    shipped: datetime
    delivered: datetime


@dataclass
class Result:
    scenario: Scenario
    orders: int
    delivered: int
    details: int
    list_pages: int
    ship_delays_h: list[float]
    deliver_delays_h: list[float]
    callback_ms: list[float] = field(default_factory=list)

    @property
    def per_order(self) -> float:
        return (self.details + self.list_pages) / max(self.delivered, 1)


# --- one scenario ---------------------------------------------------------------------------


async def run(scenario: Scenario, database_url: str, n: int, days: float, seed: int) -> Result:
    schema = f"bench_trk_{secrets.token_hex(3)}"
    clock = SimClock()
    config = SandboxConfig(initial_balance=10**7, callback_retry_seconds=1)
    async with running_sandbox(config) as sandbox, _pool(database_url, schema) as pool:
        sandbox.app[SANDBOX].clock = clock
        settings = _settings(scenario, database_url, schema, sandbox.base_url)
        async with SunskyClient.from_settings(settings) as sunsky:
            uow = lambda: PgUnitOfWork(pool)  # noqa: E731
            tracker = Tracker(settings, uow, sunsky, clock=clock)
            reconciler = Reconciler(settings, uow, sunsky, tracker, clock=clock)
            plan = await _seed(tracker, uow, sunsky, clock, n, days, scenario, seed)
            sunsky.calls.clear()
            callback_ms = await _simulate(scenario, settings, sandbox, reconciler, clock, plan)
            ship, deliver, delivered = await _delays(pool, plan)
            return Result(scenario, n, delivered, sunsky.calls[GET_ORDER_DETAILS],
                          sunsky.calls[GET_ORDER_LIST], ship, deliver, callback_ms)


@contextlib.asynccontextmanager
async def _pool(database_url: str, schema: str) -> Any:
    pool = await create_pool(database_url, schema)
    try:
        await migrate(pool, schema)
        yield pool
    finally:
        await pool.execute(f"DROP SCHEMA IF EXISTS {quote_ident(schema)} CASCADE")
        await pool.close()


def _settings(scenario: Scenario, database_url: str, schema: str, base_url: str) -> Settings:
    window = {} if scenario.batch_seconds is None else {
        "tracker_callback_batch_seconds": scenario.batch_seconds}
    return Settings(database_url=database_url, database_schema=schema, sunsky_base_url=base_url,
                    sunsky_api_key=SANDBOX_API_KEY, sunsky_api_secret=SANDBOX_API_SECRET,
                    sunsky_account_calls_per_second=0,
                    tracker_sweep_seconds=scenario.sweep_hours * 3600,
                    tracker_callback_port=free_port() if scenario.callbacks else 0, **window)


async def _seed(tracker: Tracker, uow: Any, sunsky: SunskyClient, clock: SimClock, n: int,
                days: float, scenario: Scenario, seed: int) -> list[Planned]:
    """n orders placed at SUNSKY over ``days``, each Placed here, then through order.placed."""
    rng = random.Random(seed)
    plan = []
    for i in range(n):
        clock.now = START + timedelta(days=days * i / n)
        created = await sunsky.create_order(_request(i))
        order_id = await _placed(uow, i, created.number, clock.now)
        await tracker.handle(_placed_message(order_id, created.number, i))
        shipped = _ship_time(clock.now, rng, scenario.waves)
        plan.append(Planned(order_id, created.number, clock.now, shipped,
                            shipped + timedelta(days=rng.uniform(5, 9))))
    return plan


def _request(i: int) -> CreateOrderRequest:
    address = DeliveryAddress(country_id=41, state="IL", city="Chicago", address="12 Elm St",
                              postcode="60601", receiver="Jane Doe", telephone="+13125550101",
                              shipping_way_id=246)
    return CreateOrderRequest(site_number=f"BENCH-{i}", items=[(SKUS[i % len(SKUS)], 1)],
                              address=address)


async def _placed(uow: Any, i: int, number: str, now: datetime) -> int:
    event = INVOICE_EVENT.validate_json(encode(invoice_event("invoice.paid", 100_000 + i)))
    decision = decide_invoice_event(None, event, auto_place=True, now=now)
    assert isinstance(decision, Save)
    async with uow() as work:
        order = await work.orders.add(decision.order)
        order = order.transition(S.PLACED, reason="bench", actor="bench", now=now)
        placement = SunskyPlacement(number, 2, None, None, None)
        await work.orders.save(replace(order, placed_at=now, sunsky=placement))
        await work.commit()
    return int(order.id)


def _placed_message(order_id: int, number: str, i: int) -> Envelope:
    message = OrderPlaced(message_id=f"bench-{i}", order_id=order_id, invoice_id=str(i),
                          occurred_at=START, sunsky_order_number=number, site_number="-")
    return Envelope("order.placed", 0, i, str(order_id), message.model_dump_json().encode())


def _ship_time(created: datetime, rng: random.Random, waves: bool) -> datetime:
    ready = created + timedelta(days=rng.uniform(0.5, 2.0))
    if not waves:
        return ready
    wave = ready.replace(hour=WAVE_HOUR, minute=0, second=0, microsecond=0)
    return wave if wave >= ready else wave + timedelta(days=1)


# --- the simulated weeks --------------------------------------------------------------------


def _timeline(plan: list[Planned], sweep_hours: float) -> Iterator[tuple[datetime, str, str]]:
    events = [(p.shipped, "shipped", p.number) for p in plan]
    events += [(p.delivered, "delivered", p.number) for p in plan]
    end = max(p.delivered for p in plan) + timedelta(hours=sweep_hours * 1.5)
    sweep, step = START + timedelta(hours=sweep_hours), timedelta(hours=sweep_hours)
    while sweep <= end:
        events.append((sweep, "~sweep", ""))  # "~" sorts sweeps after moves at the same time
        sweep += step
    yield from sorted(events)


async def _simulate(scenario: Scenario, settings: Settings, sandbox: Any,
                    reconciler: Reconciler, clock: SimClock, plan: list[Planned]) -> list[float]:
    # as services/tracker/app.py bootstraps it, on the simulated clock (verified by _flush)
    window = min(settings.tracker_callback_batch_seconds, settings.tracker_sweep_seconds)
    inbox = CallbackInbox(reconciler.verify, batch_seconds=window,
                          batch_max=settings.tracker_callback_batch_max, clock=clock)
    server = CallbackServer(settings, inbox)
    await server.start()
    latencies: list[float] = []
    try:
        async with httpx.AsyncClient(base_url=sandbox.base_url) as control:
            if server.url:
                await control.post("/_sandbox/callbacks", json={"url": server.url})
            await _walk(scenario, sandbox, control, reconciler, clock, plan, inbox, latencies)
    finally:
        await server.stop()
    return latencies


async def _walk(scenario: Scenario, sandbox: Any, control: httpx.AsyncClient,
                reconciler: Reconciler, clock: SimClock, plan: list[Planned],
                inbox: CallbackInbox, latencies: list[float]) -> None:
    dispatcher, shipped = sandbox.app[SANDBOX].callbacks, 0
    pending: list[float] = []
    for at, kind, number in _timeline(plan, scenario.sweep_hours):
        if scenario.callbacks and pending and at > clock.now:
            latencies += await _drain(dispatcher, inbox, shipped, pending)
        await _flush(inbox, clock, at)
        clock.now = at
        if kind == "~sweep":
            await reconciler.sweep()
            continue
        response = await control.post(f"/_sandbox/orders/{number}/advance", json={"to": kind})
        response.raise_for_status()
        if kind == "shipped" and scenario.callbacks:
            shipped += 1
            pending.append(time.perf_counter())
    if pending:
        latencies += await _drain(dispatcher, inbox, shipped, pending)
    await _flush(inbox, clock, datetime.max.replace(tzinfo=UTC))


async def _flush(inbox: CallbackInbox, clock: SimClock, until: datetime) -> None:
    """Verify every callback batch whose window closes by ``until``, at that simulated time."""
    while (due := inbox.due_at()) is not None and due <= until:
        clock.now = max(clock.now, due)
        await inbox.verify_batch()


async def _drain(dispatcher: Any, inbox: CallbackInbox, expected: int,
                 pending: list[float]) -> list[float]:
    """Wait until every callback so far got its 200 (queued in the inbox); real ms each."""
    # Polled: neither the sandbox's dispatcher nor the inbox offers an event to wait on.
    for _ in itertools.count():
        if _drained(dispatcher, inbox, expected):
            break
        await asyncio.sleep(0.002)
    done = time.perf_counter()
    latencies = [(done - started) * 1000 for started in pending]
    pending.clear()
    return latencies


def _drained(dispatcher: Any, inbox: CallbackInbox, expected: int) -> bool:
    return sum(d.status_code == 200 for d in dispatcher.deliveries) >= expected


async def _delays(pool: Any, plan: list[Planned]) -> tuple[list[float], list[float], int]:
    """Hours from SUNSKY's change to ours, from the history (shipped: first move to Shipped or
    beyond, as a sweep may go straight to Delivered)."""
    rows = await pool.fetch("SELECT order_id, to_status, at FROM order_status_history"
                            " WHERE to_status IN ('shipped', 'delivered') ORDER BY id")
    first: dict[tuple[int, str], datetime] = {}
    for row in rows:
        first.setdefault((row["order_id"], row["to_status"]), row["at"])
        first.setdefault((row["order_id"], "shipped"), row["at"])
    ship = [_hours(first[(p.order_id, "shipped")] - p.shipped) for p in plan
            if (p.order_id, "shipped") in first]
    deliver = [_hours(first[(p.order_id, "delivered")] - p.delivered) for p in plan
               if (p.order_id, "delivered") in first]
    return ship, deliver, len(deliver)


def _hours(delta: timedelta) -> float:
    return delta.total_seconds() / 3600


async def main(args: argparse.Namespace) -> None:
    database_url = await resolve_database_url(Settings(database_url=args.database_url))
    results = []
    for scenario in SCENARIOS:
        started = time.perf_counter()
        results.append(await run(scenario, database_url, args.orders, args.days, args.seed))
        print(f"{scenario.name} (sweep {scenario.sweep_hours:g} h): "
              f"{results[-1].per_order:.3f} calls/order in {time.perf_counter() - started:.0f} s",
              file=sys.stderr)
    command = "python bench/tracking.py" + "".join(f" {a}" for a in sys.argv[1:])
    markdown = render(results, command, args)
    print(markdown)
    if args.write:
        write_section(markdown)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--days", type=float, default=10, help="orders are created over this")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--database-url", default=None, help="default: DATABASE_URL, else local")
    parser.add_argument("--write", action=argparse.BooleanOptionalAction, default=True,
                        help="write the section into docs/BENCHMARKS.md")
    asyncio.run(main(parser.parse_args()))
