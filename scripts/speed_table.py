"""The README's speed table, made from the latest benchmark results; CI checks that the README shows it.

    .venvs/app/bin/python scripts/speed_table.py           # print the table
    .venvs/app/bin/python scripts/speed_table.py --write   # put it into README.md, between the markers
    .venvs/app/bin/python scripts/speed_table.py --check   # exit 1 when README.md's table is not this one

The figures come from docs/measurements/speed.json (scripts/bench_speed.py: Hearth and the stock `rasa init` bot
served in one run) and docs/measurements/encoders.json (scripts/bench_encoders.py: training on the public intent
set). tests/unit/test_speed_table.py runs the check, so a benchmark rerun without the README updated, or a README
edited by hand, fails CI; nothing about how fast anything is gets asserted.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
SPEED = ROOT / "docs" / "measurements" / "speed.json"
ENCODERS = ROOT / "docs" / "measurements" / "encoders.json"
BEGIN = "<!-- speed table: made by scripts/speed_table.py from docs/measurements/*.json; do not edit by hand -->"
END = "<!-- end of speed table -->"


def _n(value: float, digits: int = 1) -> str:
    return f"{value:,.{digits}f}"


def table(speed: dict, encoders: dict | None) -> str:  # type: ignore[type-arg]
    ours, stock = speed["bots"]["hearth"], speed["bots"]["reference"]
    load, ref_load = ours["load"], stock["load"]
    memory, ref_memory = ours["memory_peak_mb"], stock["memory_peak_mb"]
    rows = [
        ("| | Hearth | stock `rasa init` bot |", None),
        ("| --- | --- | --- |", None),
        (
            f"| replies/s, {load['conversations']} concurrent conversations (Hearth's with CRM work) "
            f"| **{_n(load['replies_per_s'])}** ({speed['ratios']['throughput_x']:.2f}× stock) "
            f"| {_n(ref_load['replies_per_s'])} |",
            None,
        ),
        (
            f"| reply p50 / p95 under that load | {_n(load['p50_ms'], 0)} / {_n(load['p95_ms'], 0)} ms "
            f"| {_n(ref_load['p50_ms'], 0)} / {_n(ref_load['p95_ms'], 0)} ms |",
            None,
        ),
        (
            f"| reply p50, one conversation | {_n(ours['single']['p50_ms'])} ms | {_n(stock['single']['p50_ms'])} ms |",
            None,
        ),
        (
            f"| NLU parse p50, {ours['nlu_parse']['count']:,} customer messages | {ours['nlu_parse']['p50_ms']:.2f} ms "
            f"| {stock['nlu_parse']['p50_ms']:.2f} ms |",
            None,
        ),
        (
            f"| turn {ours['long']['turns']} against the first turns | {ours['long']['ratio']:.2f}× "
            f"| {stock['long']['ratio']:.2f}× |",
            None,
        ),
        (
            f"| session {ours['sessions']['sessions']} of a returning customer against the first "
            f"| {ours['sessions']['ratio']:.2f}× | {stock['sessions']['ratio']:.2f}× |",
            None,
        ),
        (
            f"| memory, Rasa server (peak) | {_n(memory['rasa_server'], 0)} MB "
            f"(+{_n(memory.get('action_server', 0), 0)} MB action server) | {_n(ref_memory['rasa_server'], 0)} MB |",
            None,
        ),
    ]
    lines = [row for row, _ in rows]
    if "cpu_ms_per_reply" in load and "cpu_ms_per_reply" in ref_load:
        cpu, ref_cpu = load["cpu_ms_per_reply"], ref_load["cpu_ms_per_reply"]
        lines.insert(
            4,
            f"| CPU per reply under that load, Rasa server | {_n(cpu['rasa_server'])} ms "
            f"(+{_n(cpu.get('action_server', 0))} ms action server) | {_n(ref_cpu['rasa_server'])} ms |",
        )
    stamp = f"Measured {speed['measured_at'][:10]} on commit `{speed['commit']}`, {speed['machine']['cpus']} cores"
    if encoders and encoders.get("retrain"):
        retrain = encoders["retrain"]
        lines.append(
            f"| training, public intent set ({retrain['set']}, {retrain['examples']:,} examples): from scratch / "
            f"after ten examples added | {_n(retrain['first_s'])} s / {_n(retrain['ten_added_s'])} s | – |"
        )
        # its own date and commit when it was measured apart from the comparison of encoders
        stamp += f"; training {retrain.get('measured_at', encoders['measured_at'])[:10]} on "
        stamp += f"`{retrain.get('commit', encoders['commit'])}`"
    return "\n".join([BEGIN, *lines, "", stamp + ".", END])


def current() -> str:
    encoders = json.loads(ENCODERS.read_text()) if ENCODERS.exists() else None
    return table(json.loads(SPEED.read_text()), encoders)


def in_readme(text: str) -> str | None:
    if BEGIN not in text or END not in text:
        return None
    start = text.index(BEGIN)
    return text[start : text.index(END, start) + len(END)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true")
    mode.add_argument("--check", action="store_true")
    args = parser.parse_args()
    made, readme = current(), README.read_text()
    shown = in_readme(readme)
    if args.write:
        if shown is None:
            print(f"README.md has no speed table markers ({BEGIN} ... {END})", file=sys.stderr)
            return 1
        README.write_text(readme.replace(shown, made))
        return 0
    if args.check:
        if shown != made:
            print(
                "README.md's speed table is not the latest measurement; run scripts/speed_table.py --write",
                file=sys.stderr,
            )
            return 1
        return 0
    print(made)
    return 0


if __name__ == "__main__":
    sys.exit(main())
