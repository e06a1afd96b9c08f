"""``dropship worker notifier`` as a process: it consumes what the tracker publishes, POSTs it
to a real HTTP receiver, dead-letters a refusal, stops on SIGHUP, and does not start at all
without a webhook URL."""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from devtools.supervisor import dropship_argv
from schemas.orders import OrderCancelled, OrderShipped
from shared.settings import TOPIC_ORDER_CANCELLED, TOPIC_ORDER_SHIPPED
from tests.e2e.conftest import Pipeline
from tests.fixtures.webhook_receiver import running_receiver

pytestmark = [pytest.mark.e2e]
SECRET = "whsec_" + base64.b64encode(b"notifier-e2e-test-secret-bytes!!").decode()


def test_without_a_webhook_url_the_notifier_refuses_to_start_in_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERFEX_WEBHOOK")}
    env.update(STATE_DIR=str(tmp_path), KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:1")
    started = time.monotonic()
    result = subprocess.run(dropship_argv("worker", "notifier"), env=env, capture_output=True,
                            text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert result.returncode == 1
    assert result.stderr.startswith("error: PERFEX_WEBHOOK_URL is not set"), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert time.monotonic() - started < 30  # it never waited for the (absent) broker


async def test_the_notifier_process_delivers_dead_letters_and_stops_on_sighup(
        pipeline_factory: Callable[..., Awaitable[Pipeline]]) -> None:
    async with running_receiver(SECRET) as receiver:
        receiver.script = [200, 400]
        p = await pipeline_factory(partitions=1, PERFEX_WEBHOOK_URL=receiver.url,
                                   PERFEX_WEBHOOK_SECRET=SECRET, NOTIFIER_TIMEOUT_SECONDS="2",
                                   NOTIFIER_BUDGET_SECONDS="5")
        await p.start("notifier")
        now = datetime.now(UTC)
        shipped = OrderShipped(message_id=uuid.uuid4().hex, order_id=1, invoice_id="71",
                               occurred_at=now, sunsky_order_number="SO-1",
                               tracking_number="RR71").model_dump_json().encode()
        cancelled = OrderCancelled(message_id=uuid.uuid4().hex, order_id=2, invoice_id="72",
                                   occurred_at=now, reason="out of stock").model_dump_json(
                                   ).encode()

        await p.publish(TOPIC_ORDER_SHIPPED, "71", shipped)
        await receiver.until(1)
        await p.publish(TOPIC_ORDER_CANCELLED, "72", cancelled)
        await receiver.until(2)

        assert [(body, valid) for _, body, valid in receiver.received] == [
            (shipped, True), (cancelled, True)]
        [dead] = await p.read_topic(TOPIC_ORDER_CANCELLED + ".dlq", expect=1)
        assert dead.value == cancelled
        assert dict(dead.headers)["dlq.http.status"] == b"400"

        child = p.supervisor.children["notifier"]
        os.killpg(child.process.pid, signal.SIGHUP)
        assert child.process.wait(20) == 0, p.log("notifier")[-2000:]
        assert len(receiver.received) == 2  # nothing was sent twice on the way out
