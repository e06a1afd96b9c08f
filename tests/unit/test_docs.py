"""The README's generated tables must equal what the code generates."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from shared.domain.order import transitions_table_markdown
from shared.failure_codes import catalogue_markdown
from shared.observability.metrics import metrics_table_markdown

README = Path(__file__).resolve().parents[2] / "README.md"


def section(name: str) -> str:
    match = re.search(rf"<!-- {name}:begin -->\n(.*?)\n<!-- {name}:end -->", README.read_text(),
                      re.S)
    assert match, f"README has no {name} section"
    return match.group(1)


@pytest.mark.parametrize(("name", "generate"), [("statuses", transitions_table_markdown),
                                                ("codes", catalogue_markdown),
                                                ("metrics", metrics_table_markdown)])
def test_readme_tables_are_generated(name: str, generate) -> None:
    assert section(name) == generate(), f"README {name} table drifted from the code"


def test_every_environment_variable_in_the_readme_exists() -> None:
    from shared.settings import Settings

    configuration = README.read_text().split("## Configuration")[1].split("\n## ")[0]
    names = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", configuration))
    fields = {f.upper() for f in Settings.model_fields}
    assert len(names) > 20
    assert names <= fields, names - fields


def test_every_setting_is_documented_in_the_readme() -> None:
    from shared.settings import Settings

    documented = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", README.read_text()))
    missing = {f.upper() for f in Settings.model_fields} - documented
    assert not missing, f"settings missing from the README: {sorted(missing)}"
