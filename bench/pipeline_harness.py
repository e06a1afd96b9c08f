"""What ``bench/pipeline.py`` drives and watches: child processes, the sandbox, the database.

* ``Processes``: named children (``Supervisor``) with their output in log files, and waiting
  for a line in a log ("assigned partitions:" means a Faust worker consumes).
* ``Monitor``: resident memory (sampled) and CPU seconds (read at phase edges) of every child,
  through psutil.
* ``SandboxControl``: the sandbox's ``/_sandbox`` controls over HTTP (reset, latency, request
  log); ``start_sandbox`` runs ``dropship sandbox`` as a child on a free port.
* ``open_stack``: the broker, the sandbox, a publisher and the monitor for a benchmark run.
* ``wait_terminal`` / ``order_rows``: polling ``orders`` until each invoice of a phase ended.
* ``host_busy`` / ``postgres_cpu_seconds``: whole-host and whole-PostgreSQL CPU, for context.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
import psutil

from devtools.broker import EmbeddedBroker, free_port
from devtools.postgres import resolve_database_url
from devtools.supervisor import Supervisor, dropship_argv
from shared.messaging.publisher import KafkaPublisher
from shared.settings import Settings

READY_LINE = "assigned partitions:"
TERMINAL = ("placed", "api_failed")


class Processes:
    """Children with logs in ``log_dir``; ``stop_all`` ends each by its process group."""

    def __init__(self, log_dir: Path, env: Mapping[str, str] | None = None) -> None:
        self.log_dir = log_dir
        self.supervisor = Supervisor(env or {}, log_dir=log_dir)

    def start(self, name: str, argv: Sequence[str], env: Mapping[str, str]) -> int:
        return int(self.supervisor.start(name, argv, env).process.pid)

    def log(self, name: str) -> str:
        path = self.log_dir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    async def wait_for(self, name: str, text: str, *, timeout: float = 60,
                       after: int = 0) -> str:
        """Wait until ``text`` appears in NAME's log after character ``after``; the new part."""
        deadline = time.monotonic() + timeout
        while True:
            tail = self.log(name)[after:]
            if text in tail:
                return tail
            child = self.supervisor.children[name]
            if not child.alive:
                raise RuntimeError(f"{name} exited:\n{self.log(name)[-3000:]}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name}: no {text!r} in {timeout:.0f}s:\n{tail[-3000:]}")
            await asyncio.sleep(0.1)

    async def wait_count(self, name: str, text: str, count: int, *, after: int,
                         timeout: float = 60) -> list[str]:
        """Wait for ``count`` lines containing ``text`` after ``after``; those lines."""
        deadline = time.monotonic() + timeout
        while True:
            lines = [ln for ln in self.log(name)[after:].splitlines() if text in ln]
            if len(lines) >= count:
                return lines
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name}: {len(lines)}/{count} {text!r} in {timeout:.0f}s")
            await asyncio.sleep(0.2)

    def stop(self, *names: str) -> None:
        for name in names:
            self.supervisor.stop(name)

    def stop_all(self) -> None:
        self.supervisor.stop_all()


@dataclass
class Monitor:
    """Peak RSS per watched process (sampled every ``interval`` s) and CPU-time snapshots."""

    interval: float = 0.25
    procs: dict[str, psutil.Process] = field(default_factory=dict)
    peak_rss: dict[str, int] = field(default_factory=dict)

    def watch(self, name: str, pid: int) -> None:
        """Follow ``pid`` as NAME from now on (a previous NAME's peak is dropped)."""
        self.procs[name] = psutil.Process(pid)
        self.peak_rss.pop(name, None)

    def forget(self, name: str) -> None:
        self.procs.pop(name, None)

    def sample(self) -> None:
        for name, proc in list(self.procs.items()):
            with contextlib.suppress(psutil.Error):
                rss = sum(p.memory_info().rss for p in _tree(proc))
                self.peak_rss[name] = max(rss, self.peak_rss.get(name, 0))

    def cpu_seconds(self) -> dict[str, float]:
        """User + system CPU seconds each watched process (and its children) used so far."""
        used: dict[str, float] = {}
        for name, proc in self.procs.items():
            with contextlib.suppress(psutil.Error):
                used[name] = sum(sum(p.cpu_times()[:2]) for p in _tree(proc))
        return used

    async def run(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(self.interval)


def _tree(proc: psutil.Process) -> list[psutil.Process]:
    return [proc, *proc.children(recursive=True)]


class SandboxControl:
    """The sandbox's JSON controls (no signature needed)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self._client = httpx.AsyncClient(base_url=base_url, timeout=30)

    async def wait_healthy(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if (await self._client.get("/_sandbox/health")).status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise TimeoutError(f"sandbox at {self.base_url} did not answer")
            await asyncio.sleep(0.1)

    async def reset(self, latency_ms: int) -> None:
        """Fresh stock, balance and request log; then SUNSKY-call latency (reset clears it)."""
        (await self._client.post("/_sandbox/reset")).raise_for_status()
        faults = {"latency_ms": latency_ms}
        (await self._client.post("/_sandbox/faults", json=faults)).raise_for_status()

    async def request_counts(self) -> tuple[Counter[str], Counter[str]]:
        """Protocol requests since the last reset: by path, and by outcome."""
        response = await self._client.get("/_sandbox/requests")
        response.raise_for_status()
        records = response.json()["requests"]
        return (Counter(r["path"] for r in records),
                Counter(str(r["outcome"]) for r in records))

    async def faults(self, **settings: object) -> None:
        (await self._client.post("/_sandbox/faults", json=settings)).raise_for_status()

    async def requests(self) -> list[dict[str, object]]:
        """The request log since the last reset: path, params, at, outcome, messages."""
        response = await self._client.get("/_sandbox/requests")
        response.raise_for_status()
        return list(response.json()["requests"])

    async def aclose(self) -> None:
        await self._client.aclose()


async def terminal_count(pool: asyncpg.Pool, invoice_ids: list[str]) -> int:
    count = await pool.fetchval(
        "SELECT count(*) FROM orders WHERE invoice_id = ANY($1::text[]) AND status = ANY($2)",
        invoice_ids, list(TERMINAL))
    return int(count)


async def wait_terminal(pool: asyncpg.Pool, invoice_ids: list[str], *,
                        stall_timeout: float) -> int:
    """Poll until every invoice's order is placed or API Failed, or nothing moved for
    ``stall_timeout`` s (then return how many ended; the phase reports the rest missing)."""
    done, last_progress = 0, time.monotonic()
    while done < len(invoice_ids):
        await asyncio.sleep(0.2)
        now_done = await terminal_count(pool, invoice_ids)
        if now_done > done:
            done, last_progress = now_done, time.monotonic()
        elif time.monotonic() - last_progress > stall_timeout:
            break
    return done


async def order_rows(pool: asyncpg.Pool, invoice_ids: list[str]) -> list[asyncpg.Record]:
    return list(await pool.fetch(
        "SELECT id, invoice_id, status, created_at, placed_at, last_error_code FROM orders"
        " WHERE invoice_id = ANY($1::text[])", invoice_ids))


async def start_sandbox(procs: Processes, monitor: Monitor) -> SandboxControl:
    port = free_port()
    argv = dropship_argv("sandbox", "--port", str(port), "--balance", "100000000")
    monitor.watch("sandbox", procs.start("sandbox", argv, {}))
    sandbox = SandboxControl(f"http://127.0.0.1:{port}")
    await sandbox.wait_healthy()
    return sandbox


@dataclass
class BenchStack:
    base: Settings  # broker, database and partitions of the run
    procs: Processes
    monitor: Monitor
    sandbox: SandboxControl
    publisher: KafkaPublisher


async def open_stack(stack: AsyncExitStack, log_dir: Path, *, partitions: int, client_id: str,
                     watch_broker: bool = False) -> BenchStack:
    """An embedded broker, the sandbox, a started publisher and the monitor; each one's stop
    is pushed on ``stack``."""
    broker = EmbeddedBroker(port=free_port(), log_path=log_dir / "broker.log")
    stack.callback(broker.stop)
    broker.start()
    procs = Processes(log_dir)
    stack.callback(procs.stop_all)
    monitor = Monitor()
    if watch_broker:
        monitor.watch("broker", broker.pid or 0)
    stack.push_async_callback(cancel, asyncio.create_task(monitor.run()))
    sandbox = await start_sandbox(procs, monitor)
    stack.push_async_callback(sandbox.aclose)
    publisher = KafkaPublisher(broker.bootstrap, client_id=client_id)
    stack.push_async_callback(publisher.stop)
    await publisher.start()
    base = Settings(kafka_bootstrap_servers=broker.bootstrap, topic_partitions=partitions,
                    kafka_session_timeout_seconds=2)
    base = base.model_copy(update={"database_url": await resolve_database_url(base)})
    return BenchStack(base, procs, monitor, sandbox, publisher)


async def cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def postgres_cpu_seconds() -> float:
    """CPU seconds of the whole PostgreSQL server so far: live processes, plus what the
    postmaster's exited children (backends of closed connections) used, so it never drops."""
    procs = [p for p in psutil.process_iter(["name", "ppid"]) if p.info["name"] == "postgres"]
    pids = {p.pid for p in procs}
    total = 0.0
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            times = proc.cpu_times()
            total += times.user + times.system
            if proc.info["ppid"] not in pids:  # the postmaster
                total += times.children_user + times.children_system
    return total


def host_busy(before: psutil._common.scputimes, after: psutil._common.scputimes) -> float:
    """Share of all cores busy between two ``psutil.cpu_times()`` readings (whole host)."""
    spent = {f: getattr(after, f) - getattr(before, f) for f in after._fields}
    total = sum(v for f, v in spent.items() if f not in ("guest", "guest_nice"))
    idle = spent.get("idle", 0.0) + spent.get("iowait", 0.0)
    return 100.0 * (total - idle) / total if total else 0.0


async def postgres_version(url: str) -> str:
    connection = await asyncpg.connect(url)
    try:
        return str(await connection.fetchval("SHOW server_version"))
    finally:
        await connection.close()

