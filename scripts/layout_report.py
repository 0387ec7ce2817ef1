"""Figures of the code's layout, for the architecture notes: lines per package, the largest file and function,
the places that build database engines or read the environment, and the longest action class.

    .venvs/app/bin/python scripts/layout_report.py [--root DIR] [--json]
"""

from __future__ import annotations

import argparse
import ast
import json
from collections import Counter
from pathlib import Path

SKIP = {".venvs", ".git", "tests", "node_modules", "migrations", "benchmarks", "docs", "data", "var", "models"}
ENV_READS = ("os.environ", "os.getenv", "environ.get", "env.get(", "environ[")


def python_files(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*.py") if not SKIP.intersection(path.relative_to(root).parts[:-1]))


def functions(tree: ast.AST) -> list[tuple[str, int]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            found.append((node.name, (node.end_lineno or node.lineno) - node.lineno + 1))
    return found


def report(root: Path) -> dict[str, object]:
    """Figures of the product's code: every package but tests/ and scripts/ (benchmarks and tools), whose lines
    are counted apart."""
    per_package: Counter[str] = Counter()
    largest_file = ("", 0)
    largest_function = ("", 0)
    env_files, engine_sites = set(), []
    longest_action = ("", 0)
    for path in python_files(root):
        relative = path.relative_to(root).as_posix()
        text = path.read_text()
        lines = text.count("\n")
        package = relative.split("/")[0] if "/" in relative else "(top level)"
        per_package[package] += lines
        if package == "scripts":
            continue
        largest_file = max(largest_file, (relative, lines), key=lambda item: item[1])
        tree = ast.parse(text)
        for name, length in functions(tree):
            largest_function = max(largest_function, (f"{relative}:{name}", length), key=lambda item: item[1])
        if any(marker in text for marker in ENV_READS):
            env_files.add(relative)
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                func = node.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                if name in {"make_engine", "create_engine"}:
                    engine_sites.append(f"{relative}:{node.lineno}")
            if relative.startswith("actions/") and isinstance(node, ast.ClassDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                longest_action = max(longest_action, (f"{relative}:{node.name}", length), key=lambda item: item[1])
    return {
        "lines_per_package": dict(sorted(per_package.items(), key=lambda item: -item[1])),
        "largest_file": {"path": largest_file[0], "lines": largest_file[1]},
        "largest_function": {"name": largest_function[0], "lines": largest_function[1]},
        "files_reading_environment": sorted(env_files),
        "engine_build_sites": engine_sites,
        "longest_action_class": {"name": longest_action[0], "lines": longest_action[1]},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    figures = report(args.root.resolve())
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    for key, value in figures.items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main()
