"""The runtime builds its collaborators and hands them down; nothing below it reaches back up."""

from __future__ import annotations

import ast
from pathlib import Path

ACTORS = Path(__file__).resolve().parents[2] / "actors"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_only_the_facade_and_the_package_import_the_runtime() -> None:
    allowed = {ACTORS / "runtime.py", ACTORS / "facade.py", ACTORS / "__init__.py"}
    offenders = [
        str(path.relative_to(ACTORS))
        for path in sorted(ACTORS.rglob("*.py"))
        if path not in allowed and "actorserve.actors.runtime" in _imports(path)
    ]
    assert offenders == []


def test_experiments_reach_the_runtime_only_through_its_collaborators() -> None:
    source = (ACTORS / "experiments" / "api.py").read_text(encoding="utf-8")
    assert "_runtime" not in source
