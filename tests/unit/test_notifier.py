"""The notifier on httpx's MockTransport (the HTTP seam) and a recording publisher, run under
the real error policy (``process``): what Perfex received, and what was dead-lettered."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest
from pydantic import SecretStr

from schemas.orders import OrderReady, OrderShipped
from services.notifier.app import bootstrap
from services.notifier.handlers import loggable_url
from shared.messaging.deadletter import DeadLetters
from shared.messaging.envelope import Envelope
from shared.messaging.policy import process
from shared.settings import ConfigurationError, Settings
from shared.webhooks import parse_keys, verify
from tests.fakes import FakePublisher

SECRET = "whsec_c3Vuc2t5LWRyb3BzaGlwLXNoYXJlZC12ZWN0b3Ita2V5"
URL = "https://crm.example.com/sunsky_dropship/webhook"
Answer = Callable[[httpx.Request], httpx.Response]


def shipped(message_id: str = "msg-1") -> bytes:
    return OrderShipped(message_id=message_id, order_id=9, invoice_id="42",
                        occurred_at=datetime(2026, 12, 1, tzinfo=UTC), sunsky_order_number="SO-9",
                        tracking_number="RR1", tracking_url="https://t/RR1").model_dump_json(
        ).encode()


class Rig:
    def __init__(self, *answers: Answer | type[Exception], **settings: object) -> None:
        self.answers, self.received, self.slept = list(answers), [], []  # type: ignore[var-annotated]
        self.settings = Settings(perfex_webhook_url=URL, perfex_webhook_secret=SecretStr(SECRET),
                                 **{"notifier_backoff_seconds": 1.0, **settings})
        self.publisher = FakePublisher()
        transport = httpx.MockTransport(self._answer)
        resources, self.notifier = bootstrap(self.settings, publisher=self.publisher,
                                             transport=transport)
        self.now = 1000.0
        self.notifier.sleep, self.notifier.clock = self._sleep, lambda: self.now
        self.client = resources.client

    def _answer(self, request: httpx.Request) -> httpx.Response:
        self.received.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, type):
            raise answer("simulated", request=request)  # type: ignore[call-arg]
        return answer(request)

    async def _sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    async def run(self, value: bytes, topic: str = "order.shipped") -> str:
        envelope = Envelope(topic, 0, 5, "42", value, (("message_id", b"msg-1"),))
        return await process(envelope, self.notifier.handle,
                             DeadLetters(self.publisher, "notifier"))

    def dead_letter(self) -> tuple[str, bytes, dict[str, str]]:
        [(topic, _, value, headers)] = self.publisher.records
        return topic, value, {k: v.decode() for k, v in headers}


def status(code: int, body: bytes = b"{}", **headers: str) -> Answer:
    return lambda request: httpx.Response(code, content=body, headers=headers)


async def test_a_message_is_posted_as_published_and_signed_with_its_message_id() -> None:
    rig, body = Rig(status(200, b'{"status": "applied"}')), shipped("msg-7")

    assert await rig.run(body) == "done"

    [request] = rig.received
    assert (str(request.url), request.content) == (URL, body)
    headers = dict(request.headers)
    assert verify(parse_keys(SECRET), headers, body, now=time.time()).msg_id == "msg-7"
    assert rig.publisher.records == []


async def test_a_5xx_is_retried_with_backoff_and_delivered_once() -> None:
    rig = Rig(status(500), status(503), status(200))
    assert await rig.run(shipped()) == "done"
    assert len(rig.received) == 3 and rig.slept == [1.0, 2.0]
    assert len({r.headers["webhook-id"] for r in rig.received}) == 1
    assert rig.publisher.records == []


@pytest.mark.parametrize("code", [400, 401, 404, 410, 422])
async def test_a_4xx_is_dead_lettered_at_once_with_the_answer(code: int) -> None:
    rig, body = Rig(status(code, b'{"error": "invalid_signature"}')), shipped()

    assert await rig.run(body) == "dead_lettered"

    assert len(rig.received) == 1 and rig.slept == []
    topic, value, headers = rig.dead_letter()
    assert (topic, value) == ("order.shipped.dlq", body)
    assert headers["dlq.reason"] == "perfex_refused"
    assert headers["dlq.http.status"] == str(code)
    assert headers["dlq.http.answer"] == '{"error": "invalid_signature"}'
    assert headers["dlq.original.topic"] == "order.shipped"
    assert "error=invalid_signature" in headers["dlq.error"]


@pytest.mark.parametrize("code", [408, 429])
async def test_408_and_429_are_retried(code: int) -> None:
    rig = Rig(status(code), status(204))
    assert await rig.run(shipped()) == "done"
    assert len(rig.received) == 2


async def test_retry_after_is_honoured() -> None:
    rig = Rig(status(429, **{"Retry-After": "7"}), status(200))
    await rig.run(shipped())
    assert rig.slept == [7.0]


async def test_a_redirect_is_not_followed_but_dead_lettered() -> None:
    rig = Rig(status(301, **{"Location": "https://elsewhere.example/"}))
    assert await rig.run(shipped()) == "dead_lettered"
    assert len(rig.received) == 1
    assert rig.dead_letter()[2]["dlq.http.status"] == "301"


@pytest.mark.parametrize("error", [httpx.ConnectError, httpx.ReadTimeout])
async def test_no_answer_is_retried_then_dead_lettered_after_the_last_attempt(
        error: type[Exception]) -> None:
    rig = Rig(error, notifier_max_attempts=3)

    assert await rig.run(shipped()) == "dead_lettered"

    assert len(rig.received) == 3 and rig.slept == [1.0, 2.0]
    headers = rig.dead_letter()[2]
    assert (headers["dlq.reason"], headers["dlq.http.status"], headers["dlq.attempts"]) == (
        "perfex_unreachable", "", "3")


async def test_the_budget_bounds_the_retries_whatever_the_attempt_count() -> None:
    rig = Rig(status(500), notifier_max_attempts=100, notifier_budget_seconds=10,
              notifier_backoff_seconds=3)
    assert await rig.run(shipped()) == "dead_lettered"
    # waits of 3 and 6 s fit in 10 s; the next (12 s) would end past it: three tries in all
    assert (rig.slept, len(rig.received)) == ([3.0, 6.0], 3)


async def test_a_retry_after_beyond_the_budget_gives_up_at_once() -> None:
    rig = Rig(status(503, **{"Retry-After": "3600"}), notifier_budget_seconds=60)
    assert await rig.run(shipped()) == "dead_lettered"
    assert len(rig.received) == 1 and rig.slept == []


async def test_what_is_not_a_notified_order_message_is_dead_lettered_unsent() -> None:
    rig = Rig(status(200))
    ready = OrderReady(message_id="m", order_id=1, invoice_id="1",
                       occurred_at=datetime(2026, 1, 1, tzinfo=UTC)).model_dump_json().encode()
    assert await rig.run(b"not json") == "dead_lettered"
    assert await rig.run(ready, topic="order.placed") == "dead_lettered"
    assert rig.received == []
    reasons = [dict(h)["dlq.reason"] for _, _, _, h in rig.publisher.records]
    assert reasons == [b"schema_violation", b"wrong_message_type"]


@pytest.mark.parametrize(("url", "secret", "says"), [
    (None, SECRET, "PERFEX_WEBHOOK_URL is not set"),
    ("ftp://crm/x", SECRET, "PERFEX_WEBHOOK_URL must be an http"),
    (URL, "", "PERFEX_WEBHOOK_SECRET"),
    (URL, "plain-text", "PERFEX_WEBHOOK_SECRET"),
])
def test_the_notifier_refuses_to_start_without_a_usable_target(url: str | None, secret: str,
                                                               says: str) -> None:
    settings = Settings(perfex_webhook_url=url, perfex_webhook_secret=SecretStr(secret))
    with pytest.raises(ConfigurationError, match=says) as refused:
        bootstrap(settings, publisher=FakePublisher())
    assert "\n" not in str(refused.value) and SECRET not in str(refused.value)


def test_logged_urls_carry_no_password_or_query() -> None:
    assert loggable_url("https://u:pw@crm.example.com/hook?token=abc") == (
        "https://u:***@crm.example.com/hook")
