"""`python -m hearth knowledge seed|import|export|status`: the help centre's articles between Markdown files and the
database (the source of truth the bot and the console read)."""

from __future__ import annotations

import argparse
from pathlib import Path

from hearth.environment import ROOT
from knowledge.service import Knowledge
from knowledge.store import ImportReport

SEED_DIRECTORY = ROOT / "data" / "knowledge"


def run_knowledge(args: argparse.Namespace, knowledge: Knowledge) -> int:
    store = knowledge.store
    command = args.knowledge_command
    if command == "seed":
        if store.listing(limit=1):
            print("help centre already has articles: not seeding")
            return 0
        return _report(store.import_directory(SEED_DIRECTORY, by="seed"), SEED_DIRECTORY)
    if command == "import":
        directory = Path(args.directory)
        if not directory.is_dir():
            print(f"error: {directory} is not a directory")
            return 2
        return _report(store.import_directory(directory, by="import"), directory)
    if command == "export":
        written = store.export_directory(Path(args.directory))
        print(f"wrote {len(written)} articles to {args.directory}")
        return 0
    articles = store.listing(limit=100_000)
    counts = {status: sum(a.status == status for a in articles) for status in ("published", "draft", "unpublished")}
    snapshot = store.snapshot()
    print(
        f"articles: {counts['published']} published, {counts['draft']} drafts, {counts['unpublished']} unpublished; "
        f"{len(snapshot.entries)} passages; revision {snapshot.revision}, "
        f"fingerprint {(store.fingerprint() or '-')[:16]}"
    )
    return 0


def _report(report: ImportReport, directory: Path) -> int:
    print(
        f"help centre from {directory}: {len(report.created)} created, {len(report.updated)} updated, "
        f"{len(report.unchanged)} unchanged; {report.embedded} passages embedded"
    )
    for name, problem in report.errors:
        print(f"  error: {name}: {problem}")
    return 1 if report.errors else 0
