"""The console's web app (FastAPI, Jinja2 templates with autoescaping). Analytics for admins:

    GET /analytics?start=YYYY-MM-DD&end=YYYY-MM-DD&channel=&tier=   charts and tables
    GET /analytics/report.csv?...                                   the same figures per day, as CSV
    GET /analytics/conversations/{id}                               an example conversation

Sign-in is HTTP Basic for the `admin` user, with the password from CONSOLE_ADMIN_PASSWORD (in
development a random one is kept in the data folder, `console_admin_password`). The agent console's
accounts, roles and sessions will replace this.
"""

from __future__ import annotations

import hmac
import os
import secrets
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.security import HTTPBasic, HTTPBasicCredentials
from fastapi.templating import Jinja2Templates
from markupsafe import Markup

from console.charts import bar_chart, line_chart
from crm_adapter.analytics import TIERS, Filters, Report, SqlAnalytics, days_of
from crm_adapter.domain import CrmUnavailable, InvalidInput, NotFound
from crm_adapter.history.timeline import SqlHistoryService

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
DEFAULT_DAYS = 30
_basic = HTTPBasic(auto_error=False, realm="Hearth console")


def require_admin(request: Request, credentials: Annotated[HTTPBasicCredentials | None, Depends(_basic)]) -> str:
    expected: str = request.app.state.admin_password
    given = credentials.password if credentials is not None else ""
    user_ok = credentials is not None and hmac.compare_digest(credentials.username.encode(), b"admin")
    if not (user_ok and hmac.compare_digest(given.encode(), expected.encode())):
        raise HTTPException(401, "Sign in as admin.", headers={"WWW-Authenticate": 'Basic realm="Hearth console"'})
    return "admin"


Admin = Annotated[str, Depends(require_admin)]
Text = Annotated[str | None, Query(max_length=40)]


def filters_from(start: str | None, end: str | None, channel: str | None, tier: str | None, today: date) -> Filters:
    def day(value: str | None, field: str, default: date) -> date:
        if not value:
            return default
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise InvalidInput(field, f"{field} must be a date like 2026-11-01.") from None

    last = day(end, "end", today)
    first = day(start, "start", last - timedelta(days=DEFAULT_DAYS - 1))
    return Filters(first, last, channel=channel or None, tier=tier or None)


def charts(report: Report) -> list[Markup]:
    days = days_of(report.filters)
    per_day = [report.by_day.get(d) for d in days]

    def series(attr: str, scale: float = 1.0) -> list[float | None]:
        values = []
        for figures in per_day:
            v = getattr(figures, attr) if figures is not None else None
            values.append(v * scale if v is not None else None)
        return values

    return [
        Markup(bar_chart("Conversations per day", days, [f.conversations if f else 0 for f in per_day])),
        Markup(
            line_chart(
                "Outcomes (% of ended conversations; fallback: % of all)",
                days,
                {
                    "containment": series("containment", 100),
                    "handoff": series("handoff_rate", 100),
                    "fallback": series("fallback_rate", 100),
                    "abandoned": series("abandonment", 100),
                },
                0,
                100,
                "%",
            )
        ),
        Markup(
            line_chart(
                "Satisfaction (CSAT 1-5)",
                days,
                {"CSAT, bot resolved": series("csat_bot_mean"), "CSAT, person resolved": series("csat_person_mean")},
                1,
                5,
            )
        ),
        Markup(line_chart("NPS", days, {"NPS": series("nps_score")}, -100, 100)),
        Markup(line_chart("Average sentiment", days, {"sentiment": series("average_sentiment")}, -1, 1)),
    ]


def create_app(analytics: SqlAnalytics, history: SqlHistoryService, admin_password: str) -> FastAPI:
    if len(admin_password) < 12:
        raise ValueError("The console's admin password needs at least 12 characters.")
    app = FastAPI(title="Hearth console", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.admin_password = admin_password

    @app.exception_handler(InvalidInput)
    async def _invalid(request: Request, exc: InvalidInput) -> Response:
        return TEMPLATES.TemplateResponse(
            request, "error.html", {"status": 422, "message": str(exc), "field": exc.field}, status_code=422
        )

    @app.exception_handler(NotFound)
    async def _missing(request: Request, exc: NotFound) -> Response:
        return TEMPLATES.TemplateResponse(
            request, "error.html", {"status": 404, "message": "No such conversation.", "field": None}, status_code=404
        )

    @app.exception_handler(CrmUnavailable)
    async def _down(request: Request, exc: CrmUnavailable) -> Response:
        message = "The CRM database cannot be reached right now; try again in a minute."
        return TEMPLATES.TemplateResponse(
            request, "error.html", {"status": 503, "message": message, "field": None}, status_code=503
        )

    @app.get("/health", include_in_schema=False)
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/", include_in_schema=False)
    def home(_: Admin) -> RedirectResponse:
        return RedirectResponse("/analytics")

    @app.get("/analytics", response_class=HTMLResponse)
    def analytics_page(
        request: Request, _: Admin, start: Text = None, end: Text = None, channel: Text = None, tier: Text = None
    ) -> Any:
        filters = filters_from(start, end, channel, tier, date.today())
        report = analytics.report(filters)
        return TEMPLATES.TemplateResponse(
            request,
            "analytics.html",
            {
                "report": report,
                "f": filters,
                "total": report.total.summary(),
                "charts": charts(report),
                "tiers": TIERS,
                "channels": sorted(report.by_channel),
                "worst": {
                    "Most fallbacks": report.worst("fallbacks"),
                    "Lowest CSAT": report.worst("csat"),
                    "Most handoffs": report.worst("handoffs"),
                },
            },
        )

    @app.get("/analytics/report.csv")
    def analytics_csv(_: Admin, start: Text = None, end: Text = None, channel: Text = None, tier: Text = None) -> Any:
        report = analytics.report(filters_from(start, end, channel, tier, date.today()))
        return Response(
            report.to_csv(),
            media_type="text/csv",
            headers={"Content-Disposition": 'attachment; filename="hearth-analytics.csv"'},
        )

    @app.get("/analytics/conversations/{conversation_id}", response_class=HTMLResponse)
    def example(request: Request, _: Admin, conversation_id: int) -> Any:
        detail = history.any_conversation(conversation_id, limit=100)
        return TEMPLATES.TemplateResponse(request, "conversation.html", {"c": detail})

    return app


def admin_password_from_env() -> str:
    if os.environ.get("CONSOLE_ADMIN_PASSWORD"):
        return os.environ["CONSOLE_ADMIN_PASSWORD"]
    from crm_adapter.settings import Settings

    path = Settings.from_env().data_dir / "console_admin_password"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(18))
        path.chmod(0o600)
    return path.read_text().strip()


def app_from_env() -> FastAPI:
    """For `uvicorn --factory console.app:app_from_env` (the run command's `console` process)."""
    from crm_adapter.settings import Settings
    from crm_adapter.sql.db import make_engine, make_session_factory

    settings = Settings.from_env()
    sessions = make_session_factory(make_engine(settings.database_url))
    return create_app(SqlAnalytics(sessions), SqlHistoryService(sessions), admin_password_from_env())
