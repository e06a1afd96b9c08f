"""Coded reasons an order needs a person (or a retry), with fix hints.

One table for codes our own checks raise; SUNSKY's codes come from ``shared.sunsky.errors``
and are stored the same way (code, kind, SUNSKY's message verbatim, fix hint).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import NamedTuple

from shared.domain.order import OrderError


class ErrorInfo(NamedTuple):
    kind: str
    message: str
    fix_hint: str


ORDER_ERRORS: dict[str, ErrorInfo] = {
    "ADDRESS_MISSING": ErrorInfo(
        "needs_action", "The invoice, the client and the billing data carry no address",
        "Add the address: dropship orders edit-address ID --street ... (and in Perfex), "
        "then dropship orders retry ID"),
    "ADDRESS_INCOMPLETE": ErrorInfo(
        "needs_action", "The shipping address is incomplete",
        "Complete it: dropship orders edit-address ID --street/--city/--postcode/--country, "
        "then dropship orders retry ID"),
    "RECIPIENT_MISSING": ErrorInfo(
        "needs_action", "No recipient name (primary contact or company)",
        "Set it: dropship orders edit-address ID --recipient NAME, then dropship orders retry ID"),
    "PHONE_MISSING": ErrorInfo(
        "needs_action", "No phone number for the recipient (SUNSKY requires one)",
        "Set it: dropship orders edit-address ID --phone NUMBER, then dropship orders retry ID"),
    "FRACTIONAL_QUANTITY": ErrorInfo(
        "needs_action", "A SUNSKY line has a fractional quantity",
        "Fix the line quantities to whole numbers, then retry"),
    "QUANTITY_NOT_POSITIVE": ErrorInfo(
        "needs_action", "A SUNSKY line has a quantity of zero or less",
        "Nothing can be ordered below 1: correct the invoice line in Perfex, and place the "
        "order by hand or leave this one in API Failed"),
    "QUANTITY_TOO_LARGE": ErrorInfo(
        "needs_action", "A SUNSKY line's quantity is above MAX_LINE_QUANTITY",
        "Check the quantity with the customer; if it is right, run MAX_LINE_QUANTITY=N "
        "dropship orders retry ID (and raise MAX_LINE_QUANTITY for the services)"),
    "FIELD_TOO_LONG": ErrorInfo(
        "needs_action", "A shipping detail is longer than SUNSKY takes",
        "Shorten it: dropship orders edit-address ID --recipient/--street/--city/--state/"
        "--postcode ..., then dropship orders retry ID"),
    "COUNTRY_NOT_SUPPORTED": ErrorInfo(
        "needs_action", "SUNSKY does not ship to this country",
        "Use an address in a country SUNSKY ships to, or cancel the order"),
    "STATE_INVALID": ErrorInfo(
        "needs_action", "SUNSKY needs a valid state for this country",
        "Correct it: dropship orders edit-address ID --state CODE, then dropship orders retry ID"),
    "SHIPPING_WAY_NOT_AVAILABLE": ErrorInfo(
        "needs_action", "SUNSKY offers no shipping way for this address and items",
        "Check the destination and the shipping-way policy, then retry"),
    "HANDLER_ERROR": ErrorInfo(
        "needs_action", "An unexpected error stopped the service handling this order",
        "Read the service log for this order (and its message in <topic>.dlq), fix the cause, "
        "then dropship orders retry ID"),
    "BALANCE_NOT_ENOUGH": ErrorInfo(
        "needs_action", "The SUNSKY balance does not cover the order",
        "Top up the SUNSKY balance; waiting orders are retried once it covers them"),
    "SUNSKY_ADDRESS_DIFFERS": ErrorInfo(
        "needs_action", "SUNSKY already holds this order under its siteNumber, shipping to "
        "another address than ours",
        "Compare both addresses (dropship orders show ID). To ship to ours: cancel the order at "
        "SUNSKY, then dropship orders retry ID (it is placed again under a new siteNumber). To "
        "keep SUNSKY's: dropship orders accept-sunsky-address ID"),
}


def top_up_hint(total: Decimal, has: str) -> str:
    """BALANCE_NOT_ENOUGH's hint with the amount this order needs."""
    return (f"Top up SUNSKY balance: needs {total:.2f} USD, {has}; waiting orders are retried "
            "once it covers them")


def order_error(code: str, now: datetime, *, detail: str | None = None) -> OrderError:
    info = ORDER_ERRORS[code]
    message = f"{info.message}: {detail}" if detail else info.message
    return OrderError(code=code, kind=info.kind, message=message, fix_hint=info.fix_hint, at=now)
