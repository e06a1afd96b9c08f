"""The sandbox's fixed world: products, countries and shipping ways.

Invented beyond sunsky-open-api.md: every product (except the item numbers the SUNSKY samples use,
whose names and prices are still made up), all category ids, every country id except 41 = US
(section 6.1: "only 41<->US is attested"), every shipping way except Postnord (id 246, its name and
``queryUrl`` appear in the order-details example), the freight formula and transit times.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import TypedDict

from sandbox.wire import money, timestamp

PRODUCT_VALID = 1
PRODUCT_OUT_OF_STOCK = 3  # product status codes per the reference's appendix notes [3P]


@dataclass(frozen=True)
class Product:
    id: int
    item_no: str
    name: str
    price: Decimal
    stock: int
    weight_kg: Decimal
    category_id: int
    gmt_modified: datetime
    status: int = PRODUCT_VALID


def _product(id_: int, item_no: str, name: str, price: str, stock: int, weight: str,
             category_id: int, modified: str) -> Product:
    moment = datetime.fromisoformat(modified).replace(tzinfo=UTC)
    status = PRODUCT_VALID if stock > 0 else PRODUCT_OUT_OF_STOCK
    return Product(id_, item_no, name, Decimal(price), stock, Decimal(weight), category_id,
                   moment, status)


# Category ids (invented): 1001 cables, 1002 cases, 1003 audio, 1004 computer, 1005 lighting,
# 1006 power, 1007 wearables, 1008 holders and mounts.
_PRODUCTS = (
    _product(90042, "S-CAB-0042", "USB-C Cable 1m", "1.2000", 500, "0.030", 1001,
             "2026-01-05 08:00:00"),
    _product(90363, "S-IP4G-0363", "Replacement Back Cover for iPhone 4", "2.5000", 200,
             "0.050", 1002, "2026-01-09 09:30:00"),
    _product(90230, "S-MAC-0230", "13-inch Laptop Sleeve for MacBook", "6.8000", 150, "0.250",
             1004, "2026-01-12 10:15:00"),
    _product(83946, "EDA008394601A", "Smart Watch Fitness Tracker", "15.4000", 80, "0.120",
             1007, "2026-01-14 05:55:50"),
    _product(90101, "S-PWR-0101", "20W USB-C Power Adapter (US Plug)", "3.9000", 300, "0.080",
             1006, "2026-01-20 12:00:00"),
    _product(90777, "S-EAR-0777", "In-ear Wired Earphones 3.5mm", "1.8500", 400, "0.020", 1003,
             "2026-02-01 07:45:00"),
    _product(90555, "S-CAS-0555", "Shockproof Clear Phone Case", "1.5000", 600, "0.040", 1002,
             "2026-02-03 16:20:00"),
    _product(90909, "S-LED-0909", "USB LED Desk Lamp", "4.7500", 120, "0.300", 1005,
             "2026-02-10 11:11:11"),
    _product(90001, "S-OOS-0001", "Magnetic Car Phone Holder (sold out)", "2.1000", 0, "0.060",
             1008, "2026-02-12 09:00:00"),
    _product(90321, "S-BAT-0321", "10000mAh Power Bank", "8.9000", 90, "0.220", 1006,
             "2026-02-15 14:30:00"),
    _product(90404, "S-HUB-0404", "USB-C 4-in-1 Hub", "7.3000", 110, "0.080", 1004,
             "2026-02-18 10:00:00"),
    _product(90612, "S-MOU-0612", "2.4G Wireless Mouse", "3.6000", 250, "0.070", 1004,
             "2026-02-21 08:30:00"),
    _product(90713, "S-KEY-0713", "Foldable Bluetooth Keyboard", "12.5000", 60, "0.180", 1004,
             "2026-02-25 13:00:00"),
    _product(90818, "S-TRI-0818", "Phone Tripod 1.2m", "5.2000", 75, "0.450", 1008,
             "2026-03-02 15:45:00"),
)

CATALOGUE: dict[str, Product] = {p.item_no: p for p in _PRODUCTS}


def live_status(product: Product, stock: int) -> int:
    """A product that sold out in this sandbox reads as out of stock."""
    return product.status if stock > 0 else PRODUCT_OUT_OF_STOCK


def product_wire(product: Product, stock: int) -> dict[str, object]:
    """A product as ``product!search.do`` lists it (field names per the reference's [3P] list;
    ``weight`` in kg as a 3-decimal string is a sandbox choice)."""
    return {
        "id": product.id,
        "itemNo": product.item_no,
        "name": product.name,
        "price": money(product.price),
        "stock": stock,
        "status": live_status(product, stock),
        "moq": 1,
        "weight": f"{product.weight_kg:.3f}",
        "categoryId": product.category_id,
        "gmtModified": timestamp(product.gmt_modified),
    }


class State(TypedDict):
    code: str
    name: str


class Country(TypedDict):
    id: int
    code: str
    name: str
    shipToState: bool
    stateList: list[State]


_US_STATES = [
    State(code="CA", name="California"), State(code="FL", name="Florida"),
    State(code="IL", name="Illinois"), State(code="MA", name="Massachusetts"),
    State(code="NJ", name="New Jersey"), State(code="NY", name="New York"),
    State(code="TX", name="Texas"), State(code="WA", name="Washington"),
]


def _country(id_: int, code: str, name: str, states: list[State] | None = None) -> Country:
    return Country(id=id_, code=code, name=name, shipToState=states is not None,
                   stateList=states or [])


# Only 41 <-> US is attested (SAMPLE and [3P]); every other id is a sandbox invention.
COUNTRIES: list[Country] = [
    _country(41, "US", "United States", _US_STATES),
    _country(222, "GB", "United Kingdom"),
    _country(81, "DE", "Germany"),
    _country(73, "FR", "France"),
    _country(191, "SA", "Saudi Arabia"),
    _country(221, "AE", "United Arab Emirates"),
    _country(13, "AU", "Australia"),
    _country(38, "CA", "Canada"),
    _country(30, "BR", "Brazil"),  # no shipping ways: createOrder -> SHIPPING_WAY_NOT_AVAILABLE
]

_COUNTRIES_BY_ID = {c["id"]: c for c in COUNTRIES}


def country(country_id: int) -> Country | None:
    return _COUNTRIES_BY_ID.get(country_id)


HANDLING_PER_PIECE = Decimal("0.05")


@dataclass(frozen=True)
class ShippingWay:
    id: int
    name: str
    query_url: str
    base_cost: Decimal
    cost_per_kg: Decimal
    transit_time: str

    def cost(self, weight_kg: Decimal, qty: int) -> Decimal:
        """Invented tariff: base + per kg + 0.05 handling per piece, in cents."""
        raw = self.base_cost + self.cost_per_kg * weight_kg + HANDLING_PER_PIECE * qty
        return raw.quantize(Decimal("0.01"))

    def wire(self) -> dict[str, object]:
        """The ``shippingWay`` object of order details (section 6.4)."""
        return {"id": self.id, "name": self.name, "queryUrl": self.query_url}


_TRACK_17 = "https://t.17track.net/en#nums="

_WAYS = (
    ShippingWay(246, "Postnord", _TRACK_17, Decimal("1.50"), Decimal("9.00"), "15 - 25"),
    ShippingWay(25, "USPS Agent(YanWen Express)", _TRACK_17, Decimal("2.80"), Decimal("12.00"),
                "8 - 12"),
    ShippingWay(7, "DHL Express", "https://www.dhl.com/en/express/tracking.html?AWB=",
                Decimal("18.00"), Decimal("25.00"), "3 - 6"),
    ShippingWay(118, "Royal Mail(YunExpress)", _TRACK_17, Decimal("2.20"), Decimal("10.00"),
                "7 - 12"),
    ShippingWay(133, "Aramex", "https://www.aramex.com/track/results?ShipmentNumber=",
                Decimal("4.50"), Decimal("14.00"), "5 - 9"),
)
SHIPPING_WAYS: dict[int, ShippingWay] = {w.id: w for w in _WAYS}

_WAYS_BY_COUNTRY: dict[int, tuple[int, ...]] = {
    41: (25, 246, 7), 222: (118, 246, 7), 81: (246, 7), 73: (246, 7), 191: (133, 7),
    221: (133, 7), 13: (246, 7), 38: (25, 7), 30: (),
}


def shipping_ways(country_id: int) -> list[ShippingWay]:
    return [SHIPPING_WAYS[i] for i in _WAYS_BY_COUNTRY.get(country_id, ())]


def freight_list(country_id: int, weight_kg: Decimal, qty: int,
                 withdrawn: frozenset[int] | set[int] = frozenset()) -> list[dict[str, object]]:
    """``data.freightList`` of ``getPricesAndFreights`` (an empty list: no way to ship there);
    ways the controls ``withdrawn`` are not offered."""
    return [
        {"id": w.id, "name": w.name, "shippingCost": money(w.cost(weight_kg, qty)),
         "transitTime": w.transit_time}
        for w in shipping_ways(country_id) if w.id not in withdrawn
    ]
