"""Conversation analytics, for admins.

GET  /analytics?start=YYYY-MM-DD&end=YYYY-MM-DD&channel=&tier=   charts and tables
GET  /analytics/report.csv?...                                  the same figures per day, as CSV
GET  /analytics/conversations/{id}                              an example conversation
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup

from analytics.charts import svg_charts
from analytics.metrics import TIERS, Filters, Report
from analytics.render import report_csv
from console.deps import TEMPLATES, Admin, RowId, Services, Text, actor
from crm_adapter.domain import InvalidInput

DEFAULT_DAYS = 30
EARLIEST_DAY, LATEST_DAY = date(1900, 1, 1), date(9998, 12, 31)  # analytics dates

router = APIRouter()


def filters_from(start: str | None, end: str | None, channel: str | None, tier: str | None, today: date) -> Filters:
    def day(value: str | None, field: str, default: date) -> date:
        if not value:
            return default
        try:
            parsed = date.fromisoformat(value)
        except ValueError:
            parsed = None
        # bounded, so that a month before it and the day after it are dates too
        if parsed is None or not EARLIEST_DAY <= parsed <= LATEST_DAY:
            raise InvalidInput(field, f"{field} must be a date like 2026-11-01.")
        return parsed

    last = day(end, "end", today)
    first = day(start, "start", last - timedelta(days=DEFAULT_DAYS - 1))
    return Filters(first, last, channel=channel or None, tier=tier or None)


def charts(report: Report) -> list[Markup]:
    """The report's charts as SVG, from the one chart catalogue (analytics/catalogue.py) the PNGs also use."""
    return [Markup(chart) for chart in svg_charts(report)]


@router.get("/analytics", response_class=HTMLResponse)
def analytics_page(
    request: Request,
    _: Admin,
    services: Services,
    start: Text = None,
    end: Text = None,
    channel: Text = None,
    tier: Text = None,
) -> Any:
    filters = filters_from(start, end, channel, tier, date.today())
    report = services.analytics.report(filters)
    knowledge = (
        services.knowledge.store.figures(filters.since, filters.until, filters.channel) if services.knowledge else None
    )
    people = services.targets.figures(filters.start, filters.end) if services.targets is not None else None
    return TEMPLATES.TemplateResponse(
        request,
        "analytics.html",
        {
            "people": people,
            "targets": services.targets.get() if services.targets is not None else None,
            "report": report,
            "f": filters,
            "total": report.total.summary(),
            "charts": charts(report),
            "tiers": TIERS,
            "knowledge": knowledge,
            "channels": sorted(report.by_channel),
            "worst": {
                "Most fallbacks": report.worst("fallbacks"),
                "Lowest CSAT": report.worst("csat"),
                "Most handoffs": report.worst("handoffs"),
            },
        },
    )


@router.get("/analytics/report.csv")
def analytics_csv(
    _: Admin, services: Services, start: Text = None, end: Text = None, channel: Text = None, tier: Text = None
) -> Any:
    report = services.analytics.report(filters_from(start, end, channel, tier, date.today()))
    return Response(
        report_csv(report),
        media_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="hearth-analytics.csv"'},
    )


@router.get("/analytics/conversations/{conversation_id}", response_class=HTMLResponse)
def example(request: Request, me: Admin, services: Services, conversation_id: RowId) -> Any:
    log = services.audit_log()
    detail = services.history.any_conversation(conversation_id, limit=100)
    who = actor(request, me)
    log.record(who, "conversation.viewed", "conversation", conversation_id, customer_id=detail.customer_id)
    return TEMPLATES.TemplateResponse(request, "conversation.html", {"c": detail})
