"""Issue 9 benchmark: SUNSKY calls one look-up by siteNumber costs, at N SUNSKY orders a day.

What runs: the real ``SunskyClient.find_order_by_site_number`` against the SUNSKY sandbox over
real loopback HTTP (no PostgreSQL, no broker). The sandbox holds ``--per-day`` orders a day of
other shops' traffic over ``--days`` days (seeded straight into its state), plus ours, created a
second after the attempt started. The wall clock is fixed at ``--at`` (UTC) for both, because the
window SUNSKY is asked for is whole days and so its size depends on the time of day (13:59 UTC
is about the worst: the padded window then spans yesterday and today).

Each row is one look-up, for an order SUNSKY holds ("found") or one it does not ("none", what
precedes placing again), with SUNSKY's list as third parties report it (filters by siteNumber,
entries carry it) and as it may really be (sandbox faults ``list_ignores_site_number``,
``list_omits_site_number``). "Before issue 9" is what the previous look-up spent on the same
data: its window was the attempt's start - 1 day to now + 1 day in dates, and it read the
details of every entry without a siteNumber.

    python bench/lookup.py                    # 500 orders a day, 3 days: ~1 minute
    python bench/lookup.py --per-day 50 --no-write
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tracking_report import machine, write_section

from sandbox import SandboxConfig, running_sandbox
from sandbox.core import SANDBOX
from sandbox.params import parse_order_request
from sandbox.state import SandboxState
from shared.settings import SANDBOX_API_KEY, SANDBOX_API_SECRET, Settings
from shared.sunsky.client import GET_ORDER_DETAILS, GET_ORDER_LIST, SunskyClient
from shared.sunsky.lookup import SunskyLookupBudgetError

HEADING = "## Look-up by siteNumber (issue 9)"
OURS = "DS900001-INV900001"
LISTS = (("filters by siteNumber, entries carry it", False, False),
         ("filters by siteNumber, entries lack it", False, True),
         ("ignores the filter, entries carry it", True, False),
         ("ignores the filter, entries lack it", True, True))


@dataclass(frozen=True)
class Row:
    sunsky_list: str
    finds: str
    calls: int
    pages: int
    details: int
    capped: str
    before: int


def _params(site_number: str) -> dict[str, str]:
    return {"items.1.itemNo": "S-CAB-0042", "items.1.qty": "1", "siteNumber": site_number,
            "deliveryAddress.countryId": "41", "deliveryAddress.state": "IL",
            "deliveryAddress.city": "Chicago", "deliveryAddress.address": "1 Bench St",
            "deliveryAddress.postcode": "60601", "deliveryAddress.receiver": "Bench",
            "deliveryAddress.telephone": "3125550100", "deliveryAddress.shippingWayId": "25",
            "useBalanceOnly": "false"}


def seed(state: SandboxState, now: datetime, per_day: int, days: int, started: datetime) -> None:
    """Other shops' orders, evenly spread, then ours a second after the attempt started."""
    state.stock = {k: 10**9 for k in state.stock}  # other shops' orders never run out
    step = timedelta(days=1) / per_day
    for i in range(per_day * days, 0, -1):
        request = parse_order_request(_params(f"OTHER-{i}"))
        state.create_order(SANDBOX_API_KEY, request, now - i * step)
    request = parse_order_request(_params(OURS))
    state.create_order(SANDBOX_API_KEY, request, started + timedelta(seconds=1))


async def look_up(client: SunskyClient, site_number: str, started: datetime,
                  max_calls: int | None) -> tuple[str, int, int]:
    before = dict(client.calls)
    try:
        found = await client.find_order_by_site_number(site_number, not_before=started,
                                                       max_calls=max_calls)
        outcome = "found" if found else "none"
    except SunskyLookupBudgetError:
        outcome = "LOOKUP_BUDGET_EXCEEDED"
    pages = client.calls[GET_ORDER_LIST] - before.get(GET_ORDER_LIST, 0)
    details = client.calls[GET_ORDER_DETAILS] - before.get(GET_ORDER_DETAILS, 0)
    return outcome, pages, details


def before_issue_9(state: SandboxState, site_number: str, started: datetime, now: datetime,
                   filtered: bool, omitted: bool) -> int:
    """The previous look-up's calls on the same data (see the module docstring)."""
    first, last = (started - timedelta(days=1)).date(), (now + timedelta(days=1)).date()
    listed = state.find_orders(start=first, end=last,
                               site_number=None if filtered else site_number)
    newest_first = [o.site_number for o in listed]
    seen = newest_first[:newest_first.index(site_number) + 1] if (
        site_number in newest_first) else newest_first
    pages = max(1, -(-len(seen) // 100))
    return pages + (len(seen) if omitted else 0)


async def run(args: argparse.Namespace) -> tuple[list[Row], float]:
    hour, minute = (int(x) for x in args.at.split(":"))
    now = datetime(2026, 3, 4, hour, minute, tzinfo=UTC)
    started = now - timedelta(seconds=Settings().placing_settle_seconds)
    rows: list[Row] = []
    began = time.perf_counter()
    async with running_sandbox(SandboxConfig()) as sandbox, \
            httpx.AsyncClient(base_url=sandbox.base_url) as control:
        sandbox.app[SANDBOX].clock = lambda: now
        seed(sandbox.state, now, args.per_day, args.days, started)
        async with SunskyClient(sandbox.base_url, SANDBOX_API_KEY, SANDBOX_API_SECRET,
                                max_calls_per_second=0, wall_clock=lambda: now) as client:
            for name, ignores, omits in LISTS:
                await control.post("/_sandbox/faults", json={
                    "list_ignores_site_number": ignores, "list_omits_site_number": omits})
                for finds, site in (("found", OURS), ("none", "DS900002-INV900002")):
                    outcome, pages, details = await look_up(client, site, started, None)
                    assert outcome == finds, (name, finds, outcome)
                    capped, _, _ = await look_up(client, site, started, args.max_calls)
                    rows.append(Row(name, finds, pages + details, pages, details, capped,
                                    before_issue_9(sandbox.state, site, started, now,
                                                   ignores, omits)))
    return rows, time.perf_counter() - began


def render(rows: list[Row], args: argparse.Namespace, seconds: float) -> str:
    command = "python bench/lookup.py" + (
        "" if (args.per_day, args.days, args.at, args.max_calls) == (500, 3, "13:59", 400)
        else f" --per-day {args.per_day} --days {args.days} --at {args.at} "
             f"--max-calls {args.max_calls}")
    lines = [HEADING, "",
             f"Machine: {machine()}. Command: `{command}`. Date: "
             f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC. {seconds:.0f} s. Calls are counted, not "
             "timed, so the machine does not change them.", "",
             f"{args.per_day} SUNSKY orders a day over {args.days} days, look-up at {args.at} "
             f"UTC for an attempt started {Settings().placing_settle_seconds:g} s before "
             "(PLACING_SETTLE_SECONDS); ours was created a second after it. Calls = list pages "
             "(100 a page) + order details.", "",
             "| SUNSKY's order list | SUNSKY holds it | calls | list pages | order details | "
             f"with PLACING_LOOKUP_MAX_CALLS={args.max_calls} | calls before issue 9 |",
             "|---|---|---:|---:|---:|---|---:|"]
    lines += [f"| {r.sunsky_list} | {r.finds} | **{r.calls}** | {r.pages} | {r.details} | "
              f"{r.capped} | {r.before} |" for r in rows]
    lines += ["", "### Reading the table", "",
              "- Only the last row grows with the shop's volume: when SUNSKY's list neither "
              "filters by siteNumber nor names it, a look-up that finds nothing reads the "
              "details of every order created from 14 h before the attempt (SUNSKY's time zone "
              "is unstated) until now: about orders-a-day x 14/24, plus a list page per 100 "
              "orders of the window's days. Before issue 9 it read every order of a window of "
              "two to three calendar days. A look-up that finds the order stops there.",
              "- `PLACING_LOOKUP_MAX_CALLS` bounds it. Past the cap the look-up cannot tell: the "
              "order goes to API Failed with `LOOKUP_BUDGET_EXCEEDED` (an unknown outcome that "
              "waits for a person: an automatic retry would spend the cap again), never placed "
              "again on a guess. At 500 orders a day the worst case needs about 300 calls, "
              "under the default 400 (200 s at 2 calls/s): raise the cap with the shop's volume "
              "if SUNSKY's list turns out to be like that, and keep it well under what the poll "
              "interval allows a message (each call waits for the call budget).",
              "- Every look-up logs its cost (`look-up of siteNumber ... cost N SUNSKY calls`).",
              "- The sandbox lists newest first; SUNSKY's order is not documented."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--per-day", type=int, default=500)
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--at", default="13:59", help="UTC time of day of the look-up")
    parser.add_argument("--max-calls", type=int, default=400, help="the cap shown beside")
    parser.add_argument("--write", action=argparse.BooleanOptionalAction, default=True,
                        help="write the section into docs/BENCHMARKS.md")
    args = parser.parse_args()
    rows, seconds = asyncio.run(run(args))
    markdown = render(rows, args, seconds)
    print(markdown)
    if args.write:
        write_section(markdown, HEADING)


if __name__ == "__main__":
    main()
