"""The report as files: its figures per day as CSV, its charts (the catalogue) as PNG with matplotlib."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from analytics import catalogue
from analytics.metrics import Report, days_of

COLUMNS = ("conversations", "containment", "handoff_rate", "fallback_rate", "abandonment", "csat_bot",
           "csat_bot_ratings", "csat_person", "csat_person_ratings", "nps", "nps_ratings", "average_sentiment",
           "median_resolution_seconds")  # fmt: skip


def report_csv(report: Report) -> str:
    """One row per day of the range (days without conversations included), then the total."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["day", *COLUMNS])
    rows = [(d.isoformat(), figures) for d, figures in report.per_day()]
    for label, figures in [*rows, ("total", report.total)]:
        summary = figures.summary()
        writer.writerow([label, *("" if summary[c] is None else summary[c] for c in COLUMNS)])
    return out.getvalue()


def write_charts(report: Report, folder: Path) -> list[Path]:
    """PNG charts of the figures per day (matplotlib, drawn without a screen), one file per chart."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    days = days_of(report.filters)
    written = []
    for chart in catalogue.CHARTS:
        fig, ax = plt.subplots(figsize=(8, 3.2), dpi=100)
        for label, series in catalogue.values(chart, report).items():
            ys = [float("nan") if v is None else v for v in series]
            ax.plot(days, ys, marker="o", markersize=3, label=label)  # type: ignore[arg-type]
        ax.set_title(chart.title)
        ax.legend(loc="best", fontsize=8)
        fig.autofmt_xdate()
        fig.tight_layout()
        path = folder / f"{chart.id}.png"
        fig.savefig(path)
        plt.close(fig)
        written.append(path)
    return written
