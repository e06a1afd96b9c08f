"""Issue 11 benchmark: signed Perfex events accepted per second by ``dropship ingest``, end to
end (HTTP request -> signature check -> contract validation -> webhook-id recorded in
PostgreSQL -> broker acknowledgement -> 202), and the latency of each request.

What runs: ``dropship ingest`` as its own process (INFO logging, as in production) on the
embedded Tansu broker (or ``KAFKA_BOOTSTRAP_SERVERS``) and PostgreSQL (``DATABASE_URL``, else
the local server, else an embedded one), a fresh schema and topic prefix per run. The client
is this script: one aiohttp session keeping ``--concurrency`` requests in flight, each event a
contract ``invoice.paid`` body (about 2 KB) signed when it is sent, as the module does.

Phases: a warm-up (not counted), the burst of ``--events`` new events, then the same events
again (duplicates: 202 from the ledger, nothing published). Afterwards the broker must hold
exactly one record per event: the run fails otherwise.

    python bench/ingest.py                              # 5,000 events, 32 in flight
    python bench/ingest.py --events 500 --no-write      # a quick check
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import secrets
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline_doc import machine_line, replace_section

from devtools.broker import EmbeddedBroker, free_port
from devtools.perfex_events import encode, invoice_event
from devtools.postgres import resolve_database_url
from devtools.supervisor import Supervisor, dropship_argv
from devtools.topic_marks import records_up_to_now
from shared.db.pool import quote_ident
from shared.messaging.topics import ensure_topics
from shared.settings import INGEST_TOPICS, Settings
from shared.webhooks import parse_keys, signed_headers

DOCS = Path(__file__).resolve().parents[1] / "docs" / "BENCHMARKS.md"
HEADING = "## Ingest (issue 11)"
TARGET = 500.0


@dataclass
class Phase:
    name: str
    events: int
    seconds: float
    latencies_ms: list[float]
    statuses: dict[str, int]
    cpu_ms_per_event: float
    client_cpu_ms_per_event: float
    broker_cpu_ms_per_event: float | None

    @property
    def per_second(self) -> float:
        return self.events / self.seconds

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Client:
    def __init__(self, url: str, secret: str, concurrency: int,
                 broker: psutil.Process | None) -> None:
        self.url, self.keys, self.concurrency = url, parse_keys(secret), concurrency
        self.broker = broker

    async def send_all(self, events: list[tuple[str, bytes]], ingest: psutil.Process,
                       name: str) -> Phase:
        latencies: list[float] = []
        statuses: dict[str, int] = {}
        queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
        for item in events:
            queue.put_nowait(item)
        cpu_before, client_before = sum(ingest.cpu_times()[:2]), time.process_time()
        broker_before = sum(self.broker.cpu_times()[:2]) if self.broker else 0.0
        connector = aiohttp.TCPConnector(limit=self.concurrency)
        async with aiohttp.ClientSession(connector=connector) as session:
            started = time.perf_counter()
            await asyncio.gather(*(self._worker(session, queue, latencies, statuses)
                                   for _ in range(self.concurrency)))
            seconds = time.perf_counter() - started
        per_event = 1000 / len(events)
        cpu = (sum(ingest.cpu_times()[:2]) - cpu_before) * per_event
        client = (time.process_time() - client_before) * per_event
        broker = ((sum(self.broker.cpu_times()[:2]) - broker_before) * per_event
                  if self.broker else None)
        return Phase(name, len(events), seconds, latencies, statuses, cpu, client, broker)

    async def _worker(self, session: aiohttp.ClientSession,
                      queue: asyncio.Queue[tuple[str, bytes]], latencies: list[float],
                      statuses: dict[str, int]) -> None:
        while not queue.empty():
            webhook_id, body = queue.get_nowait()
            headers = {"content-type": "application/json",
                       **signed_headers(self.keys, webhook_id, body, time.time())}
            sent = time.perf_counter()
            async with session.post(self.url, data=body, headers=headers) as answer:
                outcome = (await answer.json()).get("status") or str(answer.status)
            latencies.append((time.perf_counter() - sent) * 1000)
            key = f"{answer.status} {outcome}"
            statuses[key] = statuses.get(key, 0) + 1


def make_events(count: int) -> list[tuple[str, bytes]]:
    base = 1 + secrets.randbelow(2_000_000_000)  # Perfex ids are MySQL INTs (< 2**31)
    return [(str(uuid.uuid4()), encode(invoice_event("invoice.paid", base + n)))
            for n in range(count)]


async def published(settings: Settings) -> int:
    """Read back, not from end offsets (Tansu's can be short: devtools/topic_marks.py)."""
    topics = [settings.topic(t) for t in INGEST_TOPICS]
    return len(await records_up_to_now(settings.kafka_bootstrap_servers, topics,
                                       settings.topic_partitions))


async def wait_listening(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while True:
            try:
                async with session.get(url + "/livez") as answer:
                    if answer.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"the ingest at {url} never answered")
            await asyncio.sleep(0.2)


async def run(args: argparse.Namespace, bootstrap: str, database_url: str,
              broker: psutil.Process | None) -> list[Phase]:
    tag = secrets.token_hex(3)
    settings = Settings(kafka_bootstrap_servers=bootstrap, database_url=database_url,
                        database_schema=f"bench_ingest_{tag}", topic_prefix=f"bi{tag}.",
                        topic_partitions=args.partitions)
    await ensure_topics(settings, INGEST_TOPICS)
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    port = free_port()
    supervisor = Supervisor({
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap, "DATABASE_URL": database_url,
        "DATABASE_SCHEMA": settings.database_schema, "TOPIC_PREFIX": settings.topic_prefix,
        "INGEST_SECRET": secret, "LOG_LEVEL": args.log_level, "STATE_DIR": str(Path(".dropship"))},
        log_dir=Path(".dropship") / "bench-ingest")
    (Path(".dropship") / "bench-ingest").mkdir(parents=True, exist_ok=True)
    child = supervisor.start("ingest", dropship_argv("ingest", "--port", str(port)))
    url = f"http://127.0.0.1:{port}"
    try:
        await wait_listening(url)
        ingest = psutil.Process(child.process.pid)
        client = Client(url + "/v1/events", secret, args.concurrency, broker)
        warmup = await client.send_all(make_events(args.warmup), ingest, "warm-up")
        events = make_events(args.events)
        burst = await client.send_all(events, ingest, "new events")
        again = await client.send_all(events, ingest, "the same again (duplicates)")
        phases = [warmup, burst, again]
        accepted = sum(p.statuses.get("202 accepted", 0) for p in phases)
        on_broker = await published(settings)
        print(f"answers: {[p.statuses for p in phases]}; on the broker: {on_broker}",
              file=sys.stderr)
        if accepted != args.warmup + args.events or on_broker != accepted:
            raise SystemExit(f"{accepted} accepted, {on_broker} records on the broker, "
                             f"expected {args.warmup + args.events} of each")
        return [burst, again]
    finally:
        supervisor.stop_all()
        await drop_schema(database_url, settings.database_schema)


async def drop_schema(database_url: str, schema: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute(f"DROP SCHEMA IF EXISTS {quote_ident(schema)} CASCADE")
    finally:
        await connection.close()


def render(phases: list[Phase], command: str, args: argparse.Namespace, load: str) -> str:
    rows = [f"| {p.name} | {p.events} | **{p.per_second:.0f}** | {p.pct(0.5):.1f} | "
            f"**{p.pct(0.99):.1f}** | {max(p.latencies_ms):.1f} | {p.cpu_ms_per_event:.2f} | "
            f"{p.client_cpu_ms_per_event:.2f} | "
            + ("—" if p.broker_cpu_ms_per_event is None else f"{p.broker_cpu_ms_per_event:.2f}")
            + " | " + ", ".join(f"{n} {k}" for k, n in sorted(p.statuses.items())) + " |"
            for p in phases]
    burst = phases[0]
    met = "yes" if burst.per_second >= TARGET else "**no**"
    return "\n".join([
        HEADING, "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC:", "", f"    {command}", "",
        f"Machine: {machine_line()}; load average at start {load} (shared, noisy).",
        f"Stack: `dropship ingest` as its own process (LOG_LEVEL={args.log_level}), "
        f"{args.stack}; "
        f"TOPIC_PARTITIONS={args.partitions}; client: this script, aiohttp, "
        f"{args.concurrency} requests in flight, contract invoice.paid bodies of about "
        f"{len(encode(invoice_event('invoice.paid', 1)))} bytes, each signed when sent; "
        f"warm-up {args.warmup} events not counted.", "",
        "| phase | events | accepted/s | p50 ms | p99 ms | max ms | CPU ms/event: ingest | "
        "client | broker | answers |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        *rows, "",
        "Accepted/s = events / wall time of the phase, every request answered 202 after the "
        "broker's acknowledgement (new events) or from the ledger (duplicates: nothing "
        "published). Latency: request sent -> answer read, at the client. CPU: user + system "
        "seconds of each process over the phase (PostgreSQL, a shared server, not counted). "
        "After the run the broker held exactly one record per event, read back.", "",
        f"Target: at least {TARGET:.0f} new events/s: {burst.per_second:.0f}/s, met: {met}.", "",
        "### What bounds it", "",
        "Profiled with cProfile (issue 11): the time per event followed the number of socket "
        "sends, each about 0.4 ms of wall time here (the system call plus waiting for a core "
        "on a loaded two-core VM). One transaction per event took 5.4 sends per event (BEGIN, "
        "INSERT, COMMIT, the pool's reset, the answer) and 2.7 ms of ingest CPU: 182 events/s. "
        "Concurrent events now share one ledger transaction and publish together "
        "(`services/ingest/batching.py`): about 1.9 sends and 1.1-1.5 ms of ingest CPU per "
        "event, of which pydantic's contract validation is about 0.3 ms and the INFO line per "
        "event 0.1-0.2 ms. The client, the broker and PostgreSQL share the two cores with "
        "whatever else runs: short checks (`--events 1000`) during issue 11 ranged from 370 to "
        "689 events/s at load averages of 1 to 4, at a steady CPU cost per event. Compare "
        "runs by the CPU ms per event; the rate needs a quiet machine.", "",
    ])


def write_section(markdown: str) -> None:
    """Replace only this section of docs/BENCHMARKS.md."""
    replace_section(DOCS, HEADING, markdown)


async def main(args: argparse.Namespace) -> None:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    broker = None
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if not bootstrap:
        broker = EmbeddedBroker(port=free_port())
        broker.start()
        bootstrap = broker.bootstrap
    database_url = await resolve_database_url(Settings(database_url=args.database_url))
    args.stack = (f"{'embedded Tansu broker' if broker else 'broker ' + bootstrap}, "
                  f"PostgreSQL {database_url.rsplit('@', 1)[-1]}")
    try:
        phases = await run(args, bootstrap, database_url,
                           psutil.Process(broker.pid) if broker and broker.pid else None)
    finally:
        if broker:
            broker.stop()
    command = "python bench/ingest.py" + "".join(f" {a}" for a in sys.argv[1:])
    markdown = render(phases, command, args, load)
    print(markdown)
    if args.write:
        write_section(markdown)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument("--log-level", default="INFO",
                        help="the ingest's LOG_LEVEL (INFO: a line per accepted event)")
    parser.add_argument("--database-url", default=None, help="default: DATABASE_URL, else local")
    parser.add_argument("--write", action=argparse.BooleanOptionalAction, default=True,
                        help="write the section into docs/BENCHMARKS.md")
    asyncio.run(main(parser.parse_args()))
