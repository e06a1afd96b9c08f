"""``bench/budget.py``'s numbers, to Markdown, and its section of ``docs/BENCHMARKS.md``."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from pipeline_doc import machine_line, replace_section

HEADING = "## Call budget (issue 12)"
ANALYSIS = "### Reading the table"
# The tracker's endpoints. The placers call them only to look an order up after an unknown
# outcome or to read back a thin createOrder echo, neither of which this run provokes.
TRACKING_PATHS = frozenset({"order!getOrderList.do", "order!getOrderDetails.do"})
THROTTLED = "fault:throttle"


@dataclass
class Result:
    rate: float
    burst: int
    orders: int
    sent: dict[str, float]  # invoice id -> publish time (unix)
    probes: set[str]
    rows: list[Any]  # order_rows
    requests: list[dict[str, Any]]
    cpu: dict[str, float]  # CPU seconds per process during the drain
    window: float

    @property
    def placed(self) -> list[Any]:
        return [r for r in self.rows if r["placed_at"] is not None]  # maybe moved on since

    def drain_seconds(self) -> float:
        end = max(r["placed_at"].timestamp() for r in self.placed)
        return end - min(self.sent.values())

    def calls(self) -> Counter[str]:
        return Counter(str(r["path"]) for r in self.requests)

    def placement_calls(self) -> int:
        return sum(n for path, n in self.calls().items() if path not in TRACKING_PATHS)

    def tracking_calls(self) -> int:
        return sum(n for path, n in self.calls().items() if path in TRACKING_PATHS)

    def throttled(self) -> int:
        return sum(1 for r in self.requests if r["outcome"] == THROTTLED)

    def most_in_window(self) -> int:
        times = sorted(datetime.fromisoformat(r["at"]).timestamp() for r in self.requests)
        most, first = 0, 0
        for last, t in enumerate(times):
            while t - times[first] >= self.window:
                first += 1
            most = max(most, last - first + 1)
        return most

    def probe_latencies(self) -> list[float]:
        return sorted(r["placed_at"].timestamp() - self.sent[r["invoice_id"]]
                      for r in self.placed if r["invoice_id"] in self.probes)


def percentile(values: list[float], q: float) -> float:
    """Nearest rank: with few values, p99 is the largest."""
    if not values:
        return math.nan
    return values[min(len(values) - 1, max(0, math.ceil(q / 100 * len(values)) - 1))]


def row(r: Result) -> str:
    placed = len(r.placed)
    per_order = r.placement_calls() / placed
    ideal = placed * per_order / r.rate
    drain = r.drain_seconds()
    probes = r.probe_latencies()
    placer_cpu = sum(v for k, v in r.cpu.items() if k.startswith("placer"))
    cells = [f"{r.rate:g}", f"{placed}/{len(r.rows)}", f"{drain:.0f}", f"{ideal:.0f}",
             f"{100 * ideal / drain:.0f}%", str(r.throttled()),
             f"{r.most_in_window()} (≤ {2 * r.rate + r.burst:g})", f"{per_order:.2f}",
             f"{r.tracking_calls() / placed:.2f}",
             f"{percentile(probes, 50):.0f} / {percentile(probes, 99):.0f} ({len(probes)})",
             f"{1000 * placer_cpu / placed:.0f}"]
    return "| " + " | ".join(cells) + " |"


def render(results: list[Result], command: str, started: datetime, seconds: float,
           load: tuple[float, float, float]) -> str:
    header = ("| R (calls/s) | placed | drain (s) | ideal (s) | budget used | throttled "
              "| most calls in 2 s | placement calls / order | tracker calls / order "
              "| paid→Placed p50 / p99 s (probes) | placer CPU ms / order |")
    lines = [HEADING, "", f"Machine: {machine_line()}. **Shared with other sessions' work "
             f"while it ran** (load average at start {load[0]:.2f}, {load[1]:.2f}, "
             f"{load[2]:.2f}): read the ratios, not the absolute CPU figures.", "",
             f"Command: `{command}` ({started:%Y-%m-%d %H:%M} UTC, {seconds / 60:.1f} min).", "",
             header, "|" + "---|" * (header.count("|") - 1)]
    lines += [row(r) for r in results]
    paths = Counter[str]()
    for r in results:
        paths.update(r.calls())
    lines += ["", "Calls by path, all runs: " + ", ".join(
        f"`{p}` {n}" for p, n in paths.most_common()) + ".", "",
        "Carts of this mix (one or two SKUs of the sandbox's small catalogue) repeat far more "
        "than a shop's, so its quote-cache hits overstate what a shop gets; calls per placed "
        "order on a realistic mix are in "
        "[SUNSKY calls per placed order (issue 12)](#sunsky-calls-per-placed-order-issue-12)."]
    return "\n".join(lines) + "\n"


def write_section(path: Path, section: str) -> None:
    """Replace (or append) ``HEADING`` in ``path``, keeping other sections and our analysis."""
    replace_section(path, HEADING, section, keep=ANALYSIS)

