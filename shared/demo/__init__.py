"""Realistic Perfex events for demos, tests and benchmarks (perfex-event-contract.md shape)."""
