"""Build invoice events exactly as a Perfex module publishes them: strings for numbers,
``<br />`` in streets, SUNSKY SKUs in ``custom_fields.sunsky_sku``, a shipping-fee line."""

from __future__ import annotations

import json
import random
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

SKUS = ("S-CAB-0042", "S-IP4G-0363", "S-MAC-0230", "S-PWR-0101", "S-EAR-0777", "S-CAS-0555",
        "S-LED-0909")
US_STATES = ("IL", "NY", "CA", "TX", "FL", "WA")
CUSTOMERS = (("Acme Ltd", "Jane", "Doe"), ("Globex Inc", "Hank", "Scorpio"),
             ("Initech", "Peter", "Gibbons"), ("Umbrella Corp", "Alice", "Abernathy"),
             ("Stark Retail", "Pepper", "Potts"), (" ", "Sam", "Carter"))


def address(street: str = "12 Elm St<br />Apt 4", city: str = "Chicago", state: str = "IL",
            zip_code: str = "60601", iso2: str | None = "US") -> dict[str, Any]:
    names = {"US": ("236", "United States"), "GB": ("235", "United Kingdom"),
             "BR": ("32", "Brazil"), "DE": ("83", "Germany")}
    country_id, name = names.get(iso2 or "", ("0", None))
    return {"street": street, "city": city, "state": state, "zip": zip_code,
            "country_id": country_id, "country_iso2": iso2, "country_name": name}


def item(n: int, sku: str | None, qty: str = "2.00", rate: str = "4.50",
         description: str | None = None) -> dict[str, Any]:
    return {"id": str(100 + n), "item_order": str(n), "description": description or f"Item {sku}",
            "long_description": None, "qty": qty, "rate": rate, "unit": "pcs",
            "custom_fields": {"sunsky_sku": sku} if sku else {}}


def invoice_event(event_type: str, invoice_id: int | str, *, status: str | None = None,
                  items: list[dict[str, Any]] | None = None,
                  shipping: dict[str, Any] | None = None, include_shipping: str = "1",
                  event_id: str | None = None, phone: str = "+1 312 555 0101") -> dict[str, Any]:
    inv = str(invoice_id)
    lines = items if items is not None else [item(1, "S-CAB-0042"), item(2, None, "1.00", "3.00",
                                                                         "Shipping")]
    paid = event_type == "invoice.paid"
    return {
        "event_id": event_id or str(uuid.uuid4()),
        "event_type": event_type,
        "occurred_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "source": {"system": "perfex", "perfex_version": "3.3.1",
                   "base_url": "https://crm.example.com"},
        "data": {
            "invoice": {
                "id": inv, "number": inv, "prefix": "INV-", "formatted_number": f"INV-{inv:0>6}",
                "status": status or ("2" if paid else "1"), "date": "2026-11-26",
                "duedate": "2026-12-26", "currency": {"id": "1", "code": "USD", "symbol": "$"},
                "subtotal": "12.00", "total_tax": "0.00", "discount_total": "0.00",
                "adjustment": "0.00", "total": "12.00",
                "hash": uuid.uuid4().hex, "include_shipping": include_shipping,
                "billing": address("1 Main St", "Springfield", "IL", "62701"),
                "shipping": shipping if shipping is not None else address(),
                "items": lines,
            },
            "client": {"userid": "3", "company": "Acme Ltd", "phonenumber": "+1 312 555 0100",
                       "vat": "", "shipping": address("", "", "", "", None) | {"country_id": "0"},
                       "billing": address("1 Main St", "Springfield", "IL", "62701")},
            "primary_contact": {"id": "5", "firstname": "Jane", "lastname": "Doe",
                                "email": "jane@example.com", "phonenumber": phone},
            "payment": ({"paymentid": "9", "invoiceid": inv, "amount": "12.00",
                         "paymentmode": "stripe", "paymentmethod": None, "date": "2026-11-26",
                         "daterecorded": "2026-11-26 10:14:58", "transactionid": "pi_123"}
                        if paid else None),
        },
    }


def encode(event: dict[str, Any]) -> bytes:
    return json.dumps(event).encode()


def random_valid_event(event_type: str, invoice_id: int, rng: random.Random) -> dict[str, Any]:
    lines = [item(n, sku, qty=f"{rng.randint(1, 3)}.00", rate=f"{rng.randint(3, 40)}.99")
             for n, sku in enumerate(rng.sample(SKUS, rng.randint(1, 3)), 1)]
    state = rng.choice(US_STATES)
    event = invoice_event(event_type, invoice_id, items=lines,
                          shipping=address(f"{rng.randint(1, 999)} Oak Ave", "Springfield",
                                           state, f"{rng.randint(10000, 99999)}"))
    company, first, last = rng.choice(CUSTOMERS)
    data = event["data"]
    data["client"]["company"] = company
    data["client"]["userid"] = str(10 + CUSTOMERS.index((company, first, last)))
    data["primary_contact"] |= {"firstname": first, "lastname": last,
                                "email": f"{first.lower()}@example.com"}
    total = sum(Decimal(line["qty"]) * Decimal(line["rate"]) for line in lines)
    data["invoice"] |= {"subtotal": f"{total:.2f}", "total": f"{total:.2f}"}
    if data["payment"]:
        data["payment"]["amount"] = f"{total:.2f}"
    return event


BROKEN_PAYLOADS: tuple[tuple[str, bytes], ...] = (
    ("not_json", b"{this is not json"),
    ("empty", b""),
    ("wrong_shape", b'{"hello": "world"}'),
    ("unknown_event_type", json.dumps({"event_id": "x", "event_type": "invoice.deleted",
                                       "occurred_at": "2026-11-26T10:15:00Z",
                                       "data": {}}).encode()),
    ("missing_items_total", json.dumps({"event_id": "y", "event_type": "invoice.paid",
                                        "occurred_at": "2026-11-26T10:15:00Z",
                                        "data": {"invoice": {"id": "1"}}}).encode()),
)
