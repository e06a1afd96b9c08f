"""Write JSON Schema for every message model into ``schemas/json/`` (for the Perfex side).

Run ``python -m schemas.generate``; ``tests/unit/test_schemas.py`` fails when files drift.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from schemas import orders, perfex

JSON_DIR = Path(__file__).parent / "json"

MODELS: dict[str, type[BaseModel]] = {
    "invoice.created": perfex.InvoiceCreated,
    "invoice.paid": perfex.InvoicePaid,
    "order.ready": orders.OrderReady,
    "order.placed": orders.OrderPlaced,
    "order.api_failed": orders.OrderApiFailed,
    "order.shipped": orders.OrderShipped,
    "order.delivered": orders.OrderDelivered,
    "order.cancelled": orders.OrderCancelled,
}


def render(model: type[BaseModel], topic: str) -> str:
    schema = model.model_json_schema(mode="validation")
    schema["$id"] = f"https://sunsky-dropship.local/schemas/{topic}.schema.json"
    schema["description"] = f"Value of a message on topic `{topic}`. " + (model.__doc__ or "")
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def expected_files() -> dict[Path, str]:
    return {JSON_DIR / f"{topic}.schema.json": render(m, topic) for topic, m in MODELS.items()}


def main() -> None:
    JSON_DIR.mkdir(exist_ok=True)
    for path, text in expected_files().items():
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
