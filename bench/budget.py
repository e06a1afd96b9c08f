"""Issue 12 §3 benchmark: one SUNSKY call budget for the account, three placers and the tracker.

What one run does, for each budget R (``--rates``, default 5 and 2 calls/s):

* a fresh schema, topic prefix and consumer groups; the sandbox (``dropship sandbox``, its own
  process) reset and told to throttle the account above 2R + burst calls in any 2 s window
  (its fault control, standing in for SUNSKY's own limit);
* ``dropship worker invoice-listener``, three ``dropship worker placer`` and ``dropship worker
  tracker`` (sweeping every ``--sweep-seconds``, no callback endpoint) as processes, all with
  ``SUNSKY_ACCOUNT_CALLS_PER_SECOND=R`` and ``SUNSKY_ACCOUNT_CALLS_BURST=--burst``;
* a backlog of ``--orders`` paid invoices published at once (the pipeline benchmark's mix:
  one or two distinct SKUs of the sandbox catalogue, one unit each, US addresses), then
  ``--probes`` more published one by one while the backlog drains: their paid -> Placed time
  is what a shop sees for an order that arrives during a backlog;
* until every order is placed (or API Failed): the sandbox's request log gives calls by path
  and outcome, throttled answers and the most calls in any 2 s window; the orders table gives
  the drain time (first publish to last ``placed_at``).

Drain time is set against the ideal, orders x placement calls per order / R (the burst
aside): "budget used" = ideal / drain. The tracker's calls share the same budget and are
reported apart. Results go into ``docs/BENCHMARKS.md`` under ``## Call budget (issue 12)``.
Every process started is stopped at the end; the schemas are dropped.

    python bench/budget.py                          # 1,000 orders at R=5 and R=2: ~25 min
    python bench/budget.py --orders 60 --rates 5 --no-write    # a short check (~1 min)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import secrets
import shutil
import sys
import tempfile
import time
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
from budget_report import Result, render, write_section
from pipeline_harness import (
    READY_LINE,
    Monitor,
    Processes,
    SandboxControl,
    open_stack,
    order_rows,
)
from pipeline_workload import paid_events, publish_burst

from devtools.supervisor import dropship_argv
from shared.db.migrate import migrate
from shared.db.pool import create_pool, quote_ident
from shared.messaging.publisher import KafkaPublisher
from shared.messaging.topics import ensure_topics
from shared.settings import SANDBOX_API_KEY, SANDBOX_API_SECRET, TOPIC_INVOICE_PAID, Settings

REPO = Path(__file__).resolve().parent.parent
PLACERS = ("placer-1", "placer-2", "placer-3")
WINDOW = 2.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--orders", type=int, default=1000, help="the backlog of paid orders")
    p.add_argument("--rates", type=float, nargs="+", default=[5.0, 2.0],
                   help="account budgets to run, calls/s")
    p.add_argument("--burst", type=int, default=4)
    p.add_argument("--probes", type=int, default=10, help="orders paid while it drains")
    p.add_argument("--sweep-seconds", type=float, default=30.0)
    p.add_argument("--partitions", type=int, default=6)
    p.add_argument("--stall-timeout", type=float, default=90.0)
    p.add_argument("--seed", type=int, default=12)
    p.add_argument("--doc", type=Path, default=REPO / "docs" / "BENCHMARKS.md")
    p.add_argument("--no-write", action="store_true", help="print only")
    return p.parse_args(argv)


class Bench:
    def __init__(self, args: argparse.Namespace, base: Settings, procs: Processes,
                 monitor: Monitor, sandbox: SandboxControl, publisher: KafkaPublisher) -> None:
        self.args, self.base, self.procs, self.monitor = args, base, procs, monitor
        self.sandbox, self.publisher = sandbox, publisher
        self.run_id, self.rng = secrets.token_hex(3), random.Random(args.seed)

    def env(self, settings: Settings, rate: float) -> dict[str, str]:
        return {
            "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
            "DATABASE_URL": settings.database_url or "",
            "DATABASE_SCHEMA": settings.database_schema,
            "TOPIC_PREFIX": settings.topic_prefix, "GROUP_PREFIX": settings.group_prefix,
            "TOPIC_PARTITIONS": str(settings.topic_partitions),
            "SUNSKY_BASE_URL": self.sandbox.base_url, "SUNSKY_API_KEY": SANDBOX_API_KEY,
            "SUNSKY_API_SECRET": SANDBOX_API_SECRET,
            "SUNSKY_ACCOUNT_CALLS_PER_SECOND": f"{rate:g}",
            "SUNSKY_ACCOUNT_CALLS_BURST": str(self.args.burst),
            "TRACKER_SWEEP_SECONDS": f"{self.args.sweep_seconds:g}", "TRACKER_CALLBACK_PORT": "0",
            "KAFKA_SESSION_TIMEOUT_SECONDS": "2", "LOG_LEVEL": "INFO",
            "STATE_DIR": str(self.procs.log_dir / "state"),
        }

    async def scenario(self, rate: float) -> Result:
        key = f"r{rate:g}".replace(".", "_")
        settings = self.base.model_copy(update={
            "database_schema": f"bench_{self.run_id}_{key}",
            "topic_prefix": f"bench{self.run_id}.{key}.",
            "group_prefix": f"bench{self.run_id}{key}"})
        assert settings.database_url is not None
        pool = await create_pool(settings.database_url, settings.database_schema, max_size=2)
        try:
            await migrate(pool, settings.database_schema)
            await ensure_topics(settings)
            return await self._run(settings, pool, rate, key)
        finally:
            with contextlib.suppress(Exception):
                await pool.execute(
                    f"DROP SCHEMA IF EXISTS {quote_ident(settings.database_schema)} CASCADE")
            await pool.close()

    async def _run(self, settings: Settings, pool: asyncpg.Pool, rate: float,
                   key: str) -> Result:
        await self.sandbox.reset(0)
        limit = (2 * rate + self.args.burst) / WINDOW
        await self.sandbox.faults(throttle_per_second=limit, throttle_window_seconds=WINDOW)
        names = [("invoice-listener", "invoice-listener"), ("tracker", "tracker"),
                 *((name, "placer") for name in PLACERS)]
        for name, service in names:
            pid = self.procs.start(f"{key}-{name}", dropship_argv("worker", service),
                                   self.env(settings, rate))
            self.monitor.watch(name, pid)
        try:
            for name, _ in names:
                await self.procs.wait_for(f"{key}-{name}", READY_LINE, timeout=120)
            cpu_before = self.monitor.cpu_seconds()
            sent, probes = await self._publish(settings, rate)
            await wait_placed(pool, list(sent), stall_timeout=self.args.stall_timeout)
            cpu = {k: v - cpu_before.get(k, 0.0) for k, v in self.monitor.cpu_seconds().items()}
        finally:
            self.monitor.sample()
            self.procs.stop(*(f"{key}-{name}" for name, _ in names))
            for name, _ in names:
                self.monitor.forget(name)
        rows = await order_rows(pool, list(sent))
        requests = await self.sandbox.requests()
        return Result(rate, self.args.burst, self.args.orders, sent, probes, rows, requests,
                      cpu, WINDOW)

    async def _publish(self, settings: Settings,
                       rate: float) -> tuple[dict[str, float], set[str]]:
        """The backlog at once, then the probes spread over its ideal drain time (the last
        one before the backlog can have drained)."""
        topic = settings.topic(TOPIC_INVOICE_PAID)
        events = paid_events(100_000, self.args.orders + self.args.probes, self.rng)
        backlog, late = events[:self.args.orders], events[self.args.orders:]
        sent = await publish_burst(self.publisher, topic, backlog)
        ideal = 2 * self.args.orders / rate
        spacing = ideal / (len(late) + 1) if late else 0.0
        for event in late:
            await asyncio.sleep(spacing)
            sent[event.invoice_id] = time.time()
            await self.publisher.publish(topic, event.invoice_id, event.value)
        return sent, {e.invoice_id for e in late}


async def wait_placed(pool: asyncpg.Pool, invoice_ids: list[str], *,
                      stall_timeout: float) -> None:
    """Until every order was placed (the tracker may have moved it on since) or failed, or
    nothing moved for ``stall_timeout`` s (the report shows what is missing)."""
    done, last_progress = 0, time.monotonic()
    while done < len(invoice_ids) and time.monotonic() - last_progress < stall_timeout:
        await asyncio.sleep(0.2)
        now_done = await pool.fetchval(
            "SELECT count(*) FROM orders WHERE invoice_id = ANY($1::text[])"
            " AND (placed_at IS NOT NULL OR status = 'api_failed')", invoice_ids)
        if now_done > done:
            done, last_progress = now_done, time.monotonic()


async def run(args: argparse.Namespace, log_dir: Path) -> list[Result]:
    async with AsyncExitStack() as stack:
        run = await open_stack(stack, log_dir, partitions=args.partitions,
                               client_id="bench-budget")
        bench = Bench(args, run.base, run.procs, run.monitor, run.sandbox, run.publisher)
        return [await bench.scenario(rate) for rate in args.rates]


def main() -> None:
    args = parse_args()
    command = " ".join(["python", "bench/budget.py", *sys.argv[1:]])
    log_dir = Path(tempfile.mkdtemp(prefix="bench-budget-"))
    started, clock, load = datetime.now(UTC), time.monotonic(), os.getloadavg()
    try:
        results = asyncio.run(run(args, log_dir))
        section = render(results, command, started, time.monotonic() - clock, load)
    except BaseException:
        print(f"benchmark failed; process logs kept in {log_dir}", file=sys.stderr)
        raise
    shutil.rmtree(log_dir, ignore_errors=True)
    print(section)
    if not args.no_write:
        write_section(args.doc, section)
        print(f"written to {args.doc}", file=sys.stderr)


if __name__ == "__main__":
    main()
