"""The settings file a running ``dropship dev`` writes (``STATE_DIR/dev.env``), and whether
the process it names still runs: ``shared.settings.load_settings`` reads it only then."""

from __future__ import annotations

import os
from pathlib import Path

DEV_SETTINGS_FILE = "dev.env"
DEV_PID_KEY = "DROPSHIP_DEV_PID"


def dev_settings_path(state_dir: str | None = None) -> Path:
    return Path(state_dir or os.environ.get("STATE_DIR") or ".dropship") / DEV_SETTINGS_FILE


def dev_stack_running(path: Path) -> bool:
    """True when ``path`` exists and the ``dropship dev`` process it names still runs."""
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return False
    pid = next((line.partition("=")[2] for line in lines if line.startswith(DEV_PID_KEY + "=")),
               "")
    if not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
