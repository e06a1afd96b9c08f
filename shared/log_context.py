"""What a log line is about, kept per asyncio task (STYLE.md point 12).

The agent starts a context for each message it takes (topic, partition, offset, key) and the
handler's decoding adds the message id and the order id once it knows them; the JSON log
format (``shared.logs``) writes them into every line logged while that message is handled.
Each partition's actor is its own task, so concurrent messages never mix their context.
Only ids go here, never customer data.
"""

from __future__ import annotations

from contextvars import ContextVar

_CONTEXT: ContextVar[dict[str, object] | None] = ContextVar("dropship_log_context",
                                                            default=None)


def start_message(**fields: object) -> None:
    """A new message: forget the previous one's fields."""
    _CONTEXT.set({k: v for k, v in fields.items() if v is not None})


def bind(**fields: object) -> None:
    """Add what became known (message id, order id) to the current message's context."""
    current = _CONTEXT.get()
    known = {k: v for k, v in fields.items() if v is not None}
    if current is None:
        _CONTEXT.set(known)
    else:
        current.update(known)


def current_context() -> dict[str, object]:
    return dict(_CONTEXT.get() or {})
