"""The SUNSKY port: what the services and the admin use cases call on SUNSKY (STYLE.md 6).

``shared.sunsky.client.SunskyClient`` is the real adapter (signed HTTP); ``tests.fakes.FakeSunsky``
is the in-memory one the unit tests use. mypy checks that both satisfy this ``Protocol``, and
one contract suite (tests/integration/test_sunsky_port_contract.py) holds both to the same
behaviour, run against the sandbox over real HTTP for the client.

Errors are the ``shared.sunsky.errors`` hierarchy for both.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Protocol

from shared.sunsky.deadline import Confirm, Deadline
from shared.sunsky.models import (
    BillPage,
    Country,
    CreateOrderRequest,
    OrderPage,
    Quote,
    SunskyOrder,
)


class Sunsky(Protocol):
    async def get_countries(self) -> list[Country]: ...

    async def get_prices_and_freights(self, country_id: int, items: Sequence[tuple[str, int]],
                                      state: str | None = None) -> Quote: ...

    async def create_order(self, req: CreateOrderRequest, *, deadline: Deadline | None = None,
                           confirm: Confirm | None = None) -> SunskyOrder:
        """Sent once; after an unknown outcome, ``find_order_by_site_number`` tells.

        With ``deadline``, the request leaves only before it (the wait for a call slot
        included) and its answer is awaited no longer; ``confirm`` is awaited right before it
        leaves, and a reason it returns refuses the send. Refused, it raises
        ``SunskyNotSentError``: it never left, nothing of it can arrive at SUNSKY later."""
        ...

    async def get_order_details(self, number: str) -> SunskyOrder: ...

    async def get_order_list(self, *, created_from: date, created_to: date, page: int = 1,
                             page_size: int = 100, status: int | None = None,
                             site_number: str | None = None) -> OrderPage:
        """One page of orders created in the window (inclusive), newest first."""
        ...

    async def find_order_by_site_number(self, site_number: str, *, not_before: datetime,
                                        max_calls: int | None = None) -> SunskyOrder | None:
        """The order with ``site_number`` created no earlier than ``not_before`` (SUNSKY's time
        zone aside), a live one before a cancelled one; None only when SUNSKY confirms there
        is none. Needing more than ``max_calls`` calls raises ``SunskyLookupBudgetError``."""
        ...

    async def get_balance(self) -> Decimal: ...

    async def get_bill_list(self, *, created_from: date, created_to: date, page: int = 1,
                            page_size: int = 100) -> BillPage: ...
