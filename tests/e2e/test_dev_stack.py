"""``dropship dev`` as a user runs it (on free ports, the session's broker and database): it
starts the Perfex connector and says where it is, its ingest takes a signed event, and SIGHUP
(a closed terminal) stops it with every process it started."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from devtools.broker import free_port
from devtools.perfex_events import encode, invoice_event
from devtools.supervisor import dropship_argv
from shared.settings import Settings
from shared.webhooks import parse_keys, signed_headers
from tests.fixtures.stack import drop_schema

pytestmark = [pytest.mark.e2e]
HARNESS = Path(__file__).resolve().parents[2] / "tests" / "php" / "bin" / "perfex_harness.php"
BANNER_END = "Ctrl-C stops everything."


def mariadb_answers() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 3306), timeout=2).close()
        return True
    except OSError:
        return False


class Output:
    """The dev process's output, read by a task, searchable while it runs."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.text = ""
        self._task = asyncio.create_task(self._read(process))

    async def _read(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        async for line in process.stdout:
            self.text += line.decode("utf-8", "replace")

    async def until(self, needle: str, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while needle not in self.text:
            assert time.monotonic() < deadline, f"no {needle!r} in:\n{self.text[-4000:]}"
            await asyncio.sleep(0.2)


def drop_mariadb(database: str) -> None:
    php = shutil.which("php")
    if php:
        subprocess.run([php, str(HARNESS), "--db", database, "drop"], capture_output=True,
                       timeout=60, check=False)


def started(text: str) -> list[int]:
    """The pids of the processes dev says it started (each leads its own process group)."""
    return [int(pid) for pid in re.findall(r"started \S+ \(pid (\d+)\)", text)]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_dev_starts_the_connector_and_sighup_stops_everything(
        stack_settings: Settings, tmp_path: Path) -> None:
    ingest_port, perfex_port, admin_port = free_port(), free_port(), free_port()
    schema = f"{stack_settings.database_schema}_dev"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PERFEX_WEBHOOK", "INGEST_", "SUNSKY_BASE_URL"))}
    env.update(KAFKA_BOOTSTRAP_SERVERS=stack_settings.kafka_bootstrap_servers,
               DATABASE_URL=stack_settings.database_url or "", DATABASE_SCHEMA=schema,
               TOPIC_PREFIX=f"{stack_settings.topic_prefix}dev.",
               GROUP_PREFIX=f"{stack_settings.group_prefix}dev", STATE_DIR=str(tmp_path),
               TRACKER_CALLBACK_PORT=str(free_port()), TOPIC_PARTITIONS="1",
               KAFKA_SESSION_TIMEOUT_SECONDS="2")
    argv = dropship_argv("dev", "--sandbox-port", str(free_port()), "--ingest-port",
                         str(ingest_port), "--perfex-port", str(perfex_port),
                         "--admin-port", str(admin_port), "--auto-advance", "0")
    process = await asyncio.create_subprocess_exec(
        *argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, start_new_session=True)
    output = Output(process)
    try:
        await output.until(BANNER_END)
        assert f"ingest      http://127.0.0.1:{ingest_port}/v1/events" in output.text
        if shutil.which("php") and mariadb_answers():
            assert (f"notifier    -> http://127.0.0.1:{perfex_port}/sunsky_dropship/webhook"
                    in output.text)
        else:
            assert "notifier: not started: " in output.text
        secret = re.search(r"^INGEST_SECRET=(\S+)$", (tmp_path / "dev.env").read_text(), re.M)
        assert secret, "dev.env has no INGEST_SECRET"
        assert await accepted(f"http://127.0.0.1:{ingest_port}/v1/events", secret.group(1))
        # what a new user does next: open the console the banner names, log in as it says
        console = re.search(r"console +(http://\S+/) +\(log in as (\S+) / (\S+)\)", output.text)
        assert console and console.group(1) == f"http://127.0.0.1:{admin_port}/", output.text
        assert await logs_in(*console.groups())
        metrics = dict(re.findall(r"^ {4}(\S+) +http://127\.0\.0\.1:(\d+)/metrics$",
                                  output.text, re.M))
        assert {"invoice-listener", "placer", "retrier", "tracker", "ingest"} <= set(metrics)
        assert len(set(metrics.values())) == len(metrics), metrics  # one port each
        assert await answers(f"http://127.0.0.1:{metrics['placer']}/livez")
        children = started(output.text)
        assert len(children) >= 6, output.text

        os.kill(process.pid, signal.SIGHUP)
        await asyncio.wait_for(process.wait(), 90)
        assert [pid for pid in children if alive(pid)] == [], "dev left processes behind"
        await output.until("stopped", timeout=5)
        assert not (tmp_path / "dev.env").exists()
    finally:  # never leave a process behind, even when the test failed
        for pid in [process.pid, *started(output.text)]:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
        for database in re.findall(r"MariaDB database (sunsky_dev_[0-9a-f]+)", output.text):
            drop_mariadb(database)  # what dev drops itself when it stops cleanly
        assert stack_settings.database_url is not None
        await drop_schema(stack_settings.database_url, schema)


async def logs_in(console: str, name: str, password: str) -> bool:
    """The login form, then the Orders page with the session it gave."""
    async with httpx.AsyncClient(base_url=console, timeout=10) as client:
        form = await client.get("/login")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert form.status_code == 200 and csrf, form.text
        answer = await client.post("/login", data={"name": name, "password": password,
                                                   "csrf_token": csrf.group(1),
                                                   "next": "/orders"})
        assert answer.status_code == 303, answer.text
        orders = await client.get("/orders")
        return orders.status_code == 200 and "Orders" in orders.text


async def answers(url: str, timeout: float = 60) -> bool:
    """``url`` answers 200, once its process listens."""
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=10) as client:
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.TransportError):
                if (await client.get(url)).status_code == 200:
                    return True
            await asyncio.sleep(0.3)
    return False


async def accepted(url: str, secret: str, timeout: float = 60) -> bool:
    """A signed event answered 202, once the ingest listens."""
    body = encode(invoice_event("invoice.created", "9001"))
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=10) as client:
        while time.monotonic() < deadline:
            headers = signed_headers(parse_keys(secret), "dev-e2e-1", body, time.time())
            try:
                answer = await client.post(url, content=body, headers=headers)
                return answer.status_code == 202
            except httpx.TransportError:
                await asyncio.sleep(0.3)
    return False
