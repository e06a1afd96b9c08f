"""Writing outgoing messages into the outbox, inside the caller's unit of work."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from pydantic import BaseModel

from shared.db.repository import UnitOfWork

H_MESSAGE_ID = "message_id"
H_TYPE = "type"


def new_message_id() -> str:
    return uuid.uuid4().hex


def utcnow() -> datetime:
    return datetime.now(UTC)


async def emit(uow: UnitOfWork, topic: str, key: str | None, message: BaseModel,
               extra_headers: dict[str, str] | None = None) -> None:
    """Queue ``message`` on ``topic``: published by the relay after the transaction commits."""
    headers = {H_MESSAGE_ID: str(getattr(message, "message_id", "")),
               H_TYPE: str(getattr(message, "type", type(message).__name__))}
    headers.update(extra_headers or {})
    await uow.outbox.add(topic, key, message.model_dump_json().encode(),
                                [(k, v.encode()) for k, v in headers.items()])
