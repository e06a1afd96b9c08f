"""Turning ``bench/tracking.py`` results into the ``## Tracking (issue 5)`` section of
docs/BENCHMARKS.md (only that section is replaced; the file is created when absent)."""

from __future__ import annotations

import argparse
import os
import platform
import statistics
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipeline_doc import replace_section

HEADING = "## Tracking (issue 5)"
DOCS = Path(__file__).resolve().parents[1] / "docs" / "BENCHMARKS.md"
WAVE_HOUR = 10  # the daily warehouse hand-over, UTC
POLL_BASELINE = 10 * 24 * 2  # every 30 minutes for 10 days


def machine() -> str:
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines()
                  if line.startswith("model name")), platform.processor() or "unknown")
    meminfo = Path("/proc/meminfo").read_text() if Path("/proc/meminfo").exists() else ""
    kb = next((int(line.split()[1]) for line in meminfo.splitlines()
               if line.startswith("MemTotal")), 0)
    return f"{os.cpu_count()} CPUs (nproc), {model}, {kb / 1024 / 1024:.1f} GiB RAM"


def render(results: list[Any], command: str, args: argparse.Namespace) -> str:
    rows = [_row(r) for r in results]
    callback_ms = [ms for r in results for ms in r.callback_ms]
    lines = [
        HEADING, "",
        f"Machine: {machine()}. Command: `{command}`. Date: {datetime.now(UTC):%Y-%m-%d %H:%M} "
        "UTC. One run.", "",
        f"{args.orders} orders created over {args.days:g} days, shipped 0.5-2 days later (in the "
        f"next {WAVE_HOUR}:00 UTC wave where noted), delivered 5-9 days after shipping; every "
        "order ends Delivered. Tracking calls = getOrderDetails + getOrderList pages, per "
        f"delivered order. Polling each order every 30 minutes over a 10-day delivery costs "
        f"**{POLL_BASELINE} calls/order**.", "",
        "| scenario | sweep every | calls/order | list pages | details | shipped delay "
        "median / max | delivered delay median / max |",
        "|---|---|---|---|---|---|---|", *rows, "",
    ]
    if callback_ms:
        lines.append(f"Callbacks, wall clock from the sandbox's POST to its HTTP 200 (the callback "
                     f"queued): median {statistics.median(callback_ms):.0f} ms, max "
                     f"{max(callback_ms):.0f} ms. Verification then waits for the batch window "
                     "(`TRACKER_CALLBACK_BATCH_SECONDS`, default 3 h, at most the sweep "
                     "interval) on the simulated clock: the shipped delay column.")
    return "\n".join([*lines, "", *READING]) + "\n"


READING = (
    "### Reading the table",
    "",
    "- Issue 12: the sweep reads by status where SUNSKY honours the list's `status` filter "
    "(the sandbox does): Shipped for the orders SUNSKY had not shipped, Delivered and Cancelled "
    "for all, so its pages no longer carry the open orders that did not move nor (beyond the "
    "Delivered list) orders already final. `TRACKER_STATUS_FILTER=false` reads every status as "
    "issue 5 did (the second table). A page that lists another status than it "
    "asked makes the tracker read every status for 24 h (tests/integration/"
    "test_tracker_statuses_http.py).",
    "- Callbacks wait in a batch window of 3 h (never longer than the sweep interval) so lone "
    "ones share a list page: shipments spread evenly cost 0.12 calls per order instead of 1.04 "
    "(issue 5's 0.05 s window: one getOrderDetails each), Shipped up to 3 h late.",
    "- SUNSKY sends no callback when an order is delivered, so the Delivered delay is the "
    "sweep interval (median about half of it) with or without callbacks.",
    "- Target (issue 12): at most 0.2 calls per delivered order with Delivered at most one "
    "sweep interval late. Met with a 72 h sweep (callbacks on); not at 12 h and 8 h sweeps. "
    "Why: every sweep must still list every order that may have been delivered since the "
    "last one, at least a page per status asked and per 100 such orders; at 100 orders a day "
    "a 12 h sweep costs about 5 pages (Shipped ~2, Delivered ~2, Cancelled 1 mostly empty), "
    "over 42 sweeps for 1,000 orders: 0.22. The floor falls with volume per sweep "
    "(fixed per-page costs) and with fewer sweeps, not with the filter alone.",
)


def _row(r: Any) -> str:
    def span(values: list[float]) -> str:
        if not values:
            return "-"
        return f"{statistics.median(values):.1f} h / {max(values):.1f} h"

    return (f"| {r.scenario.name} | {r.scenario.sweep_hours:g} h | **{r.per_order:.3f}** | "
            f"{r.list_pages} | {r.details} | {span(r.ship_delays_h)} | "
            f"{span(r.deliver_delays_h)} |")


def write_section(markdown: str, heading: str = HEADING) -> None:
    """Replace only this section of docs/BENCHMARKS.md (create the file when absent)."""
    replace_section(DOCS, heading, markdown)
