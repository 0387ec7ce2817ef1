"""The dependency rule of docs/architecture.md, read from the code with `ast` (imports anywhere in a module,
inside functions too): the CRM core imports no capability package and nothing of the Rasa server; the shared
package imports only the standard library; no capability reads the environment (hearth/settings.py does); a
capability imports no web app and not the composition root."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
CAPABILITIES = (
    "relationship",
    "handoff",
    "history",
    "analytics",
    "nlu_review",
    "reviews",
    "knowledge",
    "audit",
    "workspace",
    "worker",
)
APPS = ("console", "crm_api", "website", "actions", "bot")


def imports(path: Path) -> set[str]:
    """The top-level packages `path` imports."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
    return found


def modules(package: str, *, skip: tuple[str, ...] = ()) -> list[Path]:
    paths = [p for p in (ROOT / package).rglob("*.py") if not any(part in skip for part in p.parts)]
    assert paths, package
    return sorted(paths)


def offenders(package: str, forbidden: set[str], skip: tuple[str, ...] = ()) -> dict[str, set[str]]:
    found = {}
    for path in modules(package, skip=skip):
        bad = imports(path) & forbidden
        if bad:
            found[path.relative_to(ROOT).as_posix()] = bad
    return found


def test_the_crm_core_imports_no_capability_and_nothing_of_the_rasa_server():
    # The migrations see every table through hearth/schema.py: the one exception, and it is the schema's.
    forbidden = {*CAPABILITIES, *APPS, "hearth"}
    assert offenders("crm_adapter", forbidden, skip=("migrations",)) == {}


def test_the_shared_package_imports_only_the_standard_library():
    for path in modules("shared"):
        outside = {name for name in imports(path) if name not in sys.stdlib_module_names and name != "shared"}
        # VADER is imported on first use, inside shared/sentiment.py's function: it is installed in both
        # virtualenvs, and nothing else is allowed.
        assert outside <= {"vaderSentiment"}, (path, outside)


def test_the_encoder_imports_nothing_of_the_project():
    project = {*CAPABILITIES, *APPS, "hearth", "crm_adapter", "shared"}
    assert offenders("encoder", project) == {}


@pytest.mark.parametrize("package", CAPABILITIES)
def test_a_capability_reads_no_environment_and_imports_no_web_app(package: str):
    for path in modules(package):
        text = path.read_text()
        assert "os.environ" not in text and "getenv" not in text, f"{path}: configuration comes from hearth.settings"
    forbidden = {"console", "crm_api", "website", "actions", "bot"}
    if package != "worker":  # the worker is a process: its runner is built by the composition root
        forbidden.add("hearth")
    assert offenders(package, forbidden) == {}


def test_the_rule_finds_an_offender(tmp_path: Path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from relationship.value_store import refresh_values\n")
    assert imports(module) == {"relationship"}
