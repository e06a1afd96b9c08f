"""The realistic order mix of issue 12: which carts arrive, where to, and when.

Drawn with one seeded ``random.Random``, so a run is reproducible:

- **Items**: 200 SKUs (``MIX-001`` ... ``MIX-200``); each line's SKU by Zipf rank-frequency,
  P(rank k) proportional to 1 / k^s with s = ``zipf_s`` (1.0 by default: the bestseller is
  twice as likely as the second, ten times the tenth); a cart's lines are distinct SKUs.
- **Lines per cart**: 1 (80%), 2 (15%), 3 (5%).
- **Quantity per line**: 1 (75%), 2 (18%), 3 (7%).
- **Countries**: 10, by fixed shares (``COUNTRIES``): US 35% (its state by ``US_STATES``: the
  state is part of a quote, so the US splits into 8 destinations), GB 12%, DE 10%, FR 8%,
  CA 8%, AU 7%, SA 6%, AE 5%, NL 5%, SE 4%.
- **Arrivals**: a Poisson stream at ``per_hour`` orders an hour (exponential gaps).

Every number here is an assumption about a typical dropshipping shop, not a measurement: the
benchmark reports how the cache's hit rate moves with them (``bench/calls.py``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

SKU_COUNT = 200
LINES = ((1, 0.80), (2, 0.15), (3, 0.05))
QUANTITIES = ((1, 0.75), (2, 0.18), (3, 0.07))
COUNTRIES = (("US", 0.35), ("GB", 0.12), ("DE", 0.10), ("FR", 0.08), ("CA", 0.08),
             ("AU", 0.07), ("SA", 0.06), ("AE", 0.05), ("NL", 0.05), ("SE", 0.04))
US_STATES = (("CA", 0.22), ("TX", 0.16), ("FL", 0.14), ("NY", 0.13), ("IL", 0.10),
             ("WA", 0.09), ("NJ", 0.08), ("MA", 0.08))


def sku(rank: int) -> str:
    return f"MIX-{rank:03d}"


@dataclass(frozen=True)
class Cart:
    at: datetime
    iso2: str
    state: str | None
    lines: tuple[tuple[str, int], ...]


class Mix:
    def __init__(self, *, seed: int = 12, zipf_s: float = 1.0, per_hour: float = 1000) -> None:
        self._rng = random.Random(seed)
        self._per_hour = per_hour
        self._ranks = list(range(1, SKU_COUNT + 1))
        self._weights = [1 / k ** zipf_s for k in self._ranks]

    def _pick(self, table: tuple[tuple[object, float], ...]) -> object:
        values, weights = zip(*table, strict=True)
        return self._rng.choices(values, weights)[0]

    def cart(self, at: datetime) -> Cart:
        n = int(self._pick(LINES))  # type: ignore[call-overload]
        ranks: set[int] = set()
        while len(ranks) < n:
            ranks.add(self._rng.choices(self._ranks, self._weights)[0])
        lines = tuple((sku(r), int(self._pick(QUANTITIES)))  # type: ignore[call-overload]
                      for r in sorted(ranks))
        iso2 = str(self._pick(COUNTRIES))
        state = str(self._pick(US_STATES)) if iso2 == "US" else None
        return Cart(at, iso2, state, lines)

    def carts(self, start: datetime, count: int) -> list[Cart]:
        at, out = start, []
        for _ in range(count):
            at += timedelta(hours=self._rng.expovariate(self._per_hour))
            out.append(self.cart(at))
        return out
