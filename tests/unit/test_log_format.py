"""LOG_FORMAT=json: one JSON object per line with the message context, redacted like text."""

from __future__ import annotations

import asyncio
import io
import json
import logging

import pytest

from shared import log_context, logs
from shared.logs import JsonFormatter, RedactSecrets, install_redaction, register_secret
from shared.settings import Settings


def json_logger(name: str) -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactSecrets())
    logger = logging.getLogger(name)
    logger.handlers[:], logger.propagate = [handler], False
    logger.setLevel(logging.INFO)
    return logger, stream


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_each_line_is_one_object_with_the_message_context() -> None:
    logger, stream = json_logger("test_log_format.context")

    async def handle(offset: int, order_id: int) -> None:  # each agent actor is its own task
        log_context.start_message(topic="order.ready", partition=1, offset=offset, key="k")
        await asyncio.sleep(0)
        log_context.bind(message_id=f"m{offset}", order_id=order_id)
        await asyncio.sleep(0)
        logger.info("placing\nover two lines")

    async def both() -> None:
        await asyncio.gather(handle(7, 70), handle(8, 80))

    asyncio.run(both())
    first, second = lines(stream)
    assert first["message"] == "placing\nover two lines" and first["level"] == "INFO"
    assert first["logger"] == "test_log_format.context" and str(first["time"]).endswith("+00:00")
    assert {k: first[k] for k in ("topic", "partition", "offset", "message_id", "order_id")} == {
        "topic": "order.ready", "partition": 1, "offset": 7, "message_id": "m7", "order_id": 70}
    assert (second["offset"], second["order_id"]) == (8, 80)  # no mixing between tasks


def test_a_line_outside_any_message_has_no_context_fields() -> None:
    logger, stream = json_logger("test_log_format.bare")
    asyncio.run(asyncio.to_thread(logger.info, "started"))  # a fresh context
    (line,) = lines(stream)
    assert set(line) == {"time", "level", "logger", "message"}


def test_secrets_and_signatures_are_masked_in_json_too_tracebacks_included() -> None:
    register_secret("Jx7-json-registered-secret")
    logger, stream = json_logger("test_log_format.secrets")
    try:
        raise RuntimeError("failed with Jx7-json-registered-secret")
    except RuntimeError:
        logger.exception("call signature=%s secret=%s db %s", "c908e6a13552aab42ce5f71adf78e21b",
                         "hunter2", "postgresql://u:pw@h/db")
    output = stream.getvalue()
    (line,) = lines(stream)
    for leaked in ("Jx7-json-registered-secret", "c908e6a1", "hunter2", ":pw@"):
        assert leaked not in output
    assert "RuntimeError" in str(line["exception"])


def test_the_handlers_faust_installs_get_the_json_formatter(monkeypatch) -> None:
    monkeypatch.setattr(logs, "_FORMAT", "json")
    stream = io.StringIO()
    logger = logging.getLogger("test_log_format.faust")
    logger.handlers[:], logger.propagate = [logging.StreamHandler(stream)], False
    install_redaction(logger)  # what Worker.on_setup_root_logger does
    logger.warning("secret=%s", "hunter2")
    (line,) = lines(stream)
    assert line["message"] == "secret=***"


def test_log_format_is_text_or_json() -> None:
    assert Settings().log_format == "text"
    assert Settings(log_format="json").log_format == "json"
    with pytest.raises(ValueError, match="log_format"):
        Settings(log_format="yaml")
