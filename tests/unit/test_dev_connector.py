"""``dropship dev``'s Perfex connector: which processes start, with what, and the line that
says why the notifier is off (a recording supervisor; nothing is started for real)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from devtools import perfex_dev
from devtools.dev_connector import start_connector

SECRET = "whsec_c3Vuc2t5LWRyb3BzaGlwLXNoYXJlZC12ZWN0b3Ita2V5"


class RecordingSupervisor:
    def __init__(self) -> None:
        self.started: dict[str, tuple[list[str], dict[str, str]]] = {}

    def start(self, name: str, argv: Sequence[str], env: Mapping[str, str] | None = None) -> Any:
        self.started[name] = (list(argv), dict(env or {}))


@pytest.fixture
def supervisor(monkeypatch: pytest.MonkeyPatch) -> RecordingSupervisor:
    for name in ("INGEST_SECRET", "PERFEX_WEBHOOK_URL", "PERFEX_WEBHOOK_SECRET"):
        monkeypatch.delenv(name, raising=False)
    return RecordingSupervisor()


def test_the_ingest_always_starts_with_a_fresh_secret(supervisor: RecordingSupervisor,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(perfex_dev, "start", lambda *a: "php is not installed")
    env: dict[str, str] = {}
    connector = start_connector(supervisor, env, 18790, 18791)  # type: ignore[arg-type]

    argv, ingest_env = supervisor.started["ingest"]
    assert argv[-3:] == ["ingest", "--port", "18790"]
    secret = ingest_env["INGEST_SECRET"]
    assert secret.startswith("whsec_") and len(secret) > 40
    assert connector.ingest_url == "http://127.0.0.1:18790"


def test_without_php_or_a_url_the_notifier_is_off_with_one_line(
        supervisor: RecordingSupervisor, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(perfex_dev, "start", lambda *a: perfex_dev.why_not(None))
    connector = start_connector(supervisor, {}, 1, 2)  # type: ignore[arg-type]

    assert "notifier" not in supervisor.started
    assert capsys.readouterr().out == (
        "notifier: not started: php is not installed (apt-get install php-cli php-curl "
        "php-mysql), and PERFEX_WEBHOOK_URL is not set\n")
    assert connector.notifier_line.startswith("off: php is not installed")


def test_a_local_perfex_gets_the_notifier(supervisor: RecordingSupervisor,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    local = perfex_dev.LocalPerfex("php", "sunsky_dev_x", "http://127.0.0.1:2/sunsky_dropship/"
                                   "webhook", SECRET)
    monkeypatch.setattr(perfex_dev, "start", lambda *a: local)
    connector = start_connector(supervisor, {}, 1, 2)  # type: ignore[arg-type]

    _, env = supervisor.started["notifier"]
    assert (env["PERFEX_WEBHOOK_URL"], env["PERFEX_WEBHOOK_SECRET"]) == (local.webhook_url,
                                                                         SECRET)
    assert connector.perfex == local and "sunsky_dev_x" in connector.notifier_line


def test_a_configured_perfex_wins_and_a_missing_secret_says_so(
        supervisor: RecordingSupervisor, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(perfex_dev, "start", lambda *a: pytest.fail("no local Perfex wanted"))
    monkeypatch.setenv("PERFEX_WEBHOOK_URL", "https://u:pw@crm.example.com/sunsky_dropship/webhook")

    off = start_connector(supervisor, {}, 1, 2)  # type: ignore[arg-type]
    assert "notifier" not in supervisor.started
    assert off.notifier_line.startswith("off: PERFEX_WEBHOOK_SECRET")

    monkeypatch.setenv("PERFEX_WEBHOOK_SECRET", SECRET)
    on = start_connector(supervisor, {}, 1, 2)  # type: ignore[arg-type]
    assert "notifier" in supervisor.started
    assert on.notifier_line == ("-> https://u:***@crm.example.com/sunsky_dropship/webhook "
                                "(PERFEX_WEBHOOK_URL)")
