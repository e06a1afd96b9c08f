"""Fixtures the unit tests share: fresh fakes and a clock per test."""

from __future__ import annotations

import pytest

from tests.builders import Clock
from tests.fakes import FakeStore, FakeSunsky


@pytest.fixture
def store() -> FakeStore:
    return FakeStore()


@pytest.fixture
def sunsky(clock: Clock) -> FakeSunsky:
    return FakeSunsky(clock=clock)


@pytest.fixture
def clock() -> Clock:
    return Clock()
