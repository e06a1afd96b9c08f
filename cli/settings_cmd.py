"""``dropship settings ...``: "Auto-Place Orders on Payment" and the shipping-way policy."""

from __future__ import annotations

import click

from application import shop
from application.shop import ShopSettings
from cli.common import SETTINGS_ACTOR, with_context


@click.group("settings")
def settings_group() -> None:
    """Shop settings: auto-place, shipping-way policy."""


@settings_group.command("show")
def settings_show() -> None:
    show(with_context(shop.shop_settings))


@settings_group.command("auto-place")
@click.argument("state", type=click.Choice(["on", "off"]))
def auto_place(state: str) -> None:
    """Switch "Auto-Place Orders on Payment" (applies to invoices paid from now on)."""
    current = with_context(lambda ctx: shop.set_auto_place(ctx, state == "on",
                                                           actor=SETTINGS_ACTOR))
    click.echo(f"Auto-Place Orders on Payment: {'on' if current.auto_place else 'off'}")


@settings_group.command("shipping-way")
@click.argument("choice")
def shipping_way(choice: str) -> None:
    """'cheapest', or a SUNSKY shipping way name or id (falls back to cheapest)."""
    current = with_context(lambda ctx: shop.set_shipping_way(ctx, choice, actor=SETTINGS_ACTOR))
    click.echo(f"Shipping-way policy: {current.shipping_way_policy}")


def show(current: ShopSettings) -> None:
    click.echo(f"Auto-Place Orders on Payment: {'on' if current.auto_place else 'off'}")
    click.echo(f"Shipping-way policy: {current.shipping_way_policy}")
