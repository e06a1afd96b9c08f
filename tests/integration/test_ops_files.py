"""ops/: the Prometheus configuration and alert rules pass promtool, the alert cases in
ops/tests/ pass ``promtool test rules``, the Grafana dashboard and the alerts only name metrics
the services export, and docker-compose gives every service its metrics port and provisions
Prometheus and Grafana with these files (Docker itself is not run here)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from shared.observability import metrics
from tests.fixtures.observability import promtool

pytestmark = [pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[2]
OPS = ROOT / "ops"
APP_COMMANDS = ("worker", "ingest", "admin")
METRIC = re.compile(r"\b(sunsky_dropship_[a-z0-9_]+)")


def run_promtool(*args: str) -> str:
    result = subprocess.run([promtool(), *args], capture_output=True, text=True, timeout=120,
                            cwd=OPS)
    assert result.returncode == 0, f"promtool {' '.join(args)}:\n{result.stdout}{result.stderr}"
    return result.stdout


def test_the_prometheus_configuration_and_its_rules_pass_promtool() -> None:
    assert "SUCCESS" in run_promtool("check", "config", "prometheus/prometheus.yml")
    assert "6 rules found" in run_promtool("check", "rules", "prometheus/alerts.yml")


def test_the_alert_cases_pass() -> None:
    assert "SUCCESS" in run_promtool("test", "rules", "tests/alerts_test.yml")


def test_every_alert_the_issue_asks_for_has_cases() -> None:
    rules = yaml.safe_load((OPS / "prometheus/alerts.yml").read_text())["groups"][0]["rules"]
    names = {r["alert"] for r in rules}
    assert names == {"DropshipConsumerStalled", "DropshipConsumerGroupStalled",
                     "DropshipOrdersStuckInPlacing",
                     "DropshipOutboxParkedRows", "DropshipBalanceBelowWaitingOrders",
                     "DropshipDeadLettersGrowing"}
    cases = yaml.safe_load((OPS / "tests/alerts_test.yml").read_text())["tests"]
    tested = {t["alertname"] for case in cases for t in case["alert_rule_test"]
              if t["exp_alerts"]}
    assert tested == names


def exported_series() -> set[str]:
    names = set()
    for line in metrics.metrics_table_markdown().splitlines()[2:]:
        name, kind = line.split("|")[1].strip(" `"), line.split("|")[2].strip()
        names.add(name)
        if kind == "histogram":
            names |= {name + s for s in ("_bucket", "_sum", "_count")}
    return names


def test_the_dashboard_and_the_alerts_name_only_exported_metrics() -> None:
    dashboard = json.loads((OPS / "grafana/dashboards/sunsky-dropship.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    alerts = (OPS / "prometheus/alerts.yml").read_text()
    used = {m for text in (*exprs, alerts) for m in METRIC.findall(text)}
    assert used and used <= exported_series(), used - exported_series()
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])


def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())  # anchors, merge keys


def test_compose_gives_every_service_a_metrics_port_that_prometheus_scrapes() -> None:
    services = compose()["services"]
    apps = {name for name, s in services.items() if s.get("command", [""])[0] in APP_COMMANDS}
    assert apps == {"invoice-listener", "placer", "retrier", "tracker", "notifier", "ingest",
                    "admin"}
    for name in apps:
        env = services[name]["environment"]
        assert (str(env["METRICS_PORT"]), env["METRICS_HOST"]) == ("9100", "0.0.0.0"), name
    config = yaml.safe_load((OPS / "prometheus/prometheus.yml").read_text())
    (sd,) = config["scrape_configs"][0]["dns_sd_configs"]
    assert set(sd["names"]) == apps and sd["port"] == 9100


def test_compose_provisions_prometheus_and_grafana_from_ops() -> None:
    services = compose()["services"]
    mounts = {s: [v.split(":")[0] for v in services[s]["volumes"] if v.startswith("./")]
              for s in ("prometheus", "grafana")}
    assert mounts == {"prometheus": ["./ops/prometheus"],
                      "grafana": ["./ops/grafana/provisioning", "./ops/grafana/dashboards"]}
    assert all((ROOT / path).is_dir() for paths in mounts.values() for path in paths)
    provider = yaml.safe_load((OPS / "grafana/provisioning/dashboards/dashboards.yml")
                              .read_text())["providers"][0]
    grafana_dashboards = next(v for v in services["grafana"]["volumes"]
                              if v.startswith("./ops/grafana/dashboards:"))
    assert grafana_dashboards.split(":")[1] == provider["options"]["path"]
