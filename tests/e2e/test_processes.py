"""Stopping and starting like a real program (issue 9, section 3), with real processes.

``dropship broker`` and ``dropship dev`` are started as a person would (in the foreground, piped
through ``tee``, in the background with SIGINT ignored) and stopped by whatever a person's
machine does to them: Ctrl-C, SIGTERM, the terminal closing (SIGHUP), a pipe closing, SIGKILL.
Every process they started must be gone afterwards (``/proc``), and while ``dropship dev`` runs,
admin commands in another terminal talk to its stack.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from devtools.broker import free_port
from tests.fixtures.stack import drop_schema

pytestmark = [pytest.mark.e2e]
REPO = Path(__file__).resolve().parents[2]
GONE_WITHIN = 20.0  # a worker's own stop deadline is 12 s; the supervisor's grace 15 s


def children_of(pid: int) -> set[int]:
    """Every live descendant of ``pid`` (read from /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(entry.name)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {p for p, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return {p for p in found if running(p)}


def running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_all_gone(pids: set[int], what: str) -> None:
    deadline = time.monotonic() + GONE_WITHIN
    while left := {p for p in pids if running(p)}:
        assert time.monotonic() < deadline, f"{what}: still running {left}: " + " / ".join(
            Path(f"/proc/{p}/cmdline").read_text().replace("\0", " ")[:80] for p in left
            if Path(f"/proc/{p}/cmdline").exists())
        time.sleep(0.1)


@dataclass
class Started:
    process: subprocess.Popen[bytes]
    lines: list[str] = field(default_factory=list)
    close_pipe: threading.Event = field(default_factory=threading.Event)
    pipe_closed: threading.Event = field(default_factory=threading.Event)

    def wait_for(self, text: str, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.lines):
            assert self.process.poll() is None, "exited early:\n" + "".join(self.lines[-40:])
            assert time.monotonic() < deadline, f"no {text!r}:\n" + "".join(self.lines[-40:])
            time.sleep(0.1)


def start(argv: list[str], env: dict[str, str], *, ignore_sigint: bool = False) -> Started:
    """A dropship command whose output we read, like a terminal (or ``| tee``) would."""
    def background() -> None:  # what a non-interactive shell does to `command &`
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    process = subprocess.Popen([sys.executable, "-m", "cli.main", *argv], env=env, cwd=REPO,
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT,
                               preexec_fn=background if ignore_sigint else None)
    started = Started(process)

    def read() -> None:
        assert process.stdout is not None
        fd, pending = process.stdout.fileno(), b""
        while not started.close_pipe.is_set():
            if not select.select([fd], [], [], 0.1)[0]:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                return
            *complete, pending = (pending + chunk).split(b"\n")
            started.lines += [line.decode("utf-8", "replace") + "\n" for line in complete]
        process.stdout.close()  # `tee` died: the pipe closes under the writer
        started.pipe_closed.set()

    threading.Thread(target=read, daemon=True).start()
    return started


def base_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {
        "KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL", "DATABASE_SCHEMA", "SUNSKY_BASE_URL",
        "SUNSKY_API_KEY", "SUNSKY_API_SECRET", "TOPIC_PREFIX", "GROUP_PREFIX"}}
    return {**env, "STATE_DIR": str(tmp_path / "state"), "LOG_LEVEL": "INFO"}


Stop = Callable[[Started], None]


def signal_parent(sig: int) -> Stop:
    return lambda started: os.kill(started.process.pid, sig)


def tee_then_ctrl_c(started: Started) -> None:
    started.close_pipe.set()
    assert started.pipe_closed.wait(10)
    os.kill(started.process.pid, signal.SIGINT)


BROKER_STOPS: dict[str, tuple[Stop, bool]] = {  # how it is stopped, started with SIGINT ignored
    "ctrl-c": (signal_parent(signal.SIGINT), False),
    "sigterm": (signal_parent(signal.SIGTERM), False),
    "terminal closed": (signal_parent(signal.SIGHUP), False),
    "tee and ctrl-c": (tee_then_ctrl_c, False),
    "sigkill": (signal_parent(signal.SIGKILL), False),
    "background, sigterm": (signal_parent(signal.SIGTERM), True),
    "background, sigkill": (signal_parent(signal.SIGKILL), True),
}


@pytest.mark.parametrize("how", BROKER_STOPS)
def test_the_broker_binary_dies_with_dropship_broker(how: str, tmp_path: Path) -> None:
    stop, ignore_sigint = BROKER_STOPS[how]
    started = start(["broker", "--port", str(free_port())], base_env(tmp_path),
                    ignore_sigint=ignore_sigint)
    try:
        started.wait_for("listening on")
        tansu = children_of(started.process.pid)
        assert len(tansu) == 1
        stop(started)
        wait_all_gone(tansu | {started.process.pid}, f"dropship broker ({how})")
    finally:
        if started.process.poll() is None:
            started.process.kill()
        started.process.wait(10)


@pytest.fixture
def dev_env(tmp_path: Path, database_url: str) -> Iterator[dict[str, str]]:
    schema = f"dev_{uuid.uuid4().hex[:10]}"
    env = {**base_env(tmp_path), "DATABASE_URL": database_url, "DATABASE_SCHEMA": schema,
           "TRACKER_CALLBACK_PORT": str(free_port()), "KAFKA_SESSION_TIMEOUT_SECONDS": "2",
           # no local Perfex (a MariaDB database a SIGKILLed dev could not drop)
           "SUNSKY_MYSQL_PORT": str(free_port())}
    env.pop("PERFEX_WEBHOOK_URL", None)
    yield env
    import asyncio

    asyncio.run(drop_schema(database_url, schema))


def start_dev(env: dict[str, str], *, ignore_sigint: bool = False,
              until_consuming: bool = False) -> tuple[Started, set[int]]:
    ports = [(flag, str(free_port())) for flag in ("--broker-port", "--sandbox-port",
                                                   "--ingest-port", "--perfex-port",
                                                   "--admin-port")]
    started = start(["dev", *(part for pair in ports for part in pair)], env,
                    ignore_sigint=ignore_sigint)
    started.wait_for("sunsky-dropship is up")
    if until_consuming:
        for service in ("invoice-listener", "placer", "retrier", "tracker"):
            started.wait_for(f"{service} assigned partitions")
    processes = children_of(started.process.pid)
    assert len(processes) >= 8, processes  # broker, sandbox, workers, console, ingest
    return started, processes


def dropship(env: dict[str, str], *args: str) -> str:
    result = subprocess.run([sys.executable, "-m", "cli.main", *args], env=env, cwd=REPO,
                            capture_output=True, text=True, timeout=120,
                            stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr
    return result.stdout


# SIGHUP (a closed terminal) is tests/e2e/test_dev_stack.py's; the closed pipe is the last test's;
# Ctrl-C with tee is the last test's too.
DEV_STOPS: dict[str, tuple[Stop, bool]] = {
    "sigterm": (signal_parent(signal.SIGTERM), False),
    "background, sigkill": (signal_parent(signal.SIGKILL), True),
}


@pytest.mark.parametrize("how", DEV_STOPS)
def test_nothing_dropship_dev_started_outlives_it(how: str, dev_env: dict[str, str]) -> None:
    stop, ignore_sigint = DEV_STOPS[how]
    started, processes = start_dev(dev_env, ignore_sigint=ignore_sigint)
    try:
        stop(started)
        wait_all_gone(processes | {started.process.pid}, f"dropship dev ({how})")
    finally:
        if started.process.poll() is None:
            started.process.kill()
        started.process.wait(30)


def test_a_second_terminal_talks_to_the_dev_stack_and_tee_ctrl_c_stops_it_all(
        dev_env: dict[str, str]) -> None:
    started, processes = start_dev(dev_env, until_consuming=True)
    second = {k: v for k, v in dev_env.items() if k not in {"DATABASE_URL", "DATABASE_SCHEMA"}}
    try:
        # nothing about SUNSKY or the database in this environment: it comes from dev.env
        assert "10000.0000 USD" in dropship(second, "sunsky", "balance")
        assert "0 order(s)" in dropship(second, "orders", "list")
        tee_then_ctrl_c(started)
        wait_all_gone(processes | {started.process.pid}, "dropship dev (tee and ctrl-c)")
    finally:
        if started.process.poll() is None:
            started.process.kill()
        started.process.wait(30)
    assert not (Path(dev_env["STATE_DIR"]) / "dev.env").exists()
