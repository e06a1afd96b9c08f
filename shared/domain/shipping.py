"""Picking a SUNSKY shipping way by the shop's policy (pure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, TypeVar


class FreightLike(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def shipping_cost(self) -> Any: ...


F = TypeVar("F", bound=FreightLike)


def choose_shipping_way(options: Sequence[F], policy: Mapping[str, Any]) -> F | None:
    """``{"mode": "cheapest"}`` (default) or ``{"mode": "named", "name": ..., "fallback":
    "cheapest"|"none"}``; a named way matches by id or case-insensitive name."""
    if not options:
        return None
    cheapest = min(options, key=lambda o: (o.shipping_cost, o.id))
    if policy.get("mode", "cheapest") != "named":
        return cheapest
    wanted = str(policy.get("name", "")).strip().lower()
    for option in options:
        if wanted in {str(option.id), option.name.lower()}:
            return option
    return cheapest if policy.get("fallback", "cheapest") == "cheapest" else None
