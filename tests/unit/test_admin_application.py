"""The admin use cases on the fakes: the list query object, accounts, bulk, idempotency,
billing, health, details. The same functions serve the CLI, the API and the console."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest

from application import accounts, bulk, idempotency, listing
from application.billing import billing
from application.details import allowed_actions, badges
from application.failures import REPLAYABLE_TOPICS, failure_summary
from application.health import EXPECTED_SERVICES, health
from application.listing import InvalidQuery, OrderQuery
from shared.db.admin import Heartbeat
from shared.domain.order import OrderStatus, SunskyPlacement
from shared.sunsky.errors import SunskyTransientError
from tests.builders import NOW
from tests.fakes import FakeStore, FakeSunsky, FakeUnitOfWork
from tests.unit.admin_support import add_order, context


async def test_pages_are_keyset_paged_newest_first_without_gaps_or_repeats(store, sunsky) -> None:
    for n in range(7):
        await add_order(store, 100 + n, created_at=NOW + timedelta(minutes=n))
    ctx, seen, cursor = context(store, sunsky), [], None
    while True:
        page = await listing.list_page(ctx, OrderQuery(limit=3, cursor=cursor))
        seen += [o.invoice_id for o in page.orders]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == [str(100 + n) for n in reversed(range(7))]


async def test_a_damaged_cursor_is_refused_with_a_reason(store, sunsky) -> None:
    with pytest.raises(InvalidQuery, match="cursor"):
        await listing.list_page(context(store, sunsky), OrderQuery(cursor="not-a-cursor"))


async def test_needs_action_tab_holds_only_failures_waiting_for_a_person(store, sunsky) -> None:
    person = await add_order(store, 1, code="ADDRESS_INCOMPLETE")
    await add_order(store, 2, code="SERVER_ERROR")  # transient: the retrier has it
    await add_order(store, 3)
    page = await listing.list_page(context(store, sunsky), OrderQuery(tab="needs_action"))
    assert [o.id for o in page.orders] == [person.id]
    counts = await listing.tab_counts(context(store, sunsky))
    assert counts.needs_action == 1 and counts.by_status[OrderStatus.API_FAILED] == 2
    assert counts.total == 3


async def test_stuck_means_unchanged_for_longer_than_n_hours_and_not_final(store, sunsky,
                                                                         clock) -> None:
    old = await add_order(store, 1, created_at=NOW - timedelta(hours=30))
    await add_order(store, 2, created_at=NOW - timedelta(hours=30), status=OrderStatus.DELIVERED)
    await add_order(store, 3, created_at=NOW - timedelta(hours=1))
    page = await listing.list_page(context(store, sunsky, clock), OrderQuery(stuck_hours=24))
    assert [o.id for o in page.orders] == [old.id]


async def test_the_export_holds_exactly_what_the_filter_lists_across_pages(store, sunsky) -> None:
    for n in range(1, 124):
        await add_order(store, n, code="OUT_OF_STOCK" if n % 2 else None,
                        created_at=NOW + timedelta(seconds=n))
    ctx = context(store, sunsky)
    query = OrderQuery(tab="api_failed", code="OUT_OF_STOCK")
    lines = [line async for line in listing.export_csv(ctx, query, batch=25)]
    rows = list(csv.reader(io.StringIO("".join(lines))))
    assert rows[0] == list(listing.CSV_COLUMNS)
    exported = [int(r[0]) for r in rows[1:]]
    listed, cursor = [], None
    while True:
        page = await listing.list_page(ctx, replace(query, cursor=cursor, limit=40))
        listed += [o.id for o in page.orders]
        if not (cursor := page.next_cursor):
            break
    assert exported == listed and len(exported) == 62


async def test_the_export_of_selected_rows_holds_only_them(store, sunsky) -> None:
    orders = [await add_order(store, n) for n in range(1, 6)]
    ctx = context(store, sunsky)
    lines = [line async for line in listing.export_csv(
        ctx, OrderQuery(order_ids=(orders[1].id, orders[3].id)))]
    assert [int(line.split(",")[0]) for line in lines[1:]] == [orders[3].id, orders[1].id]


def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised() -> None:
    assert listing._csv_safe("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert listing._csv_safe("Acme") == "Acme"


async def test_login_gives_a_session_only_for_the_right_password(store, sunsky) -> None:
    ctx = context(store, sunsky)
    await accounts.add_user(ctx, "alice", "operator", "correct horse")
    assert await accounts.login(ctx, "alice", "wrong horse") is None
    assert await accounts.login(ctx, "nobody", "correct horse") is None
    session = await accounts.login(ctx, "alice", "correct horse")
    assert session is not None
    found = await accounts.session_for(ctx, session.session_id)
    assert found is not None and found.user.name == "alice"
    stored = store.users["alice"][1]
    assert stored.startswith("$argon2") and "correct horse" not in stored
    assert session.session_id not in str(store.sessions)  # only its hash is kept
    await accounts.logout(ctx, session.session_id)
    assert await accounts.session_for(ctx, session.session_id) is None


async def test_tokens_are_shown_once_and_stored_hashed(store, sunsky) -> None:
    ctx = context(store, sunsky)
    await accounts.add_user(ctx, "bot", "viewer", "long enough")
    token = await accounts.create_token(ctx, "bot")
    assert token not in str(store.tokens)
    user = await accounts.user_for_token(ctx, token)
    assert user is not None and user.role == "viewer" and not accounts.may_act(user)
    assert await accounts.user_for_token(ctx, token + "x") is None
    assert await accounts.remove_user(ctx, "bot")
    assert await accounts.user_for_token(ctx, token) is None


@pytest.mark.parametrize(("name", "role", "password", "why"), [
    ("al ice", "operator", "long enough", "user name"), ("alice", "admin", "long enough", "role"),
    ("alice", "viewer", "short", "at least 8")])
async def test_bad_accounts_are_refused_with_the_reason(store, sunsky, name, role, password,
                                                        why) -> None:
    with pytest.raises(accounts.AccountError, match=why):
        await accounts.add_user(context(store, sunsky), name, role, password)


async def test_a_second_user_with_a_taken_name_is_refused(store, sunsky) -> None:
    ctx = context(store, sunsky)
    await accounts.add_user(ctx, "alice", "viewer", "long enough")
    with pytest.raises(accounts.AccountError, match="exists"):
        await accounts.add_user(ctx, "alice", "operator", "long enough")


async def test_bulk_retry_reports_each_order_and_records_who(store, sunsky) -> None:
    fixable = await add_order(store, 1, code="SERVER_ERROR")
    placed = await add_order(store, 2, status=OrderStatus.PLACED)
    results = await bulk.run_bulk(context(store, sunsky), "retry", [fixable.id, placed.id, 999],
                                  actor="admin:alice")
    assert [(r.order_id, r.ok, r.outcome) for r in results] == [
        (fixable.id, True, "queued"), (placed.id, False, "skipped"), (999, False, "not_found")]
    assert store.orders[fixable.id].status == OrderStatus.READY_TO_PLACE
    assert store.history[fixable.id][-1].actor == "admin:alice"


async def test_an_idempotency_key_replays_the_first_answer_and_refuses_another_request(
        store, sunsky) -> None:
    ctx = context(store, sunsky)
    first = idempotency.fingerprint("POST", "/x", b"{}")
    assert (await idempotency.claim(ctx, 1, "k", first)).state == "new"
    assert (await idempotency.claim(ctx, 1, "k", first)).state == "running"
    await idempotency.complete(ctx, 1, "k", 200, {"ok": True})
    again = await idempotency.claim(ctx, 1, "k", first)
    assert (again.state, again.status_code, again.body) == ("done", 200, {"ok": True})
    other = idempotency.fingerprint("POST", "/x", b'{"a": 1}')
    assert (await idempotency.claim(ctx, 1, "k", other)).state == "mismatch"
    assert (await idempotency.claim(ctx, 2, "k", other)).state == "new"  # per user


async def test_billing_says_how_much_to_top_up(store, sunsky: FakeSunsky) -> None:
    sunsky.balance = Decimal("5")
    await add_order(store, 1, code="BALANCE_NOT_ENOUGH", quoted_total=Decimal("14.93"))
    await add_order(store, 2, code="BALANCE_NOT_ENOUGH", quoted_total=Decimal("10.07"))
    view = await billing(context(store, sunsky))
    assert view.waiting.orders == 2 and view.waiting.amount == Decimal("25.00")
    assert view.top_up == Decimal("20.00") and "Top up at least 20.00 USD" in view.hint


async def test_billing_without_sunsky_still_shows_what_waits(store, sunsky: FakeSunsky) -> None:
    await add_order(store, 1, code="BALANCE_NOT_ENOUGH", quoted_total=Decimal("3"))

    async def down() -> Decimal:
        raise SunskyTransientError("CONNECT_FAILED", ["refused"], endpoint="getBalance")

    sunsky.get_balance = down  # type: ignore[method-assign]
    view = await billing(context(store, sunsky))
    assert view.balance is None and "CONNECT_FAILED" in (view.sunsky_error or "")
    assert view.waiting.orders == 1


async def test_failures_are_grouped_by_code_with_the_fix(store, sunsky) -> None:
    for n in range(3):
        await add_order(store, n + 1, code="OUT_OF_STOCK")
    await add_order(store, 9, code="ADDRESS_MISSING")
    groups = await failure_summary(context(store, sunsky))
    assert [(g.code, g.count) for g in groups] == [("OUT_OF_STOCK", 3), ("ADDRESS_MISSING", 1)]
    assert "restock" in groups[0].fix_hint


async def test_health_names_silent_services_and_keeps_going_without_the_broker(
        store: FakeStore, sunsky, clock) -> None:
    async with FakeUnitOfWork(store) as uow:
        await uow.health.beat("placer", "h:1", NOW, NOW - timedelta(seconds=5))
        await uow.health.beat("placer", "h:2", NOW, NOW - timedelta(minutes=5))
        await uow.commit()

    async def broker_down(topics: object) -> dict[str, int]:
        raise ConnectionRefusedError("no broker")

    view = await health(context(store, sunsky, clock), broker_down)
    by_name = {s.service: s for s in view.services}
    assert set(EXPECTED_SERVICES) <= set(by_name)
    assert by_name["placer"].alive == 1 and by_name["tracker"].alive == 0
    assert "no broker" in (view.broker_error or "") and view.database_error is None
    assert isinstance(by_name["placer"].processes[0], Heartbeat)


def test_the_health_page_expects_every_worker_the_cli_runs() -> None:
    from cli.worker_cmd import SERVICES

    assert set(EXPECTED_SERVICES) == set(SERVICES)


def test_the_api_offers_every_replayable_topic() -> None:
    from typing import get_args

    from services.admin.models import ReplayTopic

    assert get_args(ReplayTopic) == REPLAYABLE_TOPICS


async def test_badges_and_buttons_follow_the_order(store, sunsky) -> None:
    failed = await add_order(store, 1, code="ADDRESS_INCOMPLETE")
    assert allowed_actions(failed) == allowed_actions(failed).__class__(
        place=False, retry=True, refresh=False, edit_address=True)
    assert badges(failed).sunsky.tone == "bad"
    shipped = replace(failed, status=OrderStatus.SHIPPED,
                      sunsky=SunskyPlacement("2611270001", 3, None, None, None),
                      shipping=replace(failed.shipping, tracking_number="YT1"))
    actions = allowed_actions(shipped)
    assert actions.refresh and not actions.edit_address and not actions.retry
    assert badges(shipped).shipping.label == "Shipped: YT1"
    assert badges(shipped).sunsky.label == "SUNSKY 2611270001: shipped"
