"""A local stand-in Perfex for ``dropship dev``: the module's webhook under ``php -S``.

When ``php`` is installed and MariaDB answers (``SUNSKY_MYSQL_*``, default 127.0.0.1:3306), the
module is installed into a fresh MariaDB database ``sunsky_dev_<random>`` with the PHP harness
(tests/php/bin/perfex_harness.php), configured to send to the dev ingest, and its webhook
router (tests/php/bin/webhook_router.php) is served with ``php -S``: the notifier posts there,
and ``perfex_harness.php ... dump`` shows the order mirror, notes and e-mails. The database is
dropped when ``dropship dev`` stops. Otherwise ``start`` says why there is none, in one line.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from devtools.supervisor import Supervisor

ROOT = Path(__file__).resolve().parents[1]
HARNESS = ROOT / "tests" / "php" / "bin" / "perfex_harness.php"
ROUTER = ROOT / "tests" / "php" / "bin" / "webhook_router.php"
WEBHOOK_PATH = "/sunsky_dropship/webhook"


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


@dataclass(frozen=True)
class LocalPerfex:
    php: str
    database: str
    webhook_url: str
    webhook_secret: str

    def harness_command(self, *args: str) -> str:
        return " ".join(["php", str(HARNESS.relative_to(ROOT)), "--db", self.database, *args])

    def drop(self) -> None:
        _harness(self.php, self.database, "drop", check=False)


def why_not(php: str | None) -> str | None:
    """None when a local Perfex can run here, else the reason."""
    if php is None:
        return ("php is not installed (apt-get install php-cli php-curl php-mysql), and "
                "PERFEX_WEBHOOK_URL is not set")
    if not HARNESS.exists():
        return f"{HARNESS.relative_to(ROOT)} is missing (run dropship dev from the repository)"
    host = os.environ.get("SUNSKY_MYSQL_HOST", "127.0.0.1")
    port = int(os.environ.get("SUNSKY_MYSQL_PORT", "3306"))
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError:
        return (f"MariaDB does not answer on {host}:{port} (the module's database; "
                "SUNSKY_MYSQL_HOST/PORT), and PERFEX_WEBHOOK_URL is not set")
    return None


def start(supervisor: Supervisor, port: int, ingest_url: str,
          ingest_secret: str) -> LocalPerfex | str:
    """The module installed and its webhook served on ``port``; or why not (a line)."""
    php = shutil.which("php")
    reason = why_not(php)
    if reason is not None or php is None:
        return reason or "no php"
    perfex = LocalPerfex(php, f"sunsky_dev_{secrets.token_hex(4)}",
                         f"http://127.0.0.1:{port}{WEBHOOK_PATH}", new_secret())
    try:
        _harness(php, perfex.database, "install")
        for name, value in (("ingest_url", ingest_url), ("signing_secret", ingest_secret),
                            ("webhook_secret", perfex.webhook_secret)):
            _harness(php, perfex.database, "set-option", f"sunsky_dropship_{name}", value)
    except (OSError, subprocess.SubprocessError, RuntimeError) as exc:
        perfex.drop()
        return f"installing the module into MariaDB failed: {exc}"
    supervisor.start("perfex", [php, "-S", f"127.0.0.1:{port}", str(ROUTER)],
                     {"SUNSKY_DB": perfex.database})
    if not _healthy(f"http://127.0.0.1:{port}/health"):
        supervisor.stop("perfex")
        perfex.drop()
        return f"php -S on 127.0.0.1:{port} did not come up (see its log)"
    return perfex


def _harness(php: str, database: str, *args: str, check: bool = True) -> object:
    result = subprocess.run([php, str(HARNESS), "--db", database, *args], capture_output=True,
                            text=True, timeout=60, stdin=subprocess.DEVNULL)
    if check and result.returncode != 0:
        raise RuntimeError(result.stderr.strip().splitlines()[-1] if result.stderr else
                           f"{args[0]} exited {result.returncode}")
    return json.loads(result.stdout) if result.returncode == 0 else None


def _healthy(url: str, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as answer:
                if answer.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.2)
    return False
