"""Test tiers (STYLE.md point 13): unit (no I/O), integration (real PG, broker, sandbox over
HTTP), e2e (whole services as processes). Fixtures live in tests/fixtures/."""

pytest_plugins = [
    "tests.fixtures.stack",
    "tests.fixtures.sandbox",
]
