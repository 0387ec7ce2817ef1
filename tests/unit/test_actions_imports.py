"""The actions package has no import circles, and actions/common.py (what every action shares) imports no
feature module of the package."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit
ACTIONS = Path(__file__).resolve().parents[2] / "actions"


def imported_actions_modules(path: Path) -> set[str]:
    """The actions.* modules `path` imports, anywhere in it (inside functions too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
        if isinstance(node, ast.ImportFrom) and node.module == "actions":
            names = [f"actions.{alias.name}" for alias in node.names]
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        found.update(name.split(".")[1] for name in names if name.startswith("actions."))
    return found


def import_graph() -> dict[str, set[str]]:
    return {path.stem: imported_actions_modules(path) for path in sorted(ACTIONS.glob("*.py"))}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every import circle, each as the path that closes it."""
    found: list[list[str]] = []

    def walk(module: str, path: list[str]) -> None:
        for dependency in sorted(graph.get(module, ())):
            if dependency in path:
                found.append([*path[path.index(dependency) :], dependency])
            else:
                walk(dependency, [*path, dependency])

    for module in graph:
        walk(module, [module])
    return found


def test_the_actions_package_has_no_import_circle():
    graph = import_graph()
    assert {"common", "relationship", "linking", "forms", "session"} <= graph.keys()
    assert cycles(graph) == []


def test_common_imports_no_feature_module():
    assert imported_actions_modules(ACTIONS / "common.py") == set()


def test_the_circle_finder_finds_circles():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}})[0] == ["a", "b", "c", "a"]
    assert cycles({"a": {"b"}, "b": set()}) == []
