"""Admin replay of a failed-order or dead-letter topic (streaming-pitfalls.md section 5).

Streams the records of a topic whose timestamp falls in ``[since, until)`` (``until`` defaults
to the moment the replay starts, so what the replay itself produces is never replayed again) in
bounded batches (``shared.messaging.reading``), and:

- ``order.api_failed`` records: the order goes back to the placer (API Failed -> Ready to
  Place + ``order.ready``, the same retry as ``retry_orders``) unless SUNSKY already holds it or
  it is already on its way;
- ``<topic>.dlq`` records: the original bytes and headers go back to ``dlq.original.topic``
  (or ``target``), e.g. inbound invoices after the publisher was fixed;

each with a ``replay.cycle`` header one higher than the record's, refused past a cap. Every run
is recorded in ``replays``, dry runs included.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from application.context import AdminContext
from application.orders import OrderAction, retry_one
from schemas.orders import ORDER_MESSAGE, OrderApiFailed
from shared.db.repository import ReplayRecord
from shared.domain.order import SUBMITTED
from shared.messaging.deadletter import H_TOPIC
from shared.messaging.reading import H_CYCLE, Window, cycle_of
from shared.settings import DLQ_SUFFIX, TOPIC_ORDER_API_FAILED

Progress = Callable[[str], None]


@dataclass(frozen=True)
class ReplayRequest:
    topic: str  # without the topic prefix, e.g. "order.api_failed" or "invoice.paid.dlq"
    since: datetime | None
    until: datetime
    target: str | None = None  # DLQ records go here instead of their original topic
    dry_run: bool = False


@dataclass
class ReplayReport:
    read: int = 0
    replayed: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    refused: int = 0

    def summary(self) -> str:
        skipped = ", ".join(f"{n} {why}" for why, n in sorted(self.skipped.items())) or "none"
        return (f"read {self.read}, replayed {self.replayed}, skipped {sum(self.skipped.values())}"
                f" ({skipped}), refused {self.refused} (replay cycle cap)")


@dataclass(frozen=True)
class ReplayOutcome:
    replay_id: int
    report: ReplayReport

    @property
    def line(self) -> str:
        return f"replay {self.replay_id}: {self.report.summary()}"


async def replay(ctx: AdminContext, request: ReplayRequest, *, actor: str,
                 progress: Progress = lambda line: None) -> ReplayOutcome:
    settings = ctx.settings
    topic = settings.topic(request.topic)
    target = settings.topic(request.target) if request.target else None
    window = Window(settings, topic, request.since, request.until)
    replayer = _Replayer(ctx, actor=actor, dry_run=request.dry_run, target=target)
    async for records in window.batches():
        if replayer.report.read == 0:
            progress(f"reading {topic}" + (" (dry run: nothing changes)" if request.dry_run
                                           else ""))
        await replayer.replay(topic, records)
        progress(f"  ... {replayer.report.read} read, {replayer.report.replayed} replayed")
    replay_id = await _record(ctx, replayer.report, request, topic, target, actor)
    if not request.dry_run:
        await ctx.publish_queued()
    return ReplayOutcome(replay_id, replayer.report)


class _Replayer:
    def __init__(self, ctx: AdminContext, *, actor: str, dry_run: bool,
                 target: str | None) -> None:
        self._ctx, self._actor, self._dry_run, self._target = ctx, actor, dry_run, target
        self.report = ReplayReport()

    async def replay(self, topic: str, records: list[Any]) -> None:
        """One batch of the window."""
        cap = self._ctx.settings.replay_max_cycles
        for record in records:
            self.report.read += 1
            if cycle_of(record.headers) + 1 > cap:
                self.report.refused += 1
            elif topic.endswith(DLQ_SUFFIX):
                await self._republish(record)
            elif topic == self._ctx.settings.topic(TOPIC_ORDER_API_FAILED):
                await self._retry_order(record)
            else:
                self.report.skipped["not replayable"] += 1

    async def _republish(self, record: Any) -> None:
        headers = list(record.headers or ())
        target = self._target or dict(headers).get(H_TOPIC, b"").decode()
        if not target:
            self.report.skipped["no original topic"] += 1
            return
        cycle = cycle_of(headers) + 1
        headers = [(k, v) for k, v in headers if k != H_CYCLE] + [(H_CYCLE, str(cycle).encode())]
        if not self._dry_run:
            key = record.key.decode() if record.key else None
            await self._ctx.publisher.publish(target, key, record.value, headers)
        self.report.replayed += 1

    async def _retry_order(self, record: Any) -> None:
        try:
            message = ORDER_MESSAGE.validate_json(record.value)
        except ValidationError:
            self.report.skipped["unreadable"] += 1
            return
        if not isinstance(message, OrderApiFailed):
            self.report.skipped["not an api_failed message"] += 1
            return
        cycle = str(cycle_of(record.headers) + 1)
        async with self._ctx.uow() as uow:
            order = await uow.orders.get(message.order_id)
            if order is None:
                self.report.skipped["unknown order"] += 1
                return
            action = await retry_one(uow, self._ctx.settings, order, actor=self._actor,
                                     now=self._ctx.clock(), reason="replay",
                                     note=f"replay of {record.topic}@{record.offset}",
                                     headers={H_CYCLE: cycle})
            if not self._dry_run:
                await uow.commit()
        self._count(action)

    def _count(self, action: OrderAction) -> None:
        if action.outcome == "queued":
            self.report.replayed += 1
        elif action.order is not None and action.order.status in SUBMITTED:
            self.report.skipped["already placed"] += 1
        else:
            self.report.skipped[action.outcome] += 1


async def _record(ctx: AdminContext, report: ReplayReport, request: ReplayRequest, topic: str,
                  target: str | None, actor: str) -> int:
    async with ctx.uow() as uow:
        replay_id = await uow.replays.record(ReplayRecord(
            actor=actor, topic=topic, target=target, since=request.since, until=request.until,
            dry_run=request.dry_run, read=report.read, replayed=report.replayed,
            skipped=sum(report.skipped.values()), refused=report.refused))
        await uow.commit()
    return replay_id
