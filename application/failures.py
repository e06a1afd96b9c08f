"""The Failures page: API Failed orders grouped by code with what to do, and the replay audit.
"""

from __future__ import annotations

from dataclasses import dataclass

from application.context import AdminContext
from shared.db.admin import ReplayAudit
from shared.failure_codes import catalogue
from shared.settings import ALL_TOPICS, DLQ_SUFFIX, TOPIC_ORDER_API_FAILED

# What the Failures page offers to replay: the failed orders and every dead-letter topic.
REPLAYABLE_TOPICS = (TOPIC_ORDER_API_FAILED, *(t for t in ALL_TOPICS if t.endswith(DLQ_SUFFIX)))


@dataclass(frozen=True)
class FailureSummary:
    code: str
    kind: str
    count: int
    fix_hint: str


async def failure_summary(ctx: AdminContext) -> list[FailureSummary]:
    hints = {c.code: c.fix_hint for c in catalogue()}
    async with ctx.uow() as uow:
        groups = await uow.overview.failure_groups()
    return [FailureSummary(g.code or "(no code)", g.kind, g.count,
                           hints.get(g.code, "Read the order's last error, fix it, then retry"))
            for g in groups]


async def recent_replays(ctx: AdminContext, limit: int = 50) -> list[ReplayAudit]:
    async with ctx.uow() as uow:
        return await uow.replays.recent(limit)
