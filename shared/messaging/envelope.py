"""One consumed Kafka record, independent of Faust, with what every log line needs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Envelope:
    topic: str
    partition: int
    offset: int
    key: str | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ()
    timestamp: float | None = None

    def header(self, name: str) -> str | None:
        for key, value in reversed(self.headers):
            if key == name:
                return value.decode("utf-8", "replace")
        return None

    def where(self) -> str:
        return f"{self.topic}[{self.partition}]@{self.offset}"

    @classmethod
    def from_faust(cls, event: Any) -> Envelope:
        message = event.message
        return cls(
            topic=message.topic, partition=message.partition, offset=message.offset,
            key=_text(message.key), value=_bytes(event.value),
            headers=_headers(message.headers), timestamp=message.timestamp,
        )


def _text(key: Any) -> str | None:
    if key is None:
        return None
    return key.decode("utf-8", "replace") if isinstance(key, bytes) else str(key)


def _bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    return b"" if value is None else str(value).encode()


def _headers(headers: Any) -> tuple[tuple[str, bytes], ...]:
    if not headers:
        return ()
    items: Sequence[Any] = list(headers.items()) if isinstance(headers, dict) else list(headers)
    return tuple((str(k), v if isinstance(v, bytes) else str(v).encode()) for k, v in items)
