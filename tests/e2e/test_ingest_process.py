"""``dropship ingest`` as a process: one line and exit 1 without a usable secret, and a clean,
prompt stop on SIGTERM, SIGINT or SIGHUP once it serves."""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from devtools.broker import free_port
from devtools.supervisor import dropship_argv
from shared.settings import Settings

pytestmark = [pytest.mark.e2e]
SECRET = "whsec_" + base64.b64encode(b"ingest-process-test-secret-bytes").decode()


def environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INGEST_")}
    return {**env, "STATE_DIR": str(tmp_path), "LOG_LEVEL": "INFO", **extra}


def test_without_a_usable_secret_the_ingest_refuses_to_start_in_one_line(
        tmp_path: Path) -> None:
    """(An empty one too: tests/unit/test_ingest.py.)"""
    result = subprocess.run(dropship_argv("ingest", "--port", "0"), capture_output=True,
                            text=True, timeout=60, stdin=subprocess.DEVNULL,
                            env=environment(tmp_path, INGEST_SECRET="hunter2"))
    assert result.returncode == 1
    assert result.stderr.startswith("error: INGEST_SECRET:"), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "hunter2" not in result.stderr


# SIGINT takes the same path as SIGTERM (one signal handler for the three)
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
async def test_the_ingest_stops_cleanly_and_promptly_on_a_signal(
        tmp_path: Path, stack_settings: Settings, signum: signal.Signals) -> None:
    port = free_port()
    env = environment(tmp_path, INGEST_SECRET=SECRET,
                      KAFKA_BOOTSTRAP_SERVERS=stack_settings.kafka_bootstrap_servers,
                      DATABASE_URL=stack_settings.database_url or "",
                      DATABASE_SCHEMA=stack_settings.database_schema)
    log = tmp_path / "ingest.log"
    process = await asyncio.create_subprocess_exec(
        *dropship_argv("ingest", "--port", str(port)), env=env, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    output = asyncio.create_task(copy(process, log))
    try:
        await until_live(f"http://127.0.0.1:{port}/livez", process, log)
        process.send_signal(signum)
        started = time.monotonic()
        assert await asyncio.wait_for(process.wait(), 15) == 0, text(log)
        assert time.monotonic() - started < 10
        await output
        assert "ingest stopped" in text(log)
    finally:
        if process.returncode is None:
            process.kill()


async def copy(process: asyncio.subprocess.Process, log: Path) -> None:
    assert process.stdout is not None
    async for line in process.stdout:
        append(log, line)


def append(log: Path, line: bytes) -> None:
    with log.open("ab") as sink:
        sink.write(line)


def text(log: Path) -> str:
    return log.read_text(errors="replace") if log.exists() else ""


async def until_live(url: str, process: asyncio.subprocess.Process, log: Path) -> None:
    deadline = time.monotonic() + 60
    async with httpx.AsyncClient(timeout=2) as client:
        while True:
            assert process.returncode is None, text(log)
            try:
                if (await client.get(url)).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, text(log)
            await asyncio.sleep(0.2)
