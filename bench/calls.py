"""Issue 12 benchmark: SUNSKY calls per placed order on a realistic mix, with and without the
shared freight quote cache (``QUOTE_CACHE_SECONDS``).

What runs: the placer's own handler (``services.placer.handlers.Placer``: quoting, the quote
cache, intent, createOrder, outcome) in-process against real PostgreSQL (a fresh schema per
scenario: the cache is the real ``quote_cache`` table), one order after the other, with a
simulated clock that follows the orders' arrival times (``bench/budget_mix.py`` says how the mix
is drawn). SUNSKY is the in-memory one the unit tests use (``tests/fake_sunsky.py``, held to the
sandbox's behaviour by tests/integration/test_sunsky_port_contract.py) with the mix's 200 items
and 10 countries: calls are counted, not timed, so the machine's load does not change them.

Calls per placed order = every SUNSKY call the placer made (getPricesAndFreights, createOrder,
getBalance, getCountries) / orders placed. Scenarios: arrival rates of 100, 1,000 and 6,000
orders an hour (6,000/h is a 1,000-order backlog drained in 10 minutes), each with the cache off
(0) and at its default 600 s.

    python bench/calls.py                    # 2,000 orders per scenario, about 2 minutes
    python bench/calls.py --orders 500 --no-write
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from budget_mix import COUNTRIES, SKU_COUNT, US_STATES, Cart, Mix, sku
from tracking import _pool
from tracking_report import machine, write_section

from devtools.perfex_events import address, encode, invoice_event, item
from devtools.postgres import resolve_database_url
from schemas.orders import OrderReady
from schemas.perfex import INVOICE_EVENT
from services.placer.handlers import Placer
from shared.db.pg import PgUnitOfWork
from shared.domain import quoting
from shared.domain.intake import Save, decide_invoice_event
from shared.domain.order import OrderStatus
from shared.domain.placement import Destination
from shared.messaging.envelope import Envelope
from shared.settings import Settings
from shared.sunsky.models import Country, State
from tests.builders import Clock
from tests.fake_sunsky import FakeSunsky

HEADING = "## SUNSKY calls per placed order (issue 12)"
START = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
RATES = (100, 1000, 6000)
TTLS = (0, 600)
# SUNSKY's own country ids: 41 = US is attested, the rest are the sandbox's inventions.
COUNTRY_IDS = {"US": 41, "GB": 222, "DE": 81, "FR": 73, "CA": 38, "AU": 13, "SA": 191,
               "AE": 221, "NL": 150, "SE": 205}


@dataclass(frozen=True)
class Scenario:
    per_hour: float
    ttl: float


@dataclass
class Result:
    scenario: Scenario
    orders: int
    placed: int
    calls: Counter[str]
    distinct_carts: int

    @property
    def per_order(self) -> float:
        return sum(self.calls.values()) / max(self.placed, 1)


def world(clock: Clock) -> FakeSunsky:
    states = [State(code=code, name=code) for code, _ in US_STATES]
    countries = [Country(id=COUNTRY_IDS[iso2], code=iso2, name=iso2, shipToState=iso2 == "US",
                         stateList=states if iso2 == "US" else []) for iso2, _ in COUNTRIES]
    prices = {sku(rank): Decimal(1 + rank % 20) for rank in range(1, SKU_COUNT + 1)}
    return FakeSunsky(balance=Decimal(10**9), countries=countries, prices=prices, clock=clock)


async def run(scenario: Scenario, database_url: str, n: int, seed: int) -> Result:
    schema = f"bench_calls_{secrets.token_hex(3)}"
    clock = Clock()  # the unit tests' simulated clock: moved to each order's arrival
    carts = Mix(seed=seed, per_hour=scenario.per_hour).carts(START, n)
    sunsky = world(clock)
    settings = Settings(database_url=database_url, database_schema=schema,
                        quote_cache_seconds=scenario.ttl)
    async with _pool(database_url, schema) as pool:
        uow = lambda: PgUnitOfWork(pool)  # noqa: E731
        placer = Placer(settings, uow, sunsky, clock=clock, sleep=clock.sleep,
                        monotonic=clock.monotonic)
        for i, cart in enumerate(carts):
            clock.now = cart.at
            order_id = await _seed(uow, i, cart)
            await placer.handle(_ready(order_id, i))
        placed = await pool.fetchval("SELECT count(*) FROM orders WHERE status = $1",
                                     OrderStatus.PLACED.value)
    keys = {quoting.quote_key(Destination(COUNTRY_IDS[c.iso2], c.state), c.lines) for c in carts}
    return Result(scenario, n, placed, Counter(sunsky.calls), len(keys))


async def _seed(uow: Any, i: int, cart: Cart) -> int:
    lines = [item(n, code, f"{qty}.00") for n, (code, qty) in enumerate(cart.lines, 1)]
    event = invoice_event("invoice.paid", 200_000 + i, items=lines,
                          shipping=address(iso2=cart.iso2, state=cart.state or ""))
    decision = decide_invoice_event(None, INVOICE_EVENT.validate_json(encode(event)),
                                    auto_place=True, now=cart.at)
    assert isinstance(decision, Save)
    async with uow() as work:
        order = await work.orders.add(decision.order)
        await work.commit()
    return int(order.id)


def _ready(order_id: int, i: int) -> Envelope:
    message = OrderReady(message_id=f"bench-{i}", order_id=order_id, invoice_id=str(i),
                         occurred_at=START)
    return Envelope("order.ready", 0, i, str(order_id), message.model_dump_json().encode())


# --- what the cache can do on this mix, without the placer (pure, fast) ---------------------

SIM_TTLS = (600, 3600, 86400)


def quotes_per_order(carts: list[Cart], ttl: float) -> float:
    """The cache's rule on the cart stream alone: a miss quotes and keeps the quote for ``ttl``
    seconds from then (a hit does not extend it)."""
    until: dict[str, datetime] = {}
    quotes = 0
    for cart in carts:
        key = quoting.quote_key(Destination(COUNTRY_IDS[cart.iso2], cart.state), cart.lines)
        if key not in until or until[key] <= cart.at:
            quotes += 1
            until[key] = cart.at + timedelta(seconds=ttl)
    return quotes / len(carts)


def simulated(n: int, seed: int) -> list[str]:
    rows = ["| orders/hour | carts seen before (ever) | " + " | ".join(
        f"quotes/order, TTL {ttl:g} s" for ttl in SIM_TTLS) + " |",
            "|---:|---:|" + "---:|" * len(SIM_TTLS)]
    for per_hour in RATES:
        carts = Mix(seed=seed, per_hour=per_hour).carts(START, n)
        keys = {quoting.quote_key(Destination(COUNTRY_IDS[c.iso2], c.state), c.lines)
                for c in carts}
        cells = " | ".join(f"{quotes_per_order(carts, ttl):.3f}" for ttl in SIM_TTLS)
        rows.append(f"| {per_hour:g} | {1 - len(keys) / n:.0%} | {cells} |")
    return rows


# --- the report -------------------------------------------------------------------------------


def render(results: list[Result], command: str, args: argparse.Namespace, load: str,
           sim: list[str]) -> str:
    lines = [
        HEADING, "",
        f"Machine: {machine()}; load average at start {load} (shared with other work: calls "
        f"are counted, not timed, so the load changes no number here). Command: `{command}`. "
        f"Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC.", "",
        f"{args.orders} orders per scenario, seed {args.seed}, the mix of `bench/budget_mix.py`:"
        " 200 SKUs drawn Zipf (s = 1.0) per line, 1/2/3 lines per cart 80/15/5%, quantity "
        "1/2/3 75/18/7%, 10 countries (US 35% over 8 states, GB 12, DE 10, FR 8, CA 8, AU 7, SA"
        " 6, AE 5, NL 5, SE 4), Poisson arrivals. One placer process; a cache shared by three "
        "placers sees the same carts, so the same hits.", "",
        "| orders/hour | QUOTE_CACHE_SECONDS | getPricesAndFreights | createOrder | getBalance |"
        " getCountries | calls per placed order | distinct carts |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        c = r.calls
        lines.append(
            f"| {r.scenario.per_hour:g} | {r.scenario.ttl:g} | {c['getPricesAndFreights']} | "
            f"{c['createOrder']} | {c['getBalance']} | {c['getCountries']} | "
            f"**{r.per_order:.3f}** | {r.distinct_carts / r.orders:.0%} |")
    lines += ["", f"The same mix without the placer, {args.sim_orders} orders per rate (the "
              "cache's rule applied to the cart stream: quote on a miss, keep it for the TTL); "
              "calls per placed order = quotes/order + 1 (createOrder) + balance reads:", "",
              *sim]
    return "\n".join([*lines, "", *READING]) + "\n"


READING = (
    "### Reading the table",
    "",
    "- The target of at most 1.3 calls per placed order is not reached on this mix with a "
    "10-minute TTL, at any of these rates: it needs at most 0.3 quotes per order (createOrder "
    "is always 1), i.e. 70% of orders finding their cart quoted in the last 10 minutes. The mix "
    "has too long a tail for that: one-line carts alone are 200 SKUs x 3 quantities x 17 "
    "destinations (10 countries, the US split by state) = 10,200 keys, and the commonest cart "
    "(the bestseller, once, to California) is under 1% of orders. Even at 6,000 orders an hour "
    "(1,000 orders per TTL) 70% of orders need a fresh quote.",
    "- Column \"carts seen before (ever)\": the share of orders whose cart came earlier in the "
    "run at all, the hit rate of a cache that never expires: 70% after 50,000 orders, i.e. "
    "1.30 calls per order at best. A longer TTL helps (24 h: 0.30-0.60 quotes per order); a "
    "quote is not a price lock anyway (createOrder charges the price of the moment, and "
    "refuses what the balance does not cover), so the TTL only bounds how stale the chosen "
    "shipping way and the recorded total may be. `QUOTE_CACHE_SECONDS` stays 600 by default "
    "as the issue asks.",
    "- getBalance: the placer re-reads the balance once `BALANCE_CACHE_SECONDS` passed since "
    "its last read (sooner when it looks short). At the old default of 60 s that cost 0.375 "
    "calls per order at 100 orders an hour (more than the quote cache saves) and 0.06 at 1,000 "
    "(`BALANCE_CACHE_SECONDS=60 python bench/calls.py`); the default is now 600 s. SUNSKY still "
    "refuses an order the balance does not cover (several placers each know only their own "
    "debits), so a stale balance costs at worst a refused createOrder, never money.",
    "- The cache never changes an order's outcome: a quote SUNSKY no longer honours (shipping "
    "way gone, prices past the balance) makes createOrder refuse, and the placer re-quotes once "
    "(tests/e2e/test_quote_cache.py); none happened here (prices and ways did not change).",
)


async def main(args: argparse.Namespace) -> None:
    database_url = await resolve_database_url(Settings(database_url=args.database_url))
    load = ", ".join(f"{x:.2f}" for x in __import__("os").getloadavg())
    results = []
    for per_hour in RATES:
        for ttl in TTLS:
            started = time.perf_counter()
            results.append(await run(Scenario(per_hour, ttl), database_url, args.orders,
                                     args.seed))
            print(f"{per_hour:g}/h, ttl {ttl:g} s: {results[-1].per_order:.3f} calls/order in "
                  f"{time.perf_counter() - started:.0f} s", file=sys.stderr)
    command = "python bench/calls.py" + "".join(f" {a}" for a in sys.argv[1:])
    markdown = render(results, command, args, load, simulated(args.sim_orders, args.seed))
    print(markdown)
    print(json.dumps({f"{r.scenario.per_hour:g}/h ttl {r.scenario.ttl:g}": round(r.per_order, 3)
                      for r in results}), file=sys.stderr)
    if args.write:
        write_section(markdown, HEADING)
    assert statistics.mean(r.placed / r.orders for r in results) == 1.0, "orders not placed"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--sim-orders", type=int, default=50_000,
                        help="orders per rate in the placer-less table")
    parser.add_argument("--database-url", default=None, help="default: DATABASE_URL, else local")
    parser.add_argument("--write", action=argparse.BooleanOptionalAction, default=True,
                        help="write the section into docs/BENCHMARKS.md")
    asyncio.run(main(parser.parse_args()))
