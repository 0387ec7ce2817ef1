"""Charts as inline SVG, drawn on the server: no script, nothing fetched by the browser, and readable by
anything that reads HTML. Each chart says what it shows in its title and in `data-` attributes. Which charts,
with which series, come from the catalogue (analytics/catalogue.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from html import escape

from analytics import catalogue
from analytics.metrics import Report, days_of

COLOURS = ("#2f6f8f", "#c8553d", "#6a994e", "#8e6c8a", "#d4a017")
WIDTH, HEIGHT, PAD = 640, 220, 36


def line_chart(
    title: str,
    days: Sequence[date],
    series: Mapping[str, Sequence[float | None]],
    low: float,
    high: float,
    unit: str = "",
) -> str:
    """One line per series over the days; gaps where a value is None."""
    n = max(len(days), 1)
    span = (high - low) or 1.0

    def x(i: int) -> float:
        return PAD + (WIDTH - 2 * PAD) * (i / (n - 1) if n > 1 else 0.5)

    def y(v: float) -> float:
        return HEIGHT - PAD - (HEIGHT - 2 * PAD) * (min(max(v, low), high) - low) / span

    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {WIDTH} {HEIGHT}" data-chart="{escape(title)}" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>',
        f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}" stroke="#999"/>',
        f'<text x="4" y="{PAD - 6}" font-size="11">{high:g}{escape(unit)}</text>',
        f'<text x="4" y="{HEIGHT - PAD}" font-size="11">{low:g}{escape(unit)}</text>',
    ]
    if days:
        parts.append(f'<text x="{PAD}" y="{HEIGHT - 8}" font-size="11">{days[0]:%d %b}</text>')
        parts.append(
            f'<text x="{WIDTH - PAD}" y="{HEIGHT - 8}" font-size="11" text-anchor="end">{days[-1]:%d %b}</text>'
        )
    for k, (name, values) in enumerate(series.items()):
        colour = COLOURS[k % len(COLOURS)]
        segments: list[list[str]] = [[]]
        for i, v in enumerate(values):
            if v is None:
                segments.append([])
            else:
                segments[-1].append(f"{x(i):.1f},{y(v):.1f}")
        points = sum(1 for v in values if v is not None)
        for seg in segments:
            if len(seg) > 1:
                parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{" ".join(seg)}"/>')
            elif seg:
                cx, cy = seg[0].split(",")
                parts.append(f'<circle cx="{cx}" cy="{cy}" r="3" fill="{colour}"/>')
        parts.append(
            f'<text class="legend" x="{PAD + 150 * k}" y="16" font-size="12" fill="{colour}" '
            f'data-series="{escape(name)}" data-points="{points}">{escape(name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(title: str, days: Sequence[date], values: Sequence[int]) -> str:
    n = max(len(days), 1)
    top = max(values, default=0) or 1
    width = (WIDTH - 2 * PAD) / n
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {WIDTH} {HEIGHT}" data-chart="{escape(title)}" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>',
        f'<text x="4" y="{PAD - 6}" font-size="11">{top}</text>',
    ]
    for i, v in enumerate(values):
        h = (HEIGHT - 2 * PAD) * v / top
        parts.append(
            f'<rect class="bar" x="{PAD + i * width + 1:.1f}" y="{HEIGHT - PAD - h:.1f}" '
            f'width="{max(width - 2, 1):.1f}" height="{h:.1f}" fill="{COLOURS[0]}">'
            f"<title>{days[i]:%d %b}: {v}</title></rect>"
        )
    if days:
        parts.append(f'<text x="{PAD}" y="{HEIGHT - 8}" font-size="11">{days[0]:%d %b}</text>')
        parts.append(
            f'<text x="{WIDTH - PAD}" y="{HEIGHT - 8}" font-size="11" text-anchor="end">{days[-1]:%d %b}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def svg_charts(report: Report) -> list[str]:
    """The catalogue's charts of the report, in its order."""
    days = days_of(report.filters)
    drawn = []
    for chart in catalogue.CHARTS:
        series = catalogue.values(chart, report)
        if chart.bars:
            (counts,) = series.values()
            drawn.append(bar_chart(chart.title, days, [int(v or 0) for v in counts]))
        else:
            drawn.append(line_chart(chart.title, days, series, chart.low, chart.high, chart.unit))
    return drawn
