"""The sandbox's knobs, fixed when it starts (faults and callbacks change at run time instead).

Everything here is a sandbox setting, not SUNSKY behaviour. The duplicate-``siteNumber`` text is
configurable because the only evidence for it is a third-party client matching ``已下单``
(sunsky-open-api.md section 7); the real wording is unknown.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from shared.settings import SANDBOX_API_KEY, SANDBOX_API_SECRET

DEFAULT_DUPLICATE_SITE_NUMBER_MESSAGE = (
    "该订单已下单 / order already placed: siteNumber={site_number}"
)


@dataclass
class SandboxConfig:
    """How one sandbox instance behaves.

    ``auto_advance_seconds``: when set (``dropship dev``), a background loop moves every paid
    order one step (paid -> shipped -> delivered) after that many seconds per step.
    ``callback_url``: a callback URL registered from the start (SUNSKY registers it through your
    sales manager; tests and demos usually use ``POST /_sandbox/callbacks`` instead).
    ``duplicate_site_number_message``: ``str.format`` template with ``{site_number}``.
    ``dedupe``: refuse a reused ``siteNumber`` (the default; what a third-party client suggests
    SUNSKY does). Off (``dropship sandbox --no-dedupe``, ``POST /_sandbox/dedupe``): a reused
    ``siteNumber`` creates a second order, as the worst-case SUNSKY would. Tests that prove the
    one-order guarantee switch it off, so the sandbox cannot hide a duplicate.
    """

    api_key: str = SANDBOX_API_KEY
    api_secret: str = SANDBOX_API_SECRET
    initial_balance: Decimal = Decimal("10000.0000")
    callback_retry_seconds: float = 300.0
    auto_advance_seconds: float | None = None
    callback_url: str | None = None
    duplicate_site_number_message: str = DEFAULT_DUPLICATE_SITE_NUMBER_MESSAGE
    dedupe: bool = True
