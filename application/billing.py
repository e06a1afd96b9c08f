"""The Billing page: the SUNSKY balance, its recent movements (``getBillList``), what the
orders waiting for money need together, and how much to top up.

The database part and the SUNSKY part fail apart: SUNSKY away still shows what is waiting.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from application.context import AdminContext
from shared.db.admin import MoneyWait
from shared.sunsky.errors import SunskyError
from shared.sunsky.models import Bill

BILL_DAYS = 30


@dataclass(frozen=True)
class Billing:
    waiting: MoneyWait
    balance: Decimal | None = None
    bills: list[Bill] = field(default_factory=list)
    sunsky_error: str | None = None  # why balance and bills are missing

    @property
    def top_up(self) -> Decimal | None:
        """The least top-up that lets every waiting order go, when it is known."""
        if self.balance is None or self.waiting.amount <= self.balance:
            return None
        return self.waiting.amount - self.balance

    @property
    def hint(self) -> str:
        if self.waiting.orders == 0:
            return "No order is waiting for money."
        if self.top_up is not None:
            return (f"Top up at least {self.top_up:.2f} USD at SUNSKY: {self.waiting.orders} "
                    "order(s) wait for money and are retried by themselves, oldest first, "
                    "once the balance covers them.")
        return (f"{self.waiting.orders} order(s) wait for money; the balance covers them and "
                "they are retried at the next balance check.")


def describe_sunsky_error(exc: SunskyError) -> str:
    detail = "; ".join(exc.messages) or "no details"
    return f"SUNSKY did not answer ({exc.code}: {detail}). {exc.fix_hint}"


async def billing(ctx: AdminContext, *, days: int = BILL_DAYS) -> Billing:
    async with ctx.uow() as uow:
        waiting = await uow.overview.waiting_for_money()
    today = ctx.clock().date()
    try:
        balance = await ctx.sunsky.get_balance()
        page = await ctx.sunsky.get_bill_list(created_from=today - timedelta(days=days),
                                              created_to=today, page_size=50)
    except SunskyError as exc:
        return Billing(waiting, sunsky_error=describe_sunsky_error(exc))
    return Billing(waiting, balance, list(page.bills))
