"""Turning one run of ``bench/pipeline.py`` into Markdown.

``summarize`` reduces a phase's rows to rates and latencies; ``render`` draws the section
(machine, command, results, SUNSKY calls, resources, targets, bounds computed from the run).
``pipeline_doc`` puts it into the file.
"""

from __future__ import annotations

import math
import os
import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg
from aiokafka.partitioner import murmur2
from pipeline_doc import HEADING, machine_line

ONE_TIME_CALLS = ("order!getCountries.do", "order!getBalance.do")
CALL_COLUMNS = ("order!getCountries.do", "order!getBalance.do",
                "order!getPricesAndFreights.do", "order!createOrder.do")
PROCESSES = ("invoice-listener", "placer", "sandbox", "broker", "postgres")
MB = 1024 * 1024


@dataclass(frozen=True)
class BareResult:
    count: int
    rates: list[float]
    latencies_ms: list[float]
    paced_rate: float
    peak_rss: int

    @property
    def rate(self) -> float:
        return statistics.median(self.rates)


@dataclass(frozen=True)
class PhaseResult:
    scenario: str
    phase: str
    scored: bool
    offered: int
    placed: int
    failures: Counter[str]
    e2e_rate: float
    intake_rate: float
    wall_s: float
    latencies_ms: list[float]
    intake_ms: list[float]
    calls: Counter[str]
    outcomes: Counter[str]
    cpu_s: dict[str, float]
    host_busy_pct: float
    busiest_partition: int  # most orders of this phase on one ``order.ready`` partition

    @property
    def missing(self) -> int:
        return self.offered - self.placed - sum(self.failures.values())


@dataclass(frozen=True)
class ScenarioResult:
    label: str
    latency_ms: int
    phases: list[PhaseResult]
    peak_rss: dict[str, int]

    def phase(self, prefix: str) -> PhaseResult:
        return next(p for p in self.phases if p.phase.startswith(prefix))

    def steady_calls_per_order(self) -> float:
        scored = [p for p in self.phases if p.scored]
        calls = sum(n for p in scored for path, n in p.calls.items() if path not in ONE_TIME_CALLS)
        return calls / max(1, sum(p.placed for p in scored))

    def calls_per_order(self) -> Counter[str]:
        placed = max(1, sum(p.placed for p in self.phases))
        total: Counter[str] = sum((p.calls for p in self.phases), Counter())
        return Counter({path: n / placed for path, n in total.items()})


@dataclass(frozen=True)
class RunInfo:
    command: str
    started: datetime
    seconds: float
    load_at_start: tuple[float, float, float]
    postgres: str
    partitions: int
    overrides: str | None = None


def summarize(scenario: str, phase: str, scored: bool, sent: Mapping[str, float],
              rows: Sequence[asyncpg.Record], calls: Counter[str], outcomes: Counter[str],
              cpu_s: dict[str, float], host_busy_pct: float, partitions: int) -> PhaseResult:
    start = min(sent.values())
    placed = [r for r in rows if r["status"] == "placed" and r["placed_at"] is not None]
    last_placed = max((r["placed_at"].timestamp() for r in placed), default=start)
    last_created = max((r["created_at"].timestamp() for r in rows), default=start)
    latencies = [1000 * (r["placed_at"].timestamp() - sent[r["invoice_id"]]) for r in placed]
    intake = [1000 * (r["created_at"].timestamp() - sent[r["invoice_id"]]) for r in rows]
    failures = Counter(str(r["last_error_code"]) for r in rows if r["status"] == "api_failed")
    wall = last_placed - start
    return PhaseResult(scenario, phase, scored, len(sent), len(placed), failures,
                       _rate(len(placed), wall), _rate(len(rows), last_created - start), wall,
                       latencies, intake, calls, outcomes, cpu_s, host_busy_pct,
                       busiest_partition([str(r["id"]) for r in rows], partitions))


def busiest_partition(keys: Sequence[str], partitions: int) -> int:
    """Most keys on one partition under Kafka's default partitioner (murmur2), as the outbox
    relay's producer places ``order.ready`` keyed by order id."""
    counts = Counter((murmur2(k.encode()) & 0x7FFFFFFF) % partitions for k in keys)
    return max(counts.values(), default=0)


def _rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else 0.0


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


# --- rendering ---------------------------------------------------------------------------
def render(bare: BareResult, scenarios: list[ScenarioResult], info: RunInfo) -> str:
    parts = [HEADING, "", *_preamble(info), "", "### Results", "", results_table(bare, scenarios),
             "", *_results_notes(bare), "", "### SUNSKY calls per placed order", "",
             calls_table(scenarios), "", "### Resources", "", resources_table(bare, scenarios),
             "", *_resources_notes(), "", "### Targets", "", targets_table(bare, scenarios), "",
             *observations(scenarios, info.partitions)]
    return "\n".join(parts).rstrip() + "\n"


def _preamble(info: RunInfo) -> list[str]:
    load = ", ".join(f"{v:.2f}" for v in info.load_at_start)
    warning = ([f"**What-if, not the shipped configuration: workers ran with "
                f"{info.overrides}.**", ""] if info.overrides else [])
    return [*warning,
        f"Run {info.started:%Y-%m-%d %H:%M} UTC, {info.seconds:.0f} s in all:", "",
        f"    {info.command}", "",
        f"Machine: {machine_line()}; load average at start {load} (shared, noisy).",
        f"Stack: embedded Tansu broker, PostgreSQL {info.postgres} (local server), "
        "`dropship sandbox`, `dropship worker invoice-listener` and `dropship worker placer` "
        "as separate processes; a fresh schema, topic prefix and consumer groups per scenario; "
        f"TOPIC_PARTITIONS={info.partitions}, SUNSKY_ACCOUNT_CALLS_PER_SECOND=0, "
        "KAFKA_SESSION_TIMEOUT_SECONDS=2, LOG_LEVEL=INFO.",
    ]


def results_table(bare: BareResult, scenarios: list[ScenarioResult]) -> str:
    rows = ["| SUNSKY latency | phase | orders | placed | failed | orders/s end to end "
            "| intake/s (listener) | p50 ms | p99 ms | max ms | p50 ms to created "
            "| host CPU busy |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
            f"| — | bare Faust chain: burst | {bare.count} | — | — | "
            f"**{bare.rate:.0f}** msg/s | — | — | — | — | — | — |",
            _bare_paced_row(bare)]
    for s in scenarios:
        rows += [_phase_row(s.label, p) for p in s.phases]
    return "\n".join(rows)


def _bare_paced_row(bare: BareResult) -> str:
    lat = bare.latencies_ms
    return (f"| — | bare Faust chain: paced {bare.paced_rate:g}/s | {len(lat)} | — | — | — | — "
            f"| {percentile(lat, 50):.0f} | {percentile(lat, 99):.0f} "
            f"| {max(lat, default=math.nan):.0f} | — | — |")


def _phase_row(label: str, p: PhaseResult) -> str:
    lat = p.latencies_ms
    failed = sum(p.failures.values())
    failed_text = f"{failed}" + (f" ({p.missing} missing)" if p.missing else "")
    burst, paced = p.phase == "burst", p.phase.startswith("paced")
    rate = f"**{p.e2e_rate:.1f}**" if burst else "—"
    intake = f"{p.intake_rate:.1f}" if burst else "—"
    p99 = f"{percentile(lat, 99):.0f}"
    return (f"| {label} | {p.phase} | {p.offered} | {p.placed} | {failed_text} | {rate} "
            f"| {intake} | {percentile(lat, 50):.0f} | {f'**{p99}**' if paced else p99} "
            f"| {max(lat, default=math.nan):.0f} | {percentile(p.intake_ms, 50):.0f} "
            f"| {p.host_busy_pct:.0f}% |")


def _results_notes(bare: BareResult) -> list[str]:
    rounds = ", ".join(f"{r:.0f}" for r in bare.rates)
    return [
        f"Bare chain: one process, two agents, the same Faust settings as the services; burst: "
        f"median of {len(bare.rates)} rounds ({rounds} msg/s) of {bare.count} messages; "
        "paced: publish → second agent, the latency floor of two Faust hops on this broker.",
        "Burst: orders/s = placed / (last `placed_at` − publish start); its latencies are "
        "mostly queueing. Paced: latency = `placed_at` − that order's publish time. "
        "Intake/s: orders the listener created / (last `created_at` − publish start); "
        "\"to created\": publish → the listener's transaction (the first hop alone).",
    ]


def calls_table(scenarios: list[ScenarioResult]) -> str:
    names = [c.split("!")[1].removesuffix(".do") for c in CALL_COLUMNS]
    rows = ["| SUNSKY latency | " + " | ".join(names) + " | other | all | steady state |",
            "|---|" + "---:|" * (len(names) + 3)]
    for s in scenarios:
        per = s.calls_per_order()
        other = sum(v for k, v in per.items() if k not in CALL_COLUMNS)
        cells = [f"{per.get(c, 0.0):.3f}" for c in CALL_COLUMNS]
        rows.append(f"| {s.label} | " + " | ".join(cells) +
                    f" | {other:.3f} | {sum(per.values()):.3f} "
                    f"| **{s.steady_calls_per_order():.3f}** |")
    return "\n".join(rows) + (
        "\n\nFrom the sandbox's request log, per placed order over every phase (warm-up "
        "included); steady state leaves out getCountries/getBalance and the warm-up.")


def resources_table(bare: BareResult, scenarios: list[ScenarioResult]) -> str:
    head = "| process | " + " | ".join(
        f"peak RSS {s.label} | CPU ms/order, burst {s.label} | cores busy, burst {s.label}"
        for s in scenarios) + " |"
    rows = [head, "|---|" + "---:|" * (3 * len(scenarios))]
    for name in PROCESSES:
        cells = [_resource_cells(s, name) for s in scenarios]
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    rows.append(f"| bare chain | {bare.peak_rss / MB:.0f} MB | — | — |"
                + " — | — | — |" * (len(scenarios) - 1))
    return "\n".join(rows)


def _resource_cells(s: ScenarioResult, name: str) -> str:
    burst = s.phase("burst")
    cpu = burst.cpu_s.get(name, math.nan)
    rss = s.peak_rss.get(name)
    rss_text = f"{rss / MB:.0f} MB" if rss else "—"
    per_order = 1000 * cpu / max(1, burst.placed)
    cores = cpu / burst.wall_s if burst.wall_s > 0 else math.nan
    return f"{rss_text} | {per_order:.1f} | {cores:.2f}"


def _resources_notes() -> list[str]:
    return ["RSS: psutil, every 0.25 s, the whole scenario. CPU: user+system seconds over the "
            "burst phase divided by orders placed; cores busy = CPU seconds / burst wall time. "
            "postgres is the whole server (every backend, other users of the machine included)."]


def targets_table(bare: BareResult, scenarios: list[ScenarioResult]) -> str:
    zero = scenarios[0]
    burst, paced = zero.phase("burst"), zero.phase("paced")
    share = burst.e2e_rate / bare.rate if bare.rate else 0.0
    p99 = percentile(paced.latencies_ms, 99)
    calls = max(s.steady_calls_per_order() for s in scenarios)
    rss = {n: max(s.peak_rss.get(n, 0) for s in scenarios) for n in ("invoice-listener", "placer")}
    rows = [
        ("≥ 100 orders/s end to end, 0 ms SUNSKY", f"{burst.e2e_rate:.1f} orders/s",
         burst.e2e_rate >= 100),
        ("≥ 25 % of the bare-chain ceiling", f"{100 * share:.1f} % of {bare.rate:.0f} msg/s",
         share >= 0.25),
        (f"p99 < 300 ms at {paced.phase.removeprefix('paced ')}, 0 ms SUNSKY", f"{p99:.0f} ms",
         p99 < 300),
        ("≤ 2 SUNSKY calls per placed order, steady state", f"{calls:.3f} (worst scenario)",
         calls <= 2),
        ("each service < 150 MB RSS",
         ", ".join(f"{n} {v / MB:.0f} MB" for n, v in rss.items()),
         all(v < 150 * MB for v in rss.values())),
    ]
    lines = ["| target | measured | met |", "|---|---|---|"]
    lines += [f"| {t} | {m} | {'yes' if ok else '**no**'} |" for t, m, ok in rows]
    return "\n".join(lines)


def observations(scenarios: list[ScenarioResult], partitions: int) -> list[str]:
    """Bounds computed from this run's own numbers (the hand-written analysis is below)."""
    lines = ["Computed from this run:", ""]
    for s in scenarios:
        burst = s.phase("burst")
        placer = burst.cpu_s.get("placer", 0.0) / burst.wall_s if burst.wall_s else 0.0
        line = (f"- {s.label}: burst {burst.e2e_rate:.1f} orders/s in {burst.wall_s:.1f} s; "
                f"the placer process was busy {placer:.2f} cores")
        extra = _sunsky_bound(s, burst, partitions) if s.latency_ms else _cpu_bound(burst)
        lines.append(f"{line}; {extra}.")
    return lines


def _cpu_bound(burst: PhaseResult) -> str:
    cores = len(os.sched_getaffinity(0))
    ms = sum(burst.cpu_s.values()) / max(1, burst.placed) * 1000
    ours = sum(burst.cpu_s.values()) / burst.wall_s if burst.wall_s else 0.0
    rest = burst.host_busy_pct / 100 * cores - ours
    real = ms - burst.cpu_s.get("sandbox", 0.0) / max(1, burst.placed) * 1000
    return (f"the measured processes used {ms:.1f} CPU ms per order ({ours:.2f} cores), so "
            f"{cores} cores allow at most {cores * 1000 / ms:.0f} orders/s "
            f"({cores * 1000 / real:.0f} without the sandbox, which stands in for SUNSKY); the "
            f"rest of the host (this script, other users) kept {max(0.0, rest):.2f} cores busy")


def _sunsky_bound(s: ScenarioResult, burst: PhaseResult, partitions: int) -> str:
    """SUNSKY time alone: all orders one after another, or the busiest partition's orders one
    after another (one actor per partition); the measured burst lies between the two."""
    per_order = s.steady_calls_per_order() * s.latency_ms / 1000
    return (f"{s.steady_calls_per_order():.2f} SUNSKY calls of {s.latency_ms} ms per order "
            f"take {burst.placed * per_order:.1f} s one order at a time, and "
            f"{burst.busiest_partition * per_order:.1f} s with one actor per partition (the "
            f"busiest of {partitions} partitions got {burst.busiest_partition} of "
            f"{burst.placed} orders)")
