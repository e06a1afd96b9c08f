"""An order SUNSKY already holds under our siteNumber: is it the one we would send? (pure)

A look-up by siteNumber (after an unknown outcome, a crash, a duplicate answer) finds what an
earlier attempt created. Adopting it as Placed is right only when SUNSKY will ship where we
ship: a person may have corrected the address since that attempt left, and SUNSKY ships to the
old one. So the address SUNSKY holds is compared with what createOrder would send now
(receiver, phone, address lines, city, state, postcode, country id). When they differ, the
order goes to API Failed with ``SUNSKY_ADDRESS_DIFFERS`` and SUNSKY's address on record; a
person then cancels the SUNSKY order and retries (the look-up finds it cancelled and the order
is placed again under a fresh siteNumber), or accepts SUNSKY's address
(``accept_sunsky_address``). An order SUNSKY cancelled is never adopted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import Protocol

from shared.domain.errors import order_error
from shared.domain.order import (
    Order,
    OrderError,
    OrderStatus,
    ShippingInfo,
    ShipTo,
    SunskyAddress,
    SunskyPlacement,
    site_number_for,
)

ADDRESS_DIFFERS = "SUNSKY_ADDRESS_DIFFERS"
SUNSKY_CANCELLED = 4  # SUNSKY's status code (sunsky-open-api.md section 8)


class StateLike(Protocol):
    @property
    def code(self) -> str: ...
    @property
    def name(self) -> str: ...


class CountryLike(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def ship_to_state(self) -> bool: ...
    @property
    def states(self) -> Sequence[StateLike]: ...


def match_state(country: CountryLike, state: str | None) -> str | None:
    """The state code SUNSKY knows (by code or name); the given one where it needs none."""
    wanted = (state or "").strip().lower()
    for candidate in country.states:
        if wanted in {candidate.code.lower(), candidate.name.lower()}:
            return str(candidate.code)
    return None if country.ship_to_state else (state or None)


@dataclass(frozen=True)
class Found:
    """An order SUNSKY holds under our siteNumber, as a look-up read it, next to where
    createOrder would ship the order now (``ours``, ``expected_ship_to``)."""

    sunsky: SunskyPlacement
    address: SunskyAddress
    ours: ShipTo

    @property
    def differing(self) -> tuple[str, ...]:
        return differing_fields(self.ours, self.address.ship_to)

    @property
    def cancelled(self) -> bool:
        return self.sunsky.status == SUNSKY_CANCELLED


def expected_ship_to(order: Order, country: CountryLike | None) -> ShipTo:
    """The delivery address createOrder would send for the order as it is now."""
    s = order.shipping
    state = s.state if country is None else match_state(country, s.state)
    return ShipTo(receiver=s.recipient, telephone=s.phone, address=s.address_line1,
                  address2=s.address_line2, city=s.city, state=state, postcode=s.postcode,
                  country_id=None if country is None else country.id)


def differing_fields(ours: ShipTo, theirs: ShipTo | None) -> tuple[str, ...]:
    """SUNSKY field names whose values differ (blanks and spacing and case aside); every field
    when SUNSKY said nothing of where it ships (nothing can be shown to match)."""
    names = [f.name for f in fields(ShipTo)]
    if theirs is None:
        return tuple(names)
    return tuple(n for n in names if _norm(getattr(ours, n)) != _norm(getattr(theirs, n)))


def _norm(value: object) -> str:
    return " ".join(str(value or "").split()).casefold()


def address_differs(found: Found, now: datetime) -> OrderError:
    """Field names only: the addresses are on the order, never in messages that reach logs."""
    what = ("says nothing of where it ships" if found.address.ship_to is None
            else f"ships elsewhere ({', '.join(found.differing)} differ)")
    return order_error(ADDRESS_DIFFERS, now, detail=f"SUNSKY order {found.sunsky.number} "
                       f"(found by siteNumber) {what}")


def replacement_site_number(order: Order) -> str:
    """A fresh siteNumber for placing again after SUNSKY cancelled the order it held."""
    assert order.id is not None
    return site_number_for(order.id, order.invoice_id, attempt=order.attempts + 1)


def waits_on_address(order: Order) -> bool:
    error = order.last_error
    return (order.status == OrderStatus.API_FAILED and error is not None
            and error.code == ADDRESS_DIFFERS and order.sunsky_address is not None)


def accept_sunsky_address(order: Order, held: SunskyPlacement, address: SunskyAddress,
                          now: datetime, *, actor: str) -> Order | str:
    """A person accepts where SUNSKY ships (``held`` and ``address`` as SUNSKY says now):
    Placed with SUNSKY's order, and our record of the address becomes SUNSKY's (what will
    happen). Or why not, as a sentence."""
    if not waits_on_address(order):
        return f"it is {order.status.label}, not waiting on {ADDRESS_DIFFERS}"
    if held.status == SUNSKY_CANCELLED:
        return (f"SUNSKY cancelled order {held.number}: retry the order to place it again "
                "(dropship orders retry ID)")
    placed = order.transition(OrderStatus.PLACED, reason=f"SUNSKY order {held.number} (its "
                              "address accepted by a person)", actor=actor, now=now)
    return replace(placed, shipping=_shipping_from(order, address), sunsky=held,
                   sunsky_address=None, last_error=None, next_attempt_at=None, placed_at=now)


def _shipping_from(order: Order, address: SunskyAddress) -> ShippingInfo:
    t, s = address.ship_to, order.shipping
    if t is None:  # nothing to copy: ours stays on record
        return s
    return replace(s, recipient=t.receiver, phone=t.telephone, address_line1=t.address,
                   address_line2=t.address2, city=t.city, state=t.state, postcode=t.postcode,
                   country_iso2=address.country_iso2 or s.country_iso2,
                   sunsky_country_id=t.country_id)
