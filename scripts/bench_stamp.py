"""When, on what and where a benchmark ran: the header of the JSON files scripts/bench_speed.py and
scripts/bench_encoders.py write (standard library only: each runs in its own virtualenv)."""

from __future__ import annotations

import os
import platform
import subprocess
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def stamp() -> dict[str, object]:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    # code changed since that commit (documentation and results apart) is marked: the figures are not that commit's
    changed = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":!docs"],
        cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    return {
        "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "commit": commit.stdout.strip() + ("+changes" if changed.stdout.strip() else ""),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
    }
