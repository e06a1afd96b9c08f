"""Admin commands facing a down database or broker: one clear line, exit 1, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from devtools.broker import free_port

pytestmark = [pytest.mark.integration]


def dropship(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cli.main", *args], text=True,
                          capture_output=True, env={**os.environ, **env}, timeout=120,
                          stdin=subprocess.DEVNULL)


def test_database_down_is_one_line() -> None:
    result = dropship("orders", "list",
                      DATABASE_URL=f"postgresql://nobody@127.0.0.1:{free_port()}/x")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: DatabaseUnavailable")


def test_broker_down_is_one_line() -> None:
    result = dropship("demo", "publish", "--count", "1",
                      KAFKA_BOOTSTRAP_SERVERS=f"127.0.0.1:{free_port()}", KAFKA_WAIT_SECONDS="2")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [result.stderr.strip().splitlines()[-1]]
    assert result.stderr.strip().startswith("error: BrokerUnavailable")
