"""Transactions for the in-memory fakes, with the PostgreSQL behaviour the guarantees rest on.

A ``FakeTx`` is one open unit of work over a ``FakeStore``:

- it works on a snapshot taken when it began and, on commit, merges only what *it* changed into
  the committed store (a concurrent unit of work's committed changes to other rows survive);
- ``lock_row`` is ``SELECT ... FOR UPDATE``: it waits while another open unit of work holds the
  row, then reads the row's latest committed version (what PostgreSQL's READ COMMITTED does for
  a locked row), and holds the lock until commit or rollback;
- ``try_lock_row`` is ``FOR UPDATE SKIP LOCKED`` (never waits) and ``try_lock`` a
  transaction-scoped advisory lock (``pg_try_advisory_xact_lock``).

``LockTable`` is shared by every copy of a store (``copy.deepcopy`` hands back the same table),
and ``waiting(tx)`` lets a contract test observe that a unit of work is blocked on a lock, the
way ``pg_stat_activity`` shows it for PostgreSQL.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
from collections.abc import Hashable
from dataclasses import fields
from typing import Any

_owners = itertools.count(1)


class LockTable:
    """Which open unit of work holds which lock, and who waits for one."""

    def __init__(self) -> None:
        self._holders: dict[Hashable, int] = {}
        self._waiting: dict[int, Hashable] = {}
        self._changed: asyncio.Condition | None = None

    def __deepcopy__(self, memo: dict[int, Any]) -> LockTable:
        return self  # every snapshot of a store shares its locks

    async def acquire(self, key: Hashable, owner: int) -> None:
        if self.try_acquire(key, owner):
            return
        changed = self._condition()
        async with changed:
            self._waiting[owner] = key
            try:
                await changed.wait_for(lambda: self._holders.get(key, owner) == owner)
            finally:
                del self._waiting[owner]
            self._holders[key] = owner

    def try_acquire(self, key: Hashable, owner: int) -> bool:
        if self._holders.get(key, owner) != owner:
            return False
        self._holders[key] = owner
        return True

    def held_by_other(self, key: Hashable, owner: int) -> bool:
        return self._holders.get(key, owner) != owner

    async def release_all(self, owner: int) -> None:
        mine = [key for key, holder in self._holders.items() if holder == owner]
        for key in mine:
            del self._holders[key]
        if mine and self._changed is not None:
            async with self._changed:
                self._changed.notify_all()

    def is_waiting(self, owner: int) -> bool:
        return owner in self._waiting

    def _condition(self) -> asyncio.Condition:
        if self._changed is None:
            self._changed = asyncio.Condition()
        return self._changed


class FakeTx:
    """One open unit of work: ``work`` is what its statements see and change."""

    def __init__(self, committed: Any, locks: LockTable, *, direct: bool = False) -> None:
        self.committed, self.locks, self.direct = committed, locks, direct
        self.owner = next(_owners)
        if direct:  # writes straight into the store: seeding a test, no isolation, no locks
            self.snapshot = self.work = committed
        else:
            self.snapshot = _snapshot(committed)
            self.work = copy.deepcopy(committed)

    @classmethod
    def straight_into(cls, store: Any) -> FakeTx:
        return cls(store, store.locks, direct=True)

    async def acquire(self, key: Hashable) -> None:
        if not self.direct:
            await self.locks.acquire(key, self.owner)

    async def lock_row(self, table: str, key: Hashable) -> None:
        await self.acquire((table, key))
        self.refresh(table, key)

    def try_lock_row(self, table: str, key: Hashable) -> bool:
        if not self.direct and not self.locks.try_acquire((table, key), self.owner):
            return False
        self.refresh(table, key)
        return True

    def try_lock(self, name: str) -> bool:
        return self.direct or self.locks.try_acquire(("advisory", name), self.owner)

    def refresh(self, table: str, key: Hashable) -> None:
        """The latest committed version of one row, unless this unit of work changed it."""
        if self.direct:
            return
        work, snap, done = (getattr(s, table) for s in (self.work, self.snapshot, self.committed))
        if not isinstance(work, dict) or work.get(key) != snap.get(key):
            return
        if key in done:
            work[key], snap[key] = copy.deepcopy(done[key]), copy.deepcopy(done[key])
        else:
            work.pop(key, None)
            snap.pop(key, None)

    async def commit(self) -> None:
        merge(self.committed, self.snapshot, self.work)
        await self.end()

    async def end(self) -> None:
        await self.locks.release_all(self.owner)


def _snapshot(store: Any) -> Any:
    """What the store held, for ``merge`` to tell this unit's changes from it: each container
    copied (a dict's lists too), the frozen values in them shared (much cheaper than a deep
    copy)."""
    taken = copy.copy(store)
    for f in fields(store):
        value = getattr(store, f.name)
        if isinstance(value, dict):
            value = {k: list(v) if isinstance(v, list) else v for k, v in value.items()}
        elif isinstance(value, list | set):
            value = type(value)(value)
        setattr(taken, f.name, value)
    return taken


def merge(committed: Any, snapshot: Any, work: Any) -> None:
    """Apply what changed between ``snapshot`` and ``work`` to ``committed``, field by field:
    new list entries are appended, dict entries changed or added are set (lists in a dict,
    like the history, get their new entries appended), new set members are added."""
    for f in fields(committed):
        before, after, target = (getattr(s, f.name) for s in (snapshot, work, committed))
        if isinstance(after, list):
            target.extend(after[len(before):])
        elif isinstance(after, set):
            target.difference_update(before - after)
            target.update(after - before)
        elif isinstance(after, dict):
            _merge_dict(target, before, after)
        elif after != before:
            setattr(committed, f.name, after)


def _merge_dict(target: dict[Any, Any], before: dict[Any, Any], after: dict[Any, Any]) -> None:
    for key, value in after.items():
        old = before.get(key)
        if isinstance(value, list) and isinstance(old, list):
            target.setdefault(key, []).extend(value[len(old):])
        elif isinstance(value, list):
            target.setdefault(key, []).extend(value)
        elif key not in before or value != old:
            target[key] = value
    for key in before.keys() - after.keys():
        target.pop(key, None)
