"""The chart catalogue drawn as SVG (the console's charts): one chart per catalogue entry, its series and gaps."""

from __future__ import annotations

from datetime import date

import pytest

from analytics import catalogue
from analytics.charts import svg_charts
from analytics.metrics import Figures, Filters, fold

pytestmark = pytest.mark.unit

DAY1, DAY2, DAY3 = date(2026, 11, 1), date(2026, 11, 2), date(2026, 11, 3)


def report():  # type: ignore[no-untyped-def]
    busy = Figures(4, 4, 2, 1, 1, 1, 1.5, 3, csat_bot=[5, 3], csat_person=[2], nps=[10, 6])
    quiet = Figures(1, 0, 0, 0, 0, 0, 0.0, 0)
    return fold(Filters(DAY1, DAY3), {(DAY1, "rest", "vip"): busy, (DAY3, "web", "low"): quiet}, {}, (), ())


def test_every_catalogue_chart_has_a_value_per_day_and_gaps_where_nothing_happened() -> None:
    r = report()
    assert [c.id for c in catalogue.CHARTS] == ["conversations", "outcomes", "satisfaction", "nps", "sentiment"]
    assert catalogue.values(catalogue.CHARTS[0], r) == {"conversations": [4, 0, 1]}
    outcomes = catalogue.values(catalogue.CHARTS[1], r)
    assert outcomes["containment"] == [50.0, None, None] and outcomes["fallback"] == [25.0, None, 0.0]
    assert catalogue.values(catalogue.CHARTS[2], r) == {
        "CSAT, bot resolved": [4.0, None, None],
        "CSAT, person resolved": [2.0, None, None],
    }


def test_the_svg_charts_draw_the_catalogue() -> None:
    drawn = svg_charts(report())
    titles = [chart.title for chart in catalogue.CHARTS]
    assert (
        [svg.split('data-chart="', 1)[1].split('"', 1)[0] for svg in drawn]
        == [
            "Conversations per day",
            "Outcomes (% of ended conversations; fallback: % of all)",
            "Satisfaction (CSAT 1-5)",
            "NPS",
            "Average sentiment",
        ]
        == titles
    )
    assert drawn[0].count('class="bar"') == 3 and "02 Nov: 0" in drawn[0]
    assert 'data-series="fallback" data-points="2"' in drawn[1]
    assert 'data-series="CSAT, person resolved" data-points="1"' in drawn[2]
