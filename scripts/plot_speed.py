"""Plot scripts/bench_speed.py's JSON: `.venvs/rasa/bin/python scripts/plot_speed.py speed.json speed.png`.

Runs in the Rasa virtualenv, which already has matplotlib.
"""

from __future__ import annotations

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main(source: str, target: str) -> None:
    report = json.load(open(source))
    bots = report["bots"]
    names = list(bots)
    colours = {"reference": "#9a9a9a", "hearth": "#c2571a", "hearth_2": "#e0a040"}
    width = 0.8 / len(names)
    fig, axes = plt.subplots(2, 2, figsize=(11, 7.5))

    ax = axes[0][0]
    for i, name in enumerate(names):
        load = bots[name]["load"]
        values = [load["p50_ms"], load["p95_ms"], load["p99_ms"]]
        ax.bar([x + i * width for x in range(3)], values, width=width, label=name, color=colours.get(name))
    ax.set_xticks([x + width * (len(names) - 1) / 2 for x in range(3)], ["p50", "p95", "p99"])
    ax.set_ylabel("reply time (ms)")
    ax.set_title(f"{bots[names[0]]['load']['conversations']} concurrent conversations")
    ax.legend()

    ax = axes[0][1]
    ax.bar(names, [bots[n]["load"]["replies_per_s"] for n in names], color=[colours.get(n) for n in names])
    ax.set_ylabel("replies per second")
    ax.set_title("throughput under that load")

    ax = axes[1][0]
    for name in names:
        ax.plot(bots[name]["long"]["per_turn_ms"], label=name, color=colours.get(name), linewidth=0.8)
    ax.set_xlabel("turn of one conversation")
    ax.set_ylabel("reply time (ms)")
    ax.set_title("reply time as one conversation grows")
    ax.legend()

    ax = axes[1][1]
    for name in names:
        ax.plot(bots[name]["sessions"]["per_session_ms"], label=name, color=colours.get(name), marker=".")
    ax.set_xlabel("session of one returning customer")
    ax.set_ylabel("median reply time (ms)")
    ax.set_title("reply time across sessions")
    ax.legend()

    fig.suptitle(f"Hearth speed benchmark ({report['measured_at']}, {report['machine']['cpus']} cores)")
    fig.tight_layout()
    fig.savefig(target, dpi=110)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
