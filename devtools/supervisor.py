"""A tiny process supervisor for ``dropship dev`` and the end-to-end tests.

Starts named child processes (``python -m cli.main ...``) with an environment, prefixes
their output with the name, and stops them all together: SIGTERM to every one, then SIGKILL to
those still running after a grace period. ``kill(name)`` sends SIGKILL at once (crash tests).

Children die with the supervisor's process whatever kills it (``devtools.lifeline``): each one
gets a parent-death signal (SIGTERM) armed between fork and exec, ours and others' (``php -S``)
alike, so start them from a thread that lives as long as the supervisor. Output keeps being
drained (into the log file) when the terminal or pipe the supervisor echoes to goes away
(``| tee`` and Ctrl-C), so no child blocks on a full pipe while the supervisor stops them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from devtools.lifeline import preexec_die_with_parent

logger = logging.getLogger(__name__)

STOP_GRACE_SECONDS = 15.0  # a worker stops within WORKER_STOP_SECONDS (12 s) by itself


def dropship_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "cli.main", *args]


def wait_http_ok(url: str, timeout: float, alive: Callable[[], bool] = lambda: True) -> bool:
    """True once ``url`` answers 200 (a child's readiness endpoint); False after ``timeout``
    seconds, or as soon as ``alive()`` says the child died."""
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and alive():
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    return False


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path | None = None
    _pump: threading.Thread | None = field(default=None, repr=False)

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def _pump_alive(self) -> bool:
        return self._pump is not None and self._pump.is_alive()


class Supervisor:
    def __init__(self, env: Mapping[str, str], *, log_dir: Path | None = None,
                 echo: IO[str] | None = None) -> None:
        self._env = {**os.environ, **env}
        self._log_dir, self._echo = log_dir, echo
        self.children: dict[str, Child] = {}

    def start(self, name: str, argv: Sequence[str], env: Mapping[str, str] | None = None) -> Child:
        log_path = self._log_dir / f"{name}.log" if self._log_dir else None
        process = subprocess.Popen(
            list(argv), env={**self._env, **(env or {})}, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=preexec_die_with_parent(signal.SIGTERM))
        child = Child(name, process, log_path)
        child._pump = threading.Thread(target=self._pump, args=(child,), daemon=True)
        child._pump.start()
        self.children[name] = child
        logger.info("started %s (pid %s)", name, process.pid)
        return child

    def _pump(self, child: Child) -> None:
        assert child.process.stdout is not None
        sink = child.log_path.open("ab") if child.log_path else None
        try:
            for line in child.process.stdout:
                if sink:
                    sink.write(line)
                    sink.flush()
                if self._echo:
                    self._say(f"{child.name:>16} | {line.decode('utf-8', 'replace')}")
        finally:
            if sink:
                sink.close()

    def _say(self, text: str) -> None:
        try:
            assert self._echo is not None
            self._echo.write(text)
            self._echo.flush()
        except (OSError, ValueError):  # the terminal or pipe is gone: keep draining the child
            self._echo = None

    def kill(self, name: str) -> None:
        """SIGKILL the child's whole process group at once (a crash, for tests)."""
        child = self.children[name]
        if child.alive:
            os.killpg(child.process.pid, signal.SIGKILL)
            child.process.wait()

    def stop(self, name: str, grace: float = STOP_GRACE_SECONDS) -> None:
        child = self.children[name]
        if child.alive:
            os.killpg(child.process.pid, signal.SIGTERM)
            try:
                child.process.wait(grace)
            except subprocess.TimeoutExpired:
                logger.warning("%s ignored SIGTERM for %.0fs: killing it", name, grace)
                self.kill(name)
        if child._pump:
            child._pump.join(2)
        if child.process.stdout and not child._pump_alive():
            child.process.stdout.close()

    def stop_all(self, grace: float = STOP_GRACE_SECONDS) -> None:
        """SIGTERM to every child at once, then SIGKILL to any still running after ``grace``."""
        running = [c for c in self.children.values() if c.alive]
        for child in running:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for child in running:
            try:
                child.process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                logger.warning("%s ignored SIGTERM for %.0fs: killing it", child.name, grace)
                self.kill(child.name)
        for name in self.children:
            self.stop(name, grace=0)

    def dead(self) -> list[str]:
        return [name for name, child in self.children.items() if not child.alive]
