"""The dependency rule of DESIGN.md §1, checked on the source."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ("domain", "actors", "adapters")


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def imports_of(package: str) -> dict[str, set[str]]:
    """Each module's imports, as top-level names, with `actorserve.<layer>` read as its layer."""
    found: dict[str, set[str]] = {}
    for path in (ROOT / package).rglob("*.py"):
        tops = set()
        for name in imported_modules(path):
            parts = name.split(".")
            tops.add(parts[1] if parts[0] == "actorserve" and len(parts) > 1 else parts[0])
        found[str(path.relative_to(ROOT))] = tops
    return found


@pytest.mark.parametrize("forbidden", ["pykka", "threading", "time", "socket", "actors", "adapters", "asyncio"])
def test_domain_imports_nothing_that_blocks_spawns_or_lives_outside(forbidden: str) -> None:
    offenders = [f for f, names in imports_of("domain").items() if forbidden in names]
    assert offenders == []


def test_actors_never_import_adapters() -> None:
    assert [f for f, names in imports_of("actors").items() if "adapters" in names] == []


@pytest.mark.parametrize("folder", [*LAYERS, "tests", "benchmarks", "examples"])
def test_code_imports_the_layers_only_under_the_one_name(folder: str) -> None:
    # a bare `import domain` works in a checkout but not once installed, and names other packages' modules
    offenders = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in (ROOT / folder).rglob("*.py")
        for name in imported_modules(path)
        if name.split(".")[0] in LAYERS
    ]
    assert offenders == []
