"""The admin console in a real browser (Debian's Chromium driven by Playwright), against
``dropship admin serve`` and the placer as processes, the real broker, PostgreSQL and the
SUNSKY sandbox: log in, filter, open an order, fix its address and Retry until it is Placed,
Refresh from Sunsky once SUNSKY shipped it, toggle auto-place, dry-run a replay. Each page
is saved as a screenshot under .dropship/artifacts/console/."""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import replace
from pathlib import Path

import pytest

from shared.db.pg import PgUnitOfWork
from tests.builders import error, paid_order
from tests.fixtures.admin import OPERATOR, make_users, start_admin

pytestmark = [pytest.mark.e2e]

CHROMIUM = Path("/usr/bin/chromium")
HAVE_CHROMIUM = CHROMIUM.exists()
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parents[2] / ".dropship" / "artifacts" / "console"


async def seed_failed_order(pipeline) -> int:
    """An API Failed order whose address lacks the city (as intake would leave it)."""
    order = paid_order(int(time.time() * 1000) % 10**9)
    broken = replace(order, shipping=replace(order.shipping, city=None))
    failed = broken.fail(error("ADDRESS_INCOMPLETE", order.paid_at), actor="invoice-listener")
    async with PgUnitOfWork(pipeline.pool) as uow:
        saved = await uow.orders.add(failed)
        await uow.commit()
    assert saved.id is not None
    return saved.id


async def until(check, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.3)


async def test_an_operator_runs_the_shop_from_the_browser(pipeline_factory, tmp_path) -> None:
    if not HAVE_CHROMIUM:
        why = "Debian's chromium is not installed, so the console was not tested in a browser"
        if os.environ.get("CI"):
            pytest.fail(f"{why} (.ci/run installs it)")
        pytest.skip(f"SKIPPED LOUDLY: {why} (apt-get install chromium)")
    from playwright.async_api import async_playwright, expect

    pipeline = await pipeline_factory(partitions=2, TRACKER_CALLBACK_PORT="0")
    order_id = await seed_failed_order(pipeline)
    await pipeline.start("placer")
    env = {k: v for k, v in pipeline.env.items()}
    await asyncio.to_thread(make_users, env)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with start_admin(env, tmp_path) as (url, _):
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            page = await browser.new_page(viewport={"width": 1400, "height": 900})

            async def shot(name: str) -> None:
                await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

            # log in (the console sends us to the login page first)
            await page.goto(url + "/orders")
            await expect(page.locator("h1")).to_have_text("Log in")
            await shot("login")
            await page.fill("input[name=name]", OPERATOR[0])
            await page.fill("input[name=password]", OPERATOR[1])
            await page.click("button[type=submit]")
            await expect(page.locator("h1")).to_have_text("Orders")

            # filter by status (a tab) and by customer
            await page.click("a[data-tab=api_failed]")
            await page.fill("input[name=customer]", "acme")
            await page.click("#filters button[type=submit]")
            row = page.locator(f"tr[data-order='{order_id}']")
            await expect(row).to_contain_text("ADDRESS_INCOMPLETE")
            await shot("orders")

            # open the order, fix the address, Retry, and see it become Placed
            await row.locator("a").first.click()
            await expect(page.locator("#last-error")).to_contain_text("ADDRESS_INCOMPLETE")
            await shot("order-failed")
            await page.click("#edit-address summary")
            await page.fill("#edit-address input[name=city]", "Chicago")
            await page.click("#edit-address button[type=submit]")
            await expect(page.locator("#action-flash")).to_contain_text("Chicago")
            await page.click("button:has-text('Retry')")
            await expect(page.locator("#action-flash")).to_contain_text("queued")

            async def placed() -> bool:
                await page.reload()
                return await page.locator("#status").inner_text() == "Placed"

            await until(placed, "the placer to place the retried order")
            await shot("order-placed")

            # SUNSKY ships it; "Refresh from Sunsky" shows the tracking number
            number = await pipeline.pool.fetchval(
                "SELECT sunsky_order_number FROM orders WHERE id = $1", order_id)
            shipped = await pipeline.sandbox_post(f"/_sandbox/orders/{number}/advance",
                                                  {"to": "shipped"})
            tracking = shipped["order"]["trackingNumber"]
            await page.click("button:has-text('Refresh from Sunsky')")
            await expect(page.locator("#tracking")).to_contain_text(tracking)
            await expect(page.locator("#status")).to_have_text("Shipped")
            await shot("order-shipped")
            history = await pipeline.pool.fetch(
                "SELECT actor, reason FROM order_status_history WHERE order_id = $1", order_id)
            by_olga = [r["reason"] for r in history if r["actor"] == "admin:olga"]
            assert by_olga == ["shipping details corrected: city", "admin retry",
                               f"SUNSKY order {number} status 3 via refresh"], history

            # toggle auto-place (the page says it applies to invoices paid from now on)
            await page.goto(url + "/settings")
            await expect(page.locator(".note")).to_contain_text("paid from now on")
            await expect(page.locator("#auto-place-state")).to_have_text("on")
            await page.click("#toggle-auto-place")
            await expect(page.locator("#auto-place-state")).to_have_text("off")
            stored = await pipeline.pool.fetchval(
                "SELECT value FROM app_settings WHERE name = 'auto_place'")
            assert stored is False
            await shot("settings")

            # a dry-run replay of order.api_failed, recorded with the user
            await page.goto(url + "/failures")
            await page.select_option("select[name=topic]", "order.api_failed")
            await page.click("#preview-replay")
            await expect(page.locator("#replay-preview")).to_contain_text("Dry run")
            await expect(page.locator("#audits")).to_contain_text("admin:olga")
            await shot("failures")

            for name in ("billing", "health"):
                await page.goto(f"{url}/{name}")
                await expect(page.locator("#error")).to_have_count(0)
                await shot(name)
            # the placer process records heartbeats (shared/heartbeat.py): Health shows it alive
            placer_row = page.locator("#services tr", has_text="placer")
            await expect(placer_row.locator("td.num")).to_have_text("1")
            await browser.close()
