"""Logging set-up, done once at start-up (STYLE.md point 12).

Every module does ``logger = logging.getLogger(__name__)``. Lines about a message carry its
order id, event id and topic/partition/offset through ``extra=``/the message text. A filter masks
anything that looks like a SUNSKY signature or secret in case one slips into a formatted line,
and the secrets themselves (``register_secret``: the SUNSKY secret, the database password)
wherever they appear.

The filter sits on the root logger's handlers. Faust's worker replaces those handlers when it
starts (mode's ``setup_logging``), so ``shared.messaging.faust_app`` installs it again on the
new ones (``install_redaction``) before any agent runs.

``LOG_FORMAT=json`` (``configure_logging(fmt="json")``) writes one JSON object per line
instead: time, level, logger, message, the exception if any, and the message context an agent
or handler bound (``shared.log_context``: topic, partition, offset, message id, order id). The
same filter redacts it, and the formatter redacts each field once more.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime

from shared.log_context import current_context

_SECRET_PATTERNS = (
    re.compile(r"(signature=)[0-9a-fA-F]{32}"),
    re.compile(r"(secret[\"']?\s*[:=]\s*[\"']?)[^\s\"'&,]+", re.IGNORECASE),
    re.compile(r"(://[^:/@\s]+:)[^@\s]+(@)"),
    re.compile(r"(whsec_)[A-Za-z0-9+/=]+"),  # Standard Webhooks secrets (the Perfex connector)
)


_KNOWN: set[str] = set()
_MIN_SECRET = 6  # shorter values would mask ordinary words


def register_secret(*values: str | None) -> None:
    """Mask these values in every log line from now on (empty or very short ones are ignored)."""
    _KNOWN.update(v for v in values if v and len(v) >= _MIN_SECRET)


class RedactSecrets(logging.Filter):
    """Masks signatures, ``secret=...`` pairs, URL passwords and registered secrets in the final
    message and in a logged exception's text."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def install_redaction(logger: logging.Logger | None = None) -> None:
    """Put the filter on every handler of ``logger`` (the root) that lacks it, and the JSON
    formatter when ``LOG_FORMAT=json`` was configured."""
    for handler in (logger or logging.getLogger()).handlers:
        if not any(isinstance(f, RedactSecrets) for f in handler.filters):
            handler.addFilter(RedactSecrets())
        if _FORMAT == "json" and not isinstance(handler.formatter, JsonFormatter):
            handler.setFormatter(JsonFormatter())


class JsonFormatter(logging.Formatter):
    """One JSON object per line; context fields only where known."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname, "logger": record.name,
            "message": redact(record.getMessage()),
        }
        data.update({k: redact(v) if isinstance(v, str) else v
                     for k, v in current_context().items()})
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            data["exception"] = redact(record.exc_text)
        return json.dumps(data, ensure_ascii=False, default=str)


_FORMAT = "text"


def redact(text: str) -> str:
    for secret in _KNOWN:
        text = text.replace(secret, "***")
    for pattern in _SECRET_PATTERNS:
        if pattern.groups == 2:
            text = pattern.sub(r"\1***\2", text)
        else:
            text = pattern.sub(r"\1***", text)
    return text


def configure_logging(level: str = "INFO", fmt: str = "text") -> None:
    global _FORMAT
    _FORMAT = fmt
    root = logging.getLogger()
    if any(getattr(h, "_dropship", False) for h in root.handlers):
        root.setLevel(level.upper())
        install_redaction(root)
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else
                         logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactSecrets())
    handler._dropship = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Services (INFO) keep the libraries' warnings; admin commands (WARNING and up) print
    # their own one-line error, so aiokafka's per-reconnect errors would only bury it.
    libraries = logging.WARNING if root.level <= logging.INFO else logging.CRITICAL
    for noisy in ("aiokafka", "faust", "mode", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(libraries)
