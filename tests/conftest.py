"""Test tiers (STYLE.md point 13): unit (no I/O), integration (real PG, broker, sandbox over
HTTP), e2e (whole services as processes). Fixtures live in tests/fixtures/."""

# Imported here, at start-up, not lazily by hypothesis's pytest plugin at the end of a run that
# used no property test: on CPython 3.11.7 that late import (its assertion rewrite) trips
# "SystemError: AST constructor recursion depth mismatch" (CPython gh-106905, fixed in 3.11.8).
import hypothesis  # noqa: F401

pytest_plugins = [
    "tests.fixtures.stack",
    "tests.fixtures.sandbox",
]
