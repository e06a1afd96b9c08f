"""The ingest's handler on fakes (the ledger's fake waits like PostgreSQL does: see
tests/integration/test_ingest_ledger.py): every answer of the table in services/ingest/handlers.py
and what was published for it."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest
from aiokafka.errors import KafkaConnectionError
from pydantic import SecretStr

from devtools.perfex_events import encode, invoice_event
from services.ingest.handlers import Ingest
from shared.settings import ConfigurationError, Settings
from shared.webhooks import parse_keys, signed_headers
from tests.fakes import FakeIngestLedger, FakePublisher

SECRET = "whsec_c3Vuc2t5LWRyb3BzaGlwLXNoYXJlZC12ZWN0b3Ita2V5"
NOW = 1_795_688_100.0
PERSONAL = ("Jane", "Doe", "jane@example.com", "Elm St", "+1 312")


class Rig:
    def __init__(self, **settings: object) -> None:
        self.settings = Settings(ingest_secret=SecretStr(SECRET), topic_prefix="p.", **settings)
        self.ledger, self.publisher = FakeIngestLedger(), FakePublisher()
        self.now = NOW
        self.ingest = Ingest(self.settings, self.ledger, self.publisher, clock=lambda: self.now)

    async def post(self, body: bytes, webhook_id: str = "evt-1", *, secret: str = SECRET,
                   at: float | None = None, **override: str) -> tuple[int, dict[str, object]]:
        headers = signed_headers(parse_keys(secret), webhook_id, body, at or self.now)
        answer = await self.ingest.receive({**headers, **override}, body)
        return answer.status, {**answer.body, **{f"header:{k}": v
                                                 for k, v in answer.headers.items()}}


def event(invoice_id: str = "42", event_type: str = "invoice.paid") -> bytes:
    return encode(invoice_event(event_type, invoice_id))


async def test_an_event_is_published_as_received_keyed_by_invoice_with_its_webhook_id() -> None:
    rig, body = Rig(), event("42")

    assert await rig.post(body, "evt-1") == (
        202, {"status": "accepted", "webhook_id": "evt-1", "topic": "invoice.paid"})

    [(topic, key, value, headers)] = rig.publisher.records
    assert (topic, key, value) == ("p.invoice.paid", "42", body)
    assert dict(headers) == {"message_id": b"evt-1", "type": b"invoice.paid"}


async def test_created_events_go_to_their_own_topic() -> None:
    rig = Rig()
    await rig.post(event("7", "invoice.created"), "evt-c")
    assert [r[0] for r in rig.publisher.records] == ["p.invoice.created"]


async def test_a_duplicate_is_accepted_again_and_not_published_twice() -> None:
    rig, body = Rig(), event()
    await rig.post(body, "evt-1")
    rig.now += 3600  # the module's cron re-sends an hour later, freshly signed

    status, answer = await rig.post(body, "evt-1")

    assert (status, answer["status"]) == (202, "duplicate")
    assert len(rig.publisher.records) == 1


async def test_concurrent_duplicates_are_published_once() -> None:
    rig, body = Rig(), event()
    answers = await asyncio.gather(*(rig.post(body, "evt-race") for _ in range(20)))
    assert sorted(a[1]["status"] for a in answers) == ["accepted"] + ["duplicate"] * 19
    assert len(rig.publisher.records) == 1


async def test_a_reused_webhook_id_with_another_body_is_refused_visibly() -> None:
    rig = Rig()
    await rig.post(event("42"), "evt-1")
    status, answer = await rig.post(event("43"), "evt-1")
    assert (status, answer["error"]) == (409, "webhook_id_reused")
    assert [r[1] for r in rig.publisher.records] == ["42"]


@pytest.mark.parametrize(("override", "reason"), [
    ({"webhook-signature": "v1,AAAA"}, "invalid_signature"),
    ({"webhook-signature": ""}, "missing_headers"),
    ({"webhook-timestamp": "yesterday"}, "invalid_timestamp"),
])
async def test_a_bad_signature_is_401_with_the_reason(override: dict[str, str],
                                                      reason: str) -> None:
    rig = Rig()
    status, answer = await rig.post(event(), **override)
    assert (status, answer["error"]) == (401, reason)
    assert rig.publisher.records == [] and rig.ledger.accepted == {}


async def test_another_secret_is_401() -> None:
    rig = Rig()
    other = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY"
    assert (await rig.post(event(), secret=other))[0] == 401
    assert rig.publisher.records == []


@pytest.mark.parametrize("skew", [-301, 301])
async def test_a_timestamp_more_than_five_minutes_away_is_401(skew: int) -> None:
    rig = Rig()
    status, answer = await rig.post(event(), at=NOW + skew)
    assert (status, answer["error"]) == (401, "stale_timestamp")
    assert rig.publisher.records == []


async def test_both_secrets_of_a_rotation_are_accepted() -> None:
    new = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY"
    rig = Rig()
    rig.ingest = Ingest(rig.settings.model_copy(update={
        "ingest_secret": SecretStr(f"{new} {SECRET}")}), rig.ledger, rig.publisher,
        clock=lambda: NOW)
    assert (await rig.post(event("1"), "a", secret=SECRET))[0] == 202
    assert (await rig.post(event("2"), "b", secret=new))[0] == 202


@pytest.mark.parametrize(("body", "status", "error"), [
    (b"not json", 400, "invalid_json"),
    (b"\xff\xfe{", 400, "invalid_json"),
    (b'{"event_type": "sunsky_dropship.connection_test"}', 422, "unknown_event_type"),
    (b"{}", 422, "unknown_event_type"),
    (b"[1, 2]", 422, "schema_violation"),
    (b'{"event_type": "invoice.paid", "event_id": "x"}', 422, "schema_violation"),
])
async def test_bodies_that_are_not_contract_events(body: bytes, status: int, error: str) -> None:
    rig = Rig()
    got, answer = await rig.post(body)
    assert (got, answer["error"]) == (status, error)
    assert rig.publisher.records == [] and rig.ledger.accepted == {}


async def test_a_wrong_shape_names_the_fields_and_logs_no_personal_data(
        caplog: pytest.LogCaptureFixture) -> None:
    rig = Rig()
    broken = invoice_event("invoice.paid", "42")
    broken["data"]["invoice"]["items"][0]["qty"] = "two"
    del broken["data"]["invoice"]["total"]

    with caplog.at_level(logging.INFO):
        status, answer = await rig.post(json.dumps(broken).encode())

    assert status == 422
    assert any("data.invoice.total" in f for f in answer["fields"])  # type: ignore[union-attr]
    assert any("data.invoice.items.0.qty" in f for f in answer["fields"])  # type: ignore[union-attr]
    assert "data.invoice.items.0.qty" in caplog.text
    assert not [p for p in PERSONAL if p in caplog.text]


async def test_an_unstorable_webhook_id_is_400() -> None:
    rig = Rig()
    assert (await rig.post(event(), "x" * 256))[1]["error"] == "invalid_webhook_id"
    assert (await rig.post(event(), "has space"))[1]["error"] == "invalid_webhook_id"
    assert rig.publisher.records == []


async def test_broker_down_is_503_with_retry_after_and_nothing_remembered() -> None:
    rig, body = Rig(ingest_retry_after_seconds=17), event()
    rig.publisher.fail = KafkaConnectionError("no broker")

    status, answer = await rig.post(body)

    assert (status, answer["error"], answer["header:Retry-After"]) == (
        503, "broker_unavailable", "17")
    assert rig.ledger.accepted == {}
    rig.publisher.fail = None
    assert (await rig.post(body))[1]["status"] == "accepted"  # the re-send goes through
    assert len(rig.publisher.records) == 1


async def test_a_broker_that_never_answers_is_503_within_the_publish_timeout() -> None:
    rig = Rig(ingest_publish_timeout_seconds=0.05)

    async def hang(*args: object) -> None:
        await asyncio.Event().wait()

    rig.publisher.publish_many = hang  # type: ignore[method-assign]
    status, answer = await asyncio.wait_for(rig.post(event()), 5)
    assert (status, answer["error"]) == (503, "broker_unavailable")
    assert rig.ledger.accepted == {}


async def test_database_down_is_503_and_nothing_published() -> None:
    rig = Rig()
    rig.ledger.fail_claim = ConnectionRefusedError("no PostgreSQL")
    status, answer = await rig.post(event())
    assert (status, answer["error"], "header:Retry-After" in answer) == (
        503, "database_unavailable", True)
    assert rig.publisher.records == []


async def test_a_lost_commit_after_the_broker_acked_still_answers_202(
        caplog: pytest.LogCaptureFixture) -> None:
    rig = Rig()
    rig.ledger.fail_confirm = ConnectionResetError("PostgreSQL went away")
    assert (await rig.post(event()))[0] == 202
    assert len(rig.publisher.records) == 1
    assert "could not record their webhook ids" in caplog.text


@pytest.mark.parametrize("secret", ["", "not-a-secret", "whsec_***"])
def test_the_ingest_refuses_to_start_without_a_usable_secret(secret: str) -> None:
    with pytest.raises(ConfigurationError, match="INGEST_SECRET"):
        Ingest(Settings(ingest_secret=SecretStr(secret)), FakeIngestLedger(), FakePublisher())


# --- group commit (services/ingest/batching.py) -------------------------------------------
async def test_concurrent_events_share_claims_and_each_gets_its_own_answer() -> None:
    rig = Rig()
    invoices = range(1, 41)  # Perfex invoice ids start at 1
    answers = await asyncio.gather(*(rig.post(event(str(n)), f"evt-{n}") for n in invoices))
    assert [a[1]["status"] for a in answers] == ["accepted"] * 40
    assert len(rig.publisher.records) == 40
    assert len(rig.ledger.claims) < 40  # grouped: fewer transactions than events
    assert sorted(i for c in rig.ledger.claims for i in c) == sorted(f"evt-{n}" for n in invoices)


async def test_one_event_the_broker_refuses_is_503_and_the_rest_of_its_group_202() -> None:
    rig = Rig()
    rig.publisher.fail_keys["13"] = KafkaConnectionError("partition leader gone")
    invoices = range(1, 21)  # Perfex invoice ids start at 1
    answers = await asyncio.gather(*(rig.post(event(str(n)), f"evt-{n}") for n in invoices))

    statuses = {f"evt-{n}": a[0] for n, a in zip(invoices, answers, strict=True)}
    assert statuses.pop("evt-13") == 503 and set(statuses.values()) == {202}
    assert "evt-13" not in rig.ledger.accepted and len(rig.ledger.accepted) == 19
    del rig.publisher.fail_keys["13"]
    assert (await rig.post(event("13"), "evt-13"))[1]["status"] == "accepted"


async def test_a_bug_while_publishing_answers_500_for_the_group_and_remembers_nothing() -> None:
    rig = Rig()
    rig.publisher.fail = ZeroDivisionError("a bug")
    with pytest.raises(ZeroDivisionError):
        await rig.post(event())
    assert rig.ledger.accepted == {}
