"""The shop's settings ("Auto-Place Orders on Payment", the shipping-way policy) and the SUNSKY
account (balance, countries, one order as SUNSKY has it).

Settings changes apply to what happens next: auto-place to invoices paid from now on, the
shipping-way policy to the next quote (placers re-read it within seconds).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from application.context import AdminContext
from shared.db.repository import AUTO_PLACE, SHIPPING_WAY_POLICY
from shared.sunsky.models import Country, SunskyOrder
from shared.sunsky.port import Sunsky

CHEAPEST: dict[str, Any] = {"mode": "cheapest"}


@dataclass(frozen=True)
class ShopSettings:
    auto_place: bool
    shipping_way_policy: dict[str, Any]


async def shop_settings(ctx: AdminContext) -> ShopSettings:
    async with ctx.uow() as uow:
        auto = await uow.settings.get(AUTO_PLACE)
        policy = await uow.settings.get(SHIPPING_WAY_POLICY)
    return ShopSettings(bool(auto), policy if isinstance(policy, dict) else CHEAPEST)


async def set_auto_place(ctx: AdminContext, on: bool, *, actor: str) -> ShopSettings:
    await _set(ctx, AUTO_PLACE, on, actor)
    return await shop_settings(ctx)


def shipping_way_policy(choice: str) -> dict[str, Any]:
    """'cheapest', or a SUNSKY shipping way name or id (falling back to the cheapest)."""
    if choice.strip().lower() == "cheapest":
        return dict(CHEAPEST)
    return {"mode": "named", "name": choice.strip(), "fallback": "cheapest"}


async def set_shipping_way(ctx: AdminContext, choice: str, *, actor: str) -> ShopSettings:
    await _set(ctx, SHIPPING_WAY_POLICY, shipping_way_policy(choice), actor)
    return await shop_settings(ctx)


async def _set(ctx: AdminContext, name: str, value: Any, actor: str) -> None:
    async with ctx.uow() as uow:
        await uow.settings.set(name, value, by=actor)
        await uow.commit()


# --- the SUNSKY account: these need no database, so they take the port alone ------------------
async def sunsky_balance(sunsky: Sunsky) -> Decimal:
    return await sunsky.get_balance()


async def sunsky_countries(sunsky: Sunsky) -> list[Country]:
    return await sunsky.get_countries()


async def sunsky_order(sunsky: Sunsky, number: str) -> SunskyOrder:
    return await sunsky.get_order_details(number)
