from __future__ import annotations

import json

import jsonschema
import pytest

from devtools.perfex_events import invoice_event
from schemas.generate import JSON_DIR, MODELS, expected_files


def test_json_schema_files_match_the_models() -> None:
    for path, text in expected_files().items():
        assert path.exists(), f"{path.name} missing: run python -m schemas.generate"
        assert path.read_text(encoding="utf-8") == text, (
            f"{path.name} drifted from its model: run python -m schemas.generate")


def test_no_stray_schema_files() -> None:
    names = {p.name for p in JSON_DIR.glob("*.json")}
    assert names == {f"{topic}.schema.json" for topic in MODELS}


@pytest.mark.parametrize("event_type", ["invoice.created", "invoice.paid"])
def test_contract_events_validate_against_the_published_schema(event_type: str) -> None:
    schema = json.loads((JSON_DIR / f"{event_type}.schema.json").read_text())
    jsonschema.validate(invoice_event(event_type, 42), schema)
