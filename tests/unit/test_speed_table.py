"""The README's speed table is the one scripts/speed_table.py makes from the latest benchmark JSON (not a timing
assertion: whatever the figures, the README must show the ones measured last)."""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import speed_table  # noqa: E402


def test_the_readme_shows_the_latest_measurement() -> None:
    shown = speed_table.in_readme(speed_table.README.read_text())
    assert shown is not None, "README.md lost its speed table markers"
    assert shown == speed_table.current(), "run: .venvs/app/bin/python scripts/speed_table.py --write"


def test_a_changed_figure_or_commit_changes_the_table() -> None:
    speed = json.loads(speed_table.SPEED.read_text())
    encoders = json.loads(speed_table.ENCODERS.read_text())
    made = speed_table.table(speed, encoders)
    faster = copy.deepcopy(speed)
    faster["bots"]["hearth"]["load"]["replies_per_s"] += 1.0
    later = copy.deepcopy(speed)
    later["commit"] = "0000000"
    retrained = copy.deepcopy(encoders)
    retrained["retrain"]["first_s"] += 1.0
    assert speed_table.table(faster, encoders) != made
    assert speed_table.table(later, encoders) != made
    assert speed_table.table(speed, retrained) != made
    for row in ("replies/s", "NLU parse p50", "turn 200", "session 50", "training, public intent set"):
        assert row in made, row


def test_a_readme_without_markers_has_no_table() -> None:
    assert speed_table.in_readme("# Hearth\n\nno table here\n") is None


def test_two_rasa_servers_get_their_own_column_and_ratio() -> None:
    speed = json.loads(speed_table.SPEED.read_text())
    two = copy.deepcopy(speed["bots"]["hearth"])
    two["load"]["replies_per_s"] = 61.7
    two["load"]["cpu_ms_per_reply"]["nginx"] = 1.5
    speed["bots"] = {**speed["bots"], "hearth_2": two}
    speed["ratios"] = {**speed["ratios"], "throughput_2_x": 2.98}
    made = speed_table.table(speed, None)
    header = made.splitlines()[1]
    assert header == "| | Hearth | Hearth, two Rasa servers | stock `rasa init` bot |"
    replies = next(line for line in made.splitlines() if line.startswith("| replies/s"))
    assert "**61.7** (2.98× stock)" in replies
    assert replies.count("|") == 5, "one cell per bot"
    cpu = next(line for line in made.splitlines() if line.startswith("| CPU per reply"))
    assert "+1.5 nginx)" in cpu and cpu.count(" ms") == 3, cpu
