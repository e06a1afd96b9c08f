"""Issue 3 benchmark: paid Perfex invoices to placed SUNSKY orders, end to end, in one run.

What one run measures (the machine is shared and noisy, so every ratio comes from one run):

1. **Ceiling**: a bare two-hop Faust chain (``bench/bare_chain.py``, a subprocess) on the same
   broker, raw bytes, no database, no HTTP: messages/s for the same N as the pipeline burst
   (median of ``--bare-rounds`` rounds), and its latency at the paced rate (the floor of two
   Faust hops on this broker).
2. **Pipeline**, once with the sandbox answering at once and once with ``--latency-ms`` added to
   every SUNSKY call. Per scenario: a fresh schema, topic prefix and consumer groups;
   ``dropship worker invoice-listener`` and ``dropship worker placer`` as processes; phases

   * warm-up: a few orders (connections, country table, balance), not scored;
   * burst: N ``invoice.paid`` published at once; orders/s = placed / (last ``placed_at`` -
     publish start); "intake/s" is the same for the listener (last ``created_at``);
   * paced: a fixed offered rate; latency per order = ``placed_at`` - its publish time.

   The sandbox (``dropship sandbox``, its own process) is reset before each phase (stock,
   balance, request log); its request log gives SUNSKY calls per placed order, by path.
3. **Resources**: peak RSS of each worker process (psutil, sampled every 0.25 s) and CPU
   seconds per process per phase; PostgreSQL's CPU is server-wide (all backends).

Results: a Markdown report printed and written into ``docs/BENCHMARKS.md`` under
``## Pipeline (issue 3)`` (other sections are kept). Every process started is stopped at the end
(the broker, the sandbox and the workers); the schemas are dropped.

``--worker-env NAME=VALUE`` runs every Faust process with a setting changed (a what-if, e.g.
Faust's own 1500 ms fetch wait); the report says so.

    python bench/pipeline.py                      # 2-3 minutes with the defaults
    python bench/pipeline.py --orders 500 --rate 20 --no-write
    python bench/pipeline.py --worker-env KAFKA_FETCH_MAX_WAIT_MS=1500 --no-write

Helpers: ``bare_chain.py`` (the ceiling app), ``pipeline_workload.py`` (events, publishing),
``pipeline_harness.py`` (processes, psutil, sandbox, database), ``pipeline_report.py``
(numbers to Markdown), ``pipeline_doc.py`` (the BENCHMARKS.md section).
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
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import bare_chain as bare
import psutil
from pipeline_doc import write_section
from pipeline_harness import (
    READY_LINE,
    Monitor,
    Processes,
    SandboxControl,
    host_busy,
    open_stack,
    order_rows,
    postgres_cpu_seconds,
    postgres_version,
    wait_terminal,
)
from pipeline_report import (
    BareResult,
    PhaseResult,
    RunInfo,
    ScenarioResult,
    render,
    summarize,
)
from pipeline_workload import (
    PhaseSpec,
    ScenarioSpec,
    paid_events,
    publish_burst,
    publish_paced,
    publish_timed,
    scenario_specs,
)

from devtools.supervisor import dropship_argv
from shared.db.migrate import migrate
from shared.db.pool import create_pool, quote_ident
from shared.messaging.publisher import KafkaPublisher
from shared.messaging.topics import ensure_topics
from shared.settings import SANDBOX_API_KEY, SANDBOX_API_SECRET, TOPIC_INVOICE_PAID, Settings

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
SERVICES = ("invoice-listener", "placer")


@dataclass
class Scenario:
    spec: ScenarioSpec
    settings: Settings
    pool: asyncpg.Pool
    next_invoice: int


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--orders", type=int, default=1000, help="burst size at zero latency")
    p.add_argument("--rate", type=float, default=20.0, help="paced rate at zero latency (/s)")
    p.add_argument("--paced-seconds", type=float, default=15.0)
    p.add_argument("--latency-ms", type=int, default=200, help="SUNSKY latency, slow scenario")
    p.add_argument("--slow-orders", type=int, default=100, help="burst size, slow scenario")
    p.add_argument("--slow-rate", type=float, default=2.0, help="paced rate, slow scenario")
    p.add_argument("--slow-seconds", type=float, default=20.0)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--partitions", type=int, default=8)
    p.add_argument("--bare-rounds", type=int, default=3)
    p.add_argument("--bare-paced-seconds", type=float, default=10.0,
                   help="bare-chain latency round at --rate")
    p.add_argument("--stall-timeout", type=float, default=60.0,
                   help="give up a phase when no order ended for this long")
    p.add_argument("--worker-env", type=_key_value, action="append", default=[],
                   metavar="NAME=VALUE", help="extra setting for every Faust process "
                   "(workers and bare chain), e.g. KAFKA_FETCH_MAX_WAIT_MS=1500; repeatable")
    p.add_argument("--seed", type=int, default=3)
    p.add_argument("--doc", type=Path, default=REPO / "docs" / "BENCHMARKS.md")
    p.add_argument("--no-write", action="store_true", help="print only")
    return p.parse_args(argv)


def _key_value(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name.upper(), value


class Bench:
    """One run: the shared broker, sandbox, publisher and monitor, and the scenarios on them."""

    def __init__(self, args: argparse.Namespace, base: Settings, procs: Processes,
                 monitor: Monitor, sandbox: SandboxControl, publisher: KafkaPublisher) -> None:
        self.args, self.base, self.procs, self.monitor = args, base, procs, monitor
        self.sandbox, self.publisher = sandbox, publisher
        self.run_id = secrets.token_hex(3)
        self.rng = random.Random(args.seed)

    def env(self, settings: Settings) -> dict[str, str]:
        """A worker's environment: the e2e tests' settings, this scenario's names."""
        return {
            "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
            "DATABASE_URL": settings.database_url or "",
            "DATABASE_SCHEMA": settings.database_schema,
            "TOPIC_PREFIX": settings.topic_prefix, "GROUP_PREFIX": settings.group_prefix,
            "TOPIC_PARTITIONS": str(settings.topic_partitions),
            "SUNSKY_BASE_URL": self.sandbox.base_url, "SUNSKY_API_KEY": SANDBOX_API_KEY,
            "SUNSKY_API_SECRET": SANDBOX_API_SECRET, "SUNSKY_ACCOUNT_CALLS_PER_SECOND": "0",
            "KAFKA_SESSION_TIMEOUT_SECONDS": "2", "LOG_LEVEL": "INFO",
            "STATE_DIR": str(self.procs.log_dir / "state"), **dict(self.args.worker_env),
        }

    def named(self, key: str) -> Settings:
        return self.base.model_copy(update={
            "database_schema": f"bench_{self.run_id}_{key}",
            "topic_prefix": f"bench{self.run_id}.{key}.",
            "group_prefix": f"bench{self.run_id}{key}"})

    # --- the ceiling ----------------------------------------------------------------------
    async def bare_chain(self) -> BareResult:
        settings = self.named("bare")
        await ensure_topics(settings, (bare.TOPIC_X, bare.TOPIC_Y))
        argv = [sys.executable, str(BENCH_DIR / "bare_chain.py"), "--count", str(self.args.orders)]
        await self._start("bare-chain", argv, settings, watch_as="bare-chain")
        payloads = [e.value for e in paid_events(1, self.args.orders, self.rng)]
        try:
            rates = [await self._bare_round(settings.topic(bare.TOPIC_X), payloads)
                     for _ in range(self.args.bare_rounds)]
            latencies = await self._bare_latencies(settings.topic(bare.TOPIC_X), payloads)
        finally:
            self._stop(("bare-chain", "bare-chain"))
        return BareResult(len(payloads), rates, latencies, self.args.rate,
                          self.monitor.peak_rss.get("bare-chain", 0))

    async def _bare_round(self, topic: str, payloads: list[bytes]) -> float:
        """Messages/s for one burst: publish start to ``hop_b`` counting the last one."""
        mark = len(self.procs.log("bare-chain"))
        start = time.time()
        await self.publisher.publish_many(
            [(topic, str(n), value, []) for n, value in enumerate(payloads)])
        tail = await self.procs.wait_for("bare-chain", bare.DONE_MARK, after=mark)
        done = float(tail.split(bare.DONE_MARK, 1)[1].split()[0])
        return len(payloads) / (done - start)

    async def _bare_latencies(self, topic: str, payloads: list[bytes]) -> list[float]:
        """Publish → ``hop_b`` latency at the pipeline's paced rate (the chain's floor)."""
        count = min(len(payloads), round(self.args.rate * self.args.bare_paced_seconds))
        mark = len(self.procs.log("bare-chain"))
        await publish_timed(self.publisher, topic, payloads[:count], self.args.rate,
                            bare.TIMED_KEY.decode())
        lines = await self.procs.wait_count("bare-chain", bare.LATENCY_MARK, count, after=mark)
        return [float(line.split(bare.LATENCY_MARK, 1)[1].split()[0]) for line in lines]

    # --- the pipeline ---------------------------------------------------------------------
    async def scenario(self, spec: ScenarioSpec) -> ScenarioResult:
        async with self._scenario(spec) as scenario:
            names = [(f"{spec.key}-{s}", s) for s in SERVICES]
            await asyncio.gather(*(
                self._start(name, dropship_argv("worker", s), scenario.settings, watch_as=s)
                for name, s in names))
            try:
                phases = [await self._phase(scenario, p) for p in spec.phases]
            finally:
                self._stop(*names)
        return ScenarioResult(spec.label, spec.latency_ms, phases, dict(self.monitor.peak_rss))

    @contextlib.asynccontextmanager
    async def _scenario(self, spec: ScenarioSpec) -> AsyncIterator[Scenario]:
        settings = self.named(spec.key)
        assert settings.database_url is not None
        pool = await create_pool(settings.database_url, settings.database_schema, max_size=2)
        try:
            await migrate(pool, settings.database_schema)
            await ensure_topics(settings)
            yield Scenario(spec, settings, pool, next_invoice=100_000)
        finally:
            with contextlib.suppress(Exception):
                await pool.execute(
                    f"DROP SCHEMA IF EXISTS {quote_ident(settings.database_schema)} CASCADE")
            await pool.close()

    async def _phase(self, scenario: Scenario, phase: PhaseSpec) -> PhaseResult:
        await self.sandbox.reset(scenario.spec.latency_ms)
        events = paid_events(scenario.next_invoice, phase.count, self.rng)
        scenario.next_invoice += phase.count
        topic = scenario.settings.topic(TOPIC_INVOICE_PAID)
        cpu_before, host_before = self._cpu(), psutil.cpu_times()
        sent = (await publish_burst(self.publisher, topic, events) if phase.rate is None
                else await publish_paced(self.publisher, topic, events, phase.rate))
        await wait_terminal(scenario.pool, list(sent), stall_timeout=self.args.stall_timeout)
        cpu_after, host_after = self._cpu(), psutil.cpu_times()
        rows = await order_rows(scenario.pool, list(sent))
        calls, outcomes = await self.sandbox.request_counts()
        cpu = {k: cpu_after[k] - cpu_before.get(k, 0.0) for k in cpu_after}
        return summarize(scenario.spec.label, phase.name, phase.scored, sent, rows, calls,
                         outcomes, cpu, host_busy(host_before, host_after),
                         scenario.settings.topic_partitions)

    def _cpu(self) -> dict[str, float]:
        used = self.monitor.cpu_seconds()
        used["postgres"] = postgres_cpu_seconds()
        return used

    async def _start(self, name: str, argv: list[str], settings: Settings, *,
                     watch_as: str) -> None:
        """Start process NAME, watched as ``watch_as``; return once its consumer has partitions."""
        self.monitor.watch(watch_as, self.procs.start(name, argv, self.env(settings)))
        await self.procs.wait_for(name, READY_LINE, timeout=90)

    def _stop(self, *names: tuple[str, str]) -> None:
        """Stop (process name, watched-as name) pairs, after a last memory sample."""
        self.monitor.sample()
        self.procs.stop(*(name for name, _ in names))
        for _, watched in names:
            self.monitor.forget(watched)


async def run(args: argparse.Namespace,
              log_dir: Path) -> tuple[BareResult, list[ScenarioResult], str]:
    async with AsyncExitStack() as stack:
        bench = await _setup(stack, args, log_dir)
        ceiling = await bench.bare_chain()
        scenarios = [await bench.scenario(spec) for spec in scenario_specs(args)]
        pg = await postgres_version(bench.base.database_url or "")
    return ceiling, scenarios, pg


async def _setup(stack: AsyncExitStack, args: argparse.Namespace, log_dir: Path) -> Bench:
    """Broker, sandbox, publisher and monitor; each one's stop is pushed on ``stack``."""
    run = await open_stack(stack, log_dir, partitions=args.partitions,
                           client_id="bench-pipeline", watch_broker=True)
    return Bench(args, run.base, run.procs, run.monitor, run.sandbox, run.publisher)


def main() -> None:
    args = parse_args()
    command = " ".join(["python", "bench/pipeline.py", *sys.argv[1:]])
    log_dir = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    started, clock, load = datetime.now(UTC), time.monotonic(), os.getloadavg()
    try:
        ceiling, scenarios, pg = asyncio.run(run(args, log_dir))
    except BaseException:
        print(f"benchmark failed; process logs kept in {log_dir}", file=sys.stderr)
        raise
    shutil.rmtree(log_dir, ignore_errors=True)
    overrides = " ".join(f"{k}={v}" for k, v in args.worker_env) or None
    info = RunInfo(command, started, time.monotonic() - clock, load, pg, args.partitions,
                   overrides)
    section = render(ceiling, scenarios, info)
    print(section)
    if not args.no_write:
        write_section(args.doc, section)
        print(f"written to {args.doc}", file=sys.stderr)


if __name__ == "__main__":
    main()
