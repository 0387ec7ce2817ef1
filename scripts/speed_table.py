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
from collections.abc import Callable
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
    """One column per bot measured: Hearth with one Rasa server, with two behind nginx when measured, the stock bot."""
    names = [name for name in ("hearth", "hearth_2") if name in speed["bots"]] + ["reference"]
    bots = [speed["bots"][name] for name in names]
    titles = {"hearth": "Hearth", "hearth_2": "Hearth, two Rasa servers", "reference": "stock `rasa init` bot"}

    def row(label: str, cell: Callable[[str, dict], str]) -> str:  # type: ignore[type-arg]
        return "| " + " | ".join([label, *(cell(name, bot) for name, bot in zip(names, bots, strict=True))]) + " |"

    def replies(name: str, bot: dict) -> str:  # type: ignore[type-arg]
        value = _n(bot["load"]["replies_per_s"])
        if name == "reference":
            return value
        return f"**{value}** ({speed['ratios']['throughput' + name.removeprefix('hearth') + '_x']:.2f}× stock)"

    def per_process(used: dict, unit: str, digits: int) -> str:  # type: ignore[type-arg]
        """The Rasa server(s)' figure, then the other processes' (action server, ingestion, nginx) in brackets."""
        others = ", ".join(
            f"+{_n(value, digits)} {role.replace('_', ' ')}" for role, value in used.items() if role != "rasa_server"
        )
        return f"{_n(used['rasa_server'], digits)} {unit}" + (f" ({others})" if others else "")

    load = bots[0]["load"]
    lines = [
        "| | " + " | ".join(titles[name] for name in names) + " |",
        "| --- |" + " --- |" * len(names),
        row(f"replies/s, {load['conversations']} concurrent conversations (Hearth's with CRM work)", replies),
        row(
            "reply p50 / p95 under that load",
            lambda _, bot: f"{_n(bot['load']['p50_ms'], 0)} / {_n(bot['load']['p95_ms'], 0)} ms",
        ),
    ]
    if all("cpu_ms_per_reply" in bot["load"] for bot in bots):
        lines.append(
            row(
                "CPU per reply under that load, Rasa server(s)",
                lambda _, bot: per_process(bot["load"]["cpu_ms_per_reply"], "ms", 1),
            )
        )
    lines += [
        row("reply p50, one conversation", lambda _, bot: f"{_n(bot['single']['p50_ms'])} ms"),
        row(
            f"NLU parse p50, {bots[0]['nlu_parse']['count']:,} customer messages",
            lambda _, bot: f"{bot['nlu_parse']['p50_ms']:.2f} ms",
        ),
        row(f"turn {bots[0]['long']['turns']} against the first turns", lambda _, bot: f"{bot['long']['ratio']:.2f}×"),
        row(
            f"session {bots[0]['sessions']['sessions']} of a returning customer against the first",
            lambda _, bot: f"{bot['sessions']['ratio']:.2f}×",
        ),
        row("memory, Rasa server(s) (peak)", lambda _, bot: per_process(bot["memory_peak_mb"], "MB", 0)),
    ]
    stamp = f"Measured {speed['measured_at'][:10]} on commit `{speed['commit']}`, {speed['machine']['cpus']} cores"
    if encoders and encoders.get("retrain"):
        retrain = encoders["retrain"]
        dashes = " | –" * (len(names) - 1)
        lines.append(
            f"| training, public intent set ({retrain['set']}, {retrain['examples']:,} examples): from scratch / "
            f"after ten examples added | {_n(retrain['first_s'])} s / {_n(retrain['ten_added_s'])} s{dashes} |"
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
