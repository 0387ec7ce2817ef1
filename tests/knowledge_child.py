"""A second process on the same help centre (tests/integration/test_knowledge.py): reads questions from stdin, one
per line, and prints what it would answer as JSON, with how many times its index was rebuilt."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.help_centre import knowledge_at  # noqa: E402

if __name__ == "__main__":
    knowledge = knowledge_at(sys.argv[1])
    for line in sys.stdin:
        _, answer, _ = knowledge.decide(line.strip())
        print(json.dumps({"slug": answer.slug if answer.answered else None, "title": answer.title,
                          "rebuilds": knowledge.index.rebuilds}), flush=True)  # fmt: skip
