"""Measure the foundation's figures from a clean clone of this repository.

    python3 scripts/measure_foundation.py [--out docs/measurements/foundation.json]

Clones HEAD into a temporary folder and times, there: the setup (virtualenvs) on its
first and second run, training on its first and second run, and the whole test command;
then collects the NLU holdout, conversation-test and end-to-end reply-time results the
tests wrote. pip's cache is whatever this machine has (as in CI); the JSON says so.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, str]:
    started = time.monotonic()
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.monotonic() - started
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return round(elapsed, 1), result.stdout + result.stderr


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=str(ROOT / "docs" / "measurements" / "foundation.json"))
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CRM_", "TRACKER_", "HEARTH_"))}
    with tempfile.TemporaryDirectory(prefix="hearth-measure-") as tmp:
        clone = Path(tmp) / "hearth"
        subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=clone, capture_output=True, text=True
        ).stdout.strip()
        figures: dict[str, object] = {}
        figures["setup_first_run_s"], _ = timed(["bash", "scripts/bootstrap.sh"], clone, env)
        figures["setup_second_run_s"], _ = timed(["bash", "scripts/bootstrap.sh"], clone, env)
        py = str(clone / ".venvs" / "app" / "bin" / "python")
        figures["train_first_run_s"], _ = timed([py, "-m", "hearth", "train"], clone, env)
        figures["train_second_run_s"], out = timed([py, "-m", "hearth", "train"], clone, env)
        assert "not retraining" in out
        figures["test_command_s"], out = timed(["make", "test"], clone, env)
        summary = [line for line in out.splitlines() if re.search(r"\d+ passed", line)]
        figures["test_summary"] = summary[-1].strip("= ") if summary else None
        figures["test_command_second_run_s"], _ = timed(["make", "test"], clone, env)
        results = clone / "results"
        nlu = json.loads((results / "nlu-holdout" / "summary.json").read_text())
        story = json.loads((results / "conversation" / "story_report.json").read_text())
        figures["nlu_holdout"] = nlu
        figures["conversation_tests"] = story["conversation_accuracy"]
        figures["e2e_reply_times"] = json.loads((results / "e2e_reply_times.json").read_text())
        venv_python = subprocess.run(
            [py, "-c", "import platform; print(platform.python_version())"], capture_output=True, text=True
        ).stdout.strip()
    report = {
        "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "commit": commit,
        "machine": {"cpus": os.cpu_count(), "python": venv_python, "pip_cache": "warm (as in CI)"},
        **figures,
    }
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
