"""Every coded reason an order can carry in API Failed, in one catalogue.

Our own checks (``shared.domain.errors.ORDER_ERRORS``) and SUNSKY's classified errors
(``shared.sunsky.errors``) in one table: what the operator docs print (``dropship orders
codes``, README "Failure codes") and what a test holds the README to.
"""

from __future__ import annotations

from typing import NamedTuple

from shared.domain.errors import ORDER_ERRORS
from shared.sunsky import errors as sunsky
from shared.sunsky.lookup import SunskyLookupBudgetError


class FailureCode(NamedTuple):
    code: str
    kind: str
    source: str
    fix_hint: str


# Codes the SUNSKY client raises outside the envelope rules, with the class that raises them.
_TRANSPORT: tuple[tuple[str, type[sunsky.SunskyError]], ...] = (
    ("SERVER_ERROR", sunsky.SunskyTransientError),
    ("RATE_LIMITED", sunsky.SunskyTransientError),
    ("TIMEOUT", sunsky.SunskyTransientError),
    ("CONNECT_TIMEOUT", sunsky.SunskyTransientError),
    ("CONNECT_FAILED", sunsky.SunskyTransientError),
    ("NETWORK_ERROR", sunsky.SunskyTransientError),
    ("BAD_RESPONSE", sunsky.SunskyProtocolError),
    ("UNKNOWN_OUTCOME", sunsky.SunskyUnknownOutcomeError),
    ("LOOKUP_BUDGET_EXCEEDED", SunskyLookupBudgetError),
    ("UNKNOWN_BUSINESS_ERROR", sunsky.SunskyNeedsActionError),
)


def catalogue() -> list[FailureCode]:
    """One row per code; a code both sides raise keeps our hint and names both sources."""
    ours = [FailureCode(code, info.kind, "our checks", info.fix_hint)
            for code, info in ORDER_ERRORS.items()]
    envelope = [FailureCode(code, str(cls.kind), "SUNSKY answer", hint)
                for _, cls, code, hint in sunsky.ENVELOPE_RULES]
    transport = [FailureCode(code, str(cls.kind), "SUNSKY call", cls.default_hint)
                 for code, cls in _TRANSPORT]
    rows: dict[str, FailureCode] = {}
    for row in ours + envelope + transport:
        first = rows.get(row.code)
        rows[row.code] = row if first is None else first._replace(
            source=f"{first.source}, {row.source}")
    return list(rows.values())


def catalogue_markdown() -> str:
    rows = ["| code | class | from | what to do |", "|---|---|---|---|"]
    rows += [f"| `{c.code}` | {c.kind} | {c.source} | {c.fix_hint} |" for c in catalogue()]
    return "\n".join(rows)
