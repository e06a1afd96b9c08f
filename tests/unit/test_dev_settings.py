"""``load_settings``: the environment first, then a running ``dropship dev``'s file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from shared.dev_file import DEV_PID_KEY, dev_settings_path
from shared.settings import load_settings


@pytest.fixture
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("STATE_DIR", str(tmp_path))
    for name in ("DATABASE_URL", "SUNSKY_BASE_URL", "KAFKA_BOOTSTRAP_SERVERS"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def write(state_dir: Path, pid: int) -> None:
    dev_settings_path(str(state_dir)).write_text(
        f"{DEV_PID_KEY}={pid}\nDATABASE_URL=postgresql://dev@127.0.0.1:1/dev\n"
        "SUNSKY_BASE_URL=http://127.0.0.1:8765\n")


def test_a_running_dev_stacks_settings_fill_in_what_the_environment_leaves_out(
        state_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(state_dir, os.getpid())
    monkeypatch.setenv("SUNSKY_BASE_URL", "https://open.sunsky-online.com")
    settings = load_settings()
    assert settings.database_url == "postgresql://dev@127.0.0.1:1/dev"
    assert settings.sunsky_base_url == "https://open.sunsky-online.com"  # the environment wins


def test_the_file_of_a_dev_stack_that_is_gone_is_ignored(state_dir: Path) -> None:
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    write(state_dir, int(gone.stdout))
    settings = load_settings()
    assert settings.database_url is None
    assert settings.sunsky_base_url == "https://open.sunsky-online.com"


def test_no_file_no_change(state_dir: Path) -> None:
    assert load_settings().database_url is None
