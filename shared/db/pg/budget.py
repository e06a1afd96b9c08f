"""The account's SUNSKY call budget in PostgreSQL: one row per account, one statement per take.

``take`` is ``shared.sunsky.budget.take`` written as a single ``UPDATE ... RETURNING`` on the
account's row, so concurrent processes serialise on the row lock and never both spend a token;
the clock is PostgreSQL's (``clock_timestamp()``), the same for every process. Tests may pass
``now`` to run it on a clock of their own (the contract test against the pure arithmetic).
"""

from __future__ import annotations

import asyncpg

from shared.settings import Settings
from shared.sunsky.budget import (
    BucketState,
    BudgetConfig,
    BudgetUnavailable,
    CallBudget,
    Priority,
    Taken,
)

_CREATE = """
INSERT INTO sunsky_call_budget (account, main, pocket, updated_at)
VALUES ($1, $2, $3, coalesce($4::double precision, extract(epoch FROM clock_timestamp()))
                    * interval '1 second' + 'epoch'::timestamptz)
ON CONFLICT (account) DO NOTHING
"""

_EPOCH = "extract(epoch FROM {})::double precision"
_RETURNING = (f"RETURNING main, pocket, {_EPOCH.format('updated_at')}, "
              f"{_EPOCH.format('paused_until')}, granted")

# $1 account, $2 now (epoch seconds, NULL: PostgreSQL's clock), $3 rate, $4 share, $5 pocket
# cap, $6 main cap, $7 the priority's reserve, $8 may it use the pocket, $9 tokens wanted.
# Read from the inside out, each level is one line of ``take``: the time, the refill split
# between the pockets, each pocket's overflow into the other, the grant from the pocket,
# the grant from main above the reserve. The sub-select reads the row being updated (b).
_TAKE = f"""
UPDATE sunsky_call_budget AS b
SET (main, pocket, updated_at, granted) = (
  SELECT m - gm, p - gp, greatest(b.updated_at, t), gm + gp
  FROM (SELECT *, CASE WHEN halt THEN 0
                       ELSE least(want - gp, greatest(0, floor(m - reserve)))::int END AS gm
  FROM (SELECT *, CASE WHEN halt OR NOT pocket_ok THEN 0
                       ELSE least(want, floor(p))::int END AS gp
  FROM (SELECT t, reserve, pocket_ok, want, t < b.paused_until AS halt,
               least(m, mcap) AS m, least(pcap, p + greatest(0, m - mcap)) AS p
  FROM (SELECT *, m0 + greatest(0, p0 - pcap) AS m, least(p0, pcap) AS p
  FROM (SELECT *, b.main + added * (1 - share) AS m0, b.pocket + added * share AS p0
  FROM (SELECT *, rate * greatest(0, extract(epoch FROM
                      t - greatest(b.updated_at, b.paused_until))) AS added
  FROM (SELECT coalesce($2::float8 * interval '1 second' + 'epoch'::timestamptz,
                        clock_timestamp()) AS t,
               $3::float8 AS rate, $4::float8 AS share, $5::float8 AS pcap,
               $6::float8 AS mcap, $7::float8 AS reserve, $8::bool AS pocket_ok,
               $9::int AS want
       ) AS params) AS refill) AS split) AS overflow) AS capped) AS pocket_grant) AS main_grant
)
WHERE b.account = $1
{_RETURNING}
"""

_PAUSE = f"""
UPDATE sunsky_call_budget
SET main = 0, pocket = 0, granted = 0,
    updated_at = greatest(updated_at, clock_timestamp()),
    paused_until = greatest(paused_until, clock_timestamp() + $2::float8 * interval '1 second')
WHERE account = $1
{_RETURNING}
"""


class PgBudgetStore:
    """``BudgetStore`` on the pool's ``sunsky_call_budget`` row for ``account``."""

    def __init__(self, pool: asyncpg.Pool, account: str, config: BudgetConfig) -> None:
        self._pool, self._account, self.config = pool, account, config
        self._created = False

    async def take(self, priority: Priority, want: int, *, now: float | None = None) -> Taken:
        config = self.config
        try:
            await self._ensure_row(now)
            row = await self._pool.fetchrow(
                _TAKE, self._account, now, config.rate, config.tracking_share,
                config.pocket_cap, config.main_cap, config.reserve(priority),
                priority != Priority.PLACEMENT, want)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise BudgetUnavailable(f"{type(exc).__name__}: {exc}") from exc
        assert row is not None  # the row exists: _ensure_row
        state = BucketState(row[0], row[1], row[2], row[3])
        return Taken(row[4], state, state.updated if now is None else now)

    async def pause(self, seconds: float) -> None:
        try:
            await self._ensure_row(None)
            await self._pool.execute(_PAUSE, self._account, seconds)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise BudgetUnavailable(f"{type(exc).__name__}: {exc}") from exc

    async def state(self) -> BucketState:
        row = await self._pool.fetchrow(
            f"SELECT main, pocket, {_EPOCH.format('updated_at')}, "
            f"{_EPOCH.format('paused_until')} FROM sunsky_call_budget WHERE account = $1",
            self._account)
        assert row is not None
        return BucketState(row[0], row[1], row[2], row[3])

    async def _ensure_row(self, now: float | None) -> None:
        if not self._created:
            await self._pool.execute(_CREATE, self._account, self.config.main_cap,
                                     self.config.pocket_cap, now)
            self._created = True


def account_of(settings: Settings) -> str:
    """The bucket's key: the API key id (public, unlike the secret)."""
    return settings.sunsky_api_key or "default"


def attach_budget(budget: CallBudget, pool: asyncpg.Pool, settings: Settings) -> CallBudget:
    """Give ``budget`` the account's row in ``pool``'s schema (no-op for a rate of 0)."""
    if not budget.unlimited:
        budget.attach(PgBudgetStore(pool, account_of(settings), budget.config))
    return budget


def call_budget(settings: Settings, pool: asyncpg.Pool) -> CallBudget:
    return attach_budget(CallBudget.from_settings(settings), pool, settings)
