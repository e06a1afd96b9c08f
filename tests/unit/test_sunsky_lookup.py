"""The look-up by siteNumber over ``httpx.MockTransport`` (issue 9 §2, the look-up's cost): the
window the attempt implies, entries outside it cost nothing, a live order before a cancelled one,
a call budget whose excess is an unknown outcome (never "none"), and a log line of the cost."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl

import httpx
import pytest

from shared.sunsky.errors import SunskyUnknownOutcomeError
from shared.sunsky.lookup import SunskyLookupBudgetError
from tests.unit.test_sunsky_client import ORDER, FakeSunsky, client_for, ok

STARTED = datetime.now(UTC) - timedelta(minutes=1)  # the attempt that may have created it


def sunsky_time(moment: datetime) -> str:
    return f"{moment.year}-{moment.month}-{moment.day} {moment:%H:%M:%S}"


def entry(number: str, created: datetime, site_number: str | None = None,
          status: int = 2) -> dict[str, object]:
    listed: dict[str, object] = {"number": number, "status": status,
                                 "gmtCreated": sunsky_time(created)}
    if site_number is not None:
        listed["siteNumber"] = site_number
    return listed


class Account:
    """A SUNSKY whose list ignores the siteNumber filter; details say each order's siteNumber."""

    def __init__(self, entries: list[dict[str, object]], sites: dict[str, str]) -> None:
        self.entries, self.sites = entries, sites

    def __call__(self, request: httpx.Request) -> httpx.Response:
        form = dict(parse_qsl(request.content.decode()))
        if "getOrderDetails" in request.url.path:
            number = form["number"]
            return ok({**ORDER, "number": number, "siteNumber": self.sites.get(number, "X")})
        size, page = int(form["pageSize"]), int(form["page"])
        rows = self.entries[(page - 1) * size: page * size]
        return ok({"total": len(self.entries), "pageCount": -(-len(self.entries) // size),
                   "result": rows})


def paths(server: FakeSunsky) -> list[str]:
    return [r.url.path.rsplit("/", 1)[1] for r in server.requests]


async def test_entries_outside_the_attempts_window_cost_no_details_read() -> None:
    old = [entry(f"9{i}", STARTED - timedelta(hours=20)) for i in range(5)]  # before it started
    recent = [entry("81", STARTED + timedelta(seconds=5)), entry("82", STARTED)]
    server = FakeSunsky(handler=Account(old + recent, {"82": "WANTED"}))
    async with client_for(server) as client:
        found = await client.find_order_by_site_number("WANTED", not_before=STARTED)
    assert found is not None and found.number == "82"
    assert paths(server) == ["order!getOrderList.do", "order!getOrderDetails.do",
                             "order!getOrderDetails.do"]  # 81 and 82, none of the old ones
    form = server.form(0)
    assert form["siteNumber"] == "WANTED"  # the filter is still asked for
    first, last = (STARTED - timedelta(hours=14)).date(), (datetime.now(UTC) + timedelta(
        hours=14)).date()
    assert (form["gmtCreatedStart"], form["gmtCreatedEnd"]) == (first.strftime("%m/%d/%Y"),
                                                                last.strftime("%m/%d/%Y"))


async def test_an_entry_naming_our_site_number_is_ours_wherever_its_time_says() -> None:
    listed = entry("83", STARTED - timedelta(days=3), "WANTED")
    server = FakeSunsky(handler=Account([listed], {}))
    async with client_for(server) as client:
        found = await client.find_order_by_site_number("WANTED", not_before=STARTED)
    assert found is not None and found.number == "83" and len(server.requests) == 1


async def test_a_look_up_that_would_spend_more_than_its_budget_cannot_tell() -> None:
    unknown = [entry(f"7{i}", STARTED + timedelta(seconds=i)) for i in range(5)]
    server = FakeSunsky(handler=Account(unknown, {"74": "WANTED"}))
    async with client_for(server) as client:
        with pytest.raises(SunskyLookupBudgetError) as caught:
            await client.find_order_by_site_number("WANTED", not_before=STARTED, max_calls=3)
    assert isinstance(caught.value, SunskyUnknownOutcomeError)  # never "none"
    assert caught.value.code == "LOOKUP_BUDGET_EXCEEDED"
    assert len(server.requests) == 3  # one page, two details: the cap, not one call more


async def test_a_live_order_is_preferred_to_a_cancelled_one() -> None:
    cancelled = entry("61", STARTED, "WANTED", status=4)
    live = entry("62", STARTED + timedelta(seconds=1), "WANTED")
    async with client_for(FakeSunsky(handler=Account([cancelled, live], {}))) as client:
        found = await client.find_order_by_site_number("WANTED", not_before=STARTED)
    assert found is not None and found.number == "62"
    async with client_for(FakeSunsky(handler=Account([cancelled], {}))) as client:
        found = await client.find_order_by_site_number("WANTED", not_before=STARTED)
    assert found is not None and (found.number, found.status) == ("61", 4)


async def test_pages_are_walked_and_the_cost_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    others = [entry(f"5{i:03d}", STARTED, f"OTHER-{i}") for i in range(150)]
    server = FakeSunsky(handler=Account(others, {}))
    with caplog.at_level(logging.INFO, logger="shared.sunsky.client"):
        async with client_for(server) as client:
            assert await client.find_order_by_site_number("WANTED", not_before=STARTED) is None
    assert paths(server) == ["order!getOrderList.do"] * 2  # 100 a page
    [line] = [r.getMessage() for r in caplog.records if "look-up" in r.getMessage()]
    assert line == ("look-up of siteNumber WANTED cost 2 SUNSKY calls (2 list pages, 0 order "
                    "details; 0 entries outside the window): none")
