"""The analytics charts, once, for every renderer (the console's SVG, the command line's PNG): each chart's
id, title, series (which figure, scaled how) and scale."""

from __future__ import annotations

from dataclasses import dataclass

from analytics.metrics import Report


@dataclass(frozen=True)
class Series:
    label: str
    figure: str  # the Figures attribute drawn
    scale: float = 1.0  # 100: a share drawn as a percentage


@dataclass(frozen=True)
class Chart:
    id: str  # also the PNG's file name
    title: str
    series: tuple[Series, ...]
    low: float = 0.0  # the value axis
    high: float = 1.0
    unit: str = ""
    bars: bool = False  # bars per day (counts) rather than lines


CHARTS = (
    Chart("conversations", "Conversations per day", (Series("conversations", "conversations"),), bars=True),
    Chart(
        "outcomes",
        "Outcomes (% of ended conversations; fallback: % of all)",
        (
            Series("containment", "containment", 100),
            Series("handoff", "handoff_rate", 100),
            Series("fallback", "fallback_rate", 100),
            Series("abandoned", "abandonment", 100),
        ),
        0,
        100,
        "%",
    ),
    Chart(
        "satisfaction",
        "Satisfaction (CSAT 1-5)",
        (Series("CSAT, bot resolved", "csat_bot_mean"), Series("CSAT, person resolved", "csat_person_mean")),
        1,
        5,
    ),
    Chart("nps", "NPS", (Series("NPS", "nps_score"),), -100, 100),
    Chart("sentiment", "Average sentiment", (Series("sentiment", "average_sentiment"),), -1, 1),
)


def values(chart: Chart, report: Report) -> dict[str, list[float | None]]:
    """Each series' value per day of the report's range; None where a day has nothing to show."""
    per_day = [figures for _, figures in report.per_day()]
    drawn: dict[str, list[float | None]] = {}
    for series in chart.series:
        found = [getattr(figures, series.figure) for figures in per_day]
        drawn[series.label] = [v if v is None or series.scale == 1 else v * series.scale for v in found]
    return drawn
