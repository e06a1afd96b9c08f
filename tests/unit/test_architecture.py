"""Import contracts: the layout the README draws, checked on every import in the code base.

Read from the source with ``ast`` (imports inside functions count too), so a lazy import cannot
slip a wrong arrow past the rules:

1. production code (``shared``, ``services``, ``application``, ``schemas``) never imports the
   dev tools (``devtools``, ``sandbox``) or the tests;
2. arrows point one way: admin surfaces -> application layer -> services -> shared and schemas;
3. services are independent of each other (ops scale and deploy each on its own);
4. the domain is pure: no I/O library and no adapter;
5. no production module is longer than ``MAX_LINES``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MAX_LINES = 300

# Top to bottom; a module may import its own layer and the layers below it.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("admin surfaces and dev tools", ("cli", "devtools", "sandbox", "services.admin")),
    ("application layer", ("application",)),
    ("services", ("services",)),
    ("shared code", ("shared", "schemas")),
]
DEV_TOOLS = ("devtools", "sandbox", "tests", "bench")
# Admin surfaces may import the application layer; no worker service may import them.
ADMIN_SURFACES = ("cli", "services.admin")
PRODUCTION = ("shared", "services", "application", "schemas")
IO_LIBRARIES = ("asyncpg", "httpx", "aiokafka", "faust", "aiohttp", "click")
ADAPTERS = ("shared.db", "shared.messaging", "shared.sunsky", "shared.lifecycle",
            "shared.runtime")


def modules(*packages: str) -> Iterator[tuple[str, Path]]:
    for package in packages:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT).with_suffix("")
            parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
            yield ".".join(parts), path


def imports(module: str, path: Path) -> Iterator[tuple[int, str]]:
    """(line, imported module) for every import statement in the file."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            yield node.lineno, base
            yield from ((node.lineno, f"{base}.{alias.name}") for alias in node.names)


def within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def layer_of(name: str) -> int | None:
    """The layer of the longest matching package (``services.admin`` before ``services``)."""
    best: tuple[int, int] | None = None
    for index, (_, packages) in enumerate(LAYERS):
        for package in packages:
            if within(name, (package,)) and (best is None or len(package) > best[1]):
                best = (index, len(package))
    return best[0] if best else None


def violations(rule: str, packages: tuple[str, ...]) -> list[str]:
    found = []
    for module, path in modules(*packages):
        for line, target in imports(module, path):
            problem = RULES[rule](module, target)
            if problem:
                found.append(f"{path.relative_to(ROOT)}:{line}: {module} imports {target} "
                             f"({problem})")
    return sorted(set(found))


def _no_dev_tools(module: str, target: str) -> str | None:
    return "production code must not import dev tools or tests" if within(
        target, DEV_TOOLS) else None


def _one_way(module: str, target: str) -> str | None:
    own, other = layer_of(module), layer_of(target)
    if own is None or other is None or other >= own:
        return None
    return f"{LAYERS[own][0]} must not import the {LAYERS[other][0]} above them"


def _services_independent(module: str, target: str) -> str | None:
    if within(module, ADMIN_SURFACES) or not (within(module, ("services",))
                                              and within(target, ("services",))):
        return None
    mine, theirs = module.split(".")[:2], target.split(".")[:2]
    return None if len(theirs) < 2 or mine == theirs else "one service imports another"


def _pure_domain(module: str, target: str) -> str | None:
    if within(target, IO_LIBRARIES) or within(target, ADAPTERS):
        return "the domain does no I/O and knows no adapter"
    return None


def _admin_imports_no_worker(module: str, target: str) -> str | None:
    if within(module, ("services.admin",)) and within(target, ("services",)) \
            and not within(target, ("services.admin",)):
        return "the admin service must not import a worker service"
    return None


RULES = {"dev tools": _no_dev_tools, "one way": _one_way,
         "independent services": _services_independent, "pure domain": _pure_domain,
         "admin imports no worker": _admin_imports_no_worker}


def test_production_code_never_imports_the_dev_tools() -> None:
    assert violations("dev tools", PRODUCTION) == []


def test_arrows_point_one_way() -> None:
    everything = tuple(p for _, packages in LAYERS for p in packages)
    assert violations("one way", everything) == []


def test_services_do_not_import_each_other() -> None:
    assert violations("independent services", ("services",)) == []


def test_the_admin_service_imports_no_worker_service() -> None:
    assert violations("admin imports no worker", ("services/admin",)) == []


def test_the_domain_is_pure() -> None:
    assert violations("pure domain", ("shared/domain",)) == []


@pytest.mark.parametrize("package", PRODUCTION)
def test_no_production_module_is_longer_than_the_limit(package: str) -> None:
    long = [f"{path.relative_to(ROOT)}: {n} lines" for _, path in modules(package)
            if (n := len(path.read_text().splitlines())) > MAX_LINES]
    assert long == []


def test_the_rules_catch_a_wrong_import(tmp_path: Path) -> None:
    """Each rule, fed one offending import, reports it (a contract that cannot fail is none)."""
    assert _no_dev_tools("shared.runtime", "devtools.postgres")
    assert _one_way("services.placer.handlers", "application.orders")
    assert _one_way("shared.runtime", "services.placer.app")
    assert _one_way("application.orders", "cli.common")
    assert _one_way("services.placer.handlers", "services.admin.app")
    assert _one_way("application.orders", "services.admin.security")
    assert not _one_way("services.admin.orders_api", "application.listing")
    assert _admin_imports_no_worker("services.admin.app", "services.placer.quote")
    assert not _admin_imports_no_worker("services.admin.app", "services.admin.jobs")
    assert not _one_way("cli.orders_cmd", "application.orders")
    assert _services_independent("services.tracker.handlers", "services.placer.quote")
    assert not _services_independent("services.placer.app", "services.placer.quote")
    assert _pure_domain("shared.domain.order", "asyncpg")
    assert _pure_domain("shared.domain.placement", "shared.sunsky.models")
    source = tmp_path / "lazy.py"
    source.write_text("def f():\n    from devtools.postgres import resolve_database_url\n")
    assert list(imports("shared.lazy", source)) == [
        (2, "devtools.postgres"), (2, "devtools.postgres.resolve_database_url")]
