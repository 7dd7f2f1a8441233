"""The dependency rule of DESIGN.md §1, checked on the source."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def imports_of(package: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in (ROOT / package).rglob("*.py"):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module.split(".")[0])
        found[str(path.relative_to(ROOT))] = names
    return found


@pytest.mark.parametrize("forbidden", ["pykka", "threading", "time", "socket", "actors", "adapters", "asyncio"])
def test_domain_imports_nothing_that_blocks_spawns_or_lives_outside(forbidden: str) -> None:
    offenders = [f for f, names in imports_of("domain").items() if forbidden in names]
    assert offenders == []


def test_actors_never_import_adapters() -> None:
    assert [f for f, names in imports_of("actors").items() if "adapters" in names] == []
