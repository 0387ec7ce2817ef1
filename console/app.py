"""The console's web app (FastAPI, Jinja2 templates with autoescaping): the agent console.

    GET  /login, POST /login, POST /logout                          sign in and out (public: /login, /health)
    GET  /                                                          home: who is signed in, what they may use
    GET  /analytics?start=YYYY-MM-DD&end=YYYY-MM-DD&channel=&tier=   charts and tables (admins)
    GET  /analytics/report.csv?...                                  the same figures per day, as CSV (admins)
    GET  /analytics/conversations/{id}                              an example conversation (admins)
    GET  /handoffs                                                  the queue: waiting by priority, and taken
    POST /handoffs/{id}/take                                        take a waiting conversation
    GET  /handoffs/{id}, GET /handoffs/{id}/transcript?after=N      the packet and the live transcript (JSON)
    POST /handoffs/{id}/reply | notes | tags | close                reply to the customer through their channel,
                                                                    private notes, tags, resolve or hand back
    GET  /reviews?status=, POST /reviews/{id}                       misunderstood messages: label the intent
                                                                    they meant, out of scope, or dismiss

Accounts and sessions come from `handoff.agents.SqlAgentService` (`python -m hearth agents ...`).
Signing in sets the cookie `hearth_console` (HttpOnly, SameSite=Strict, Secure when `secure_cookies`) to a
session token; the database keeps only its hash.

The route policy: every route outside `PUBLIC_PATHS` declares who may use it with one of the
dependencies `current_agent` (any signed-in agent or admin; the `SignedIn` annotation) or `require_admin`
(`Admin`); `create_app` refuses to build an app with a route that has neither, and
tests/integration/test_console_auth.py checks every route's behaviour against its dependency.

* Without a valid session, a GET of an HTML page (a route declared with `response_class=HTMLResponse`)
  is redirected (303) to `/login?next=<the page>`; any other request gets a 401 (a JSON error, or the
  error page for HTML routes).
* A signed-in agent without the role gets a 403 (the error page for HTML routes, JSON otherwise).
* A request that changes state (any method but GET, HEAD, OPTIONS), except POST /login, must carry the
  session's CSRF token, as the form field `csrf` or the header `X-CSRF-Token`; else 403. The auth
  dependencies check it, so every protected POST route is covered.
* Templates get `me` (the signed-in `Agent`, or None), `csrf` (the token) and `csrf_field` (a hidden
  input carrying it, for forms) from a context processor: no route has to pass them.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode, urlsplit

from fastapi import Depends, FastAPI, Form, Query, Request
from fastapi import Path as PathParam
from fastapi.dependencies.models import Dependant
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool

from analytics.charts import bar_chart, line_chart
from analytics.report import TIERS, Filters, Report, SqlAnalytics, days_of
from crm_adapter.domain import CrmUnavailable, InvalidInput, NotAllowed, NotFound
from crm_adapter.rasa_api import RasaConversations, RasaUnavailable
from handoff.agents import MAX_PASSWORD_LENGTH, SESSION_HOURS, Agent, AgentSession, SqlAgentService
from handoff.service import SqlHandoffService
from history.timeline import SqlHistoryService
from history.tracker_events import TrackerEvents
from nlu_review.queue import STATUSES as REVIEW_STATUSES
from nlu_review.queue import ReviewQueue

SESSION_COOKIE = "hearth_console"
PUBLIC_PATHS = frozenset({"/login", "/health"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_FIELD, CSRF_HEADER = "csrf", "X-CSRF-Token"
DEFAULT_DAYS = 30
EARLIEST_DAY, LATEST_DAY = date(1900, 1, 1), date(9998, 12, 31)  # analytics dates


# ---- who is signed in -------------------------------------------------------


class NotSignedIn(Exception):
    """No valid session: answered with a redirect to the sign-in page or a 401."""


class Forbidden(Exception):
    """Signed in, but not allowed (the wrong role, or no CSRF token): answered with a 403."""


def _template_context(request: Request) -> dict[str, Any]:
    session: AgentSession | None = getattr(request.state, "console_session", None)
    csrf = session.csrf_token if session is not None else ""
    return {
        "me": session.agent if session is not None else None,
        "csrf": csrf,
        "csrf_field": Markup('<input type="hidden" name="{}" value="{}">').format(CSRF_FIELD, csrf),
    }


TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"), context_processors=[_template_context])


def _agents(request: Request) -> SqlAgentService:
    agents: SqlAgentService = request.app.state.agents
    return agents


async def _csrf_ok(request: Request, session: AgentSession) -> bool:
    given = request.headers.get(CSRF_HEADER)
    if given is None:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            value = (await request.form()).get(CSRF_FIELD)
            given = value if isinstance(value, str) else None
    return given is not None and hmac.compare_digest(given.encode(), session.csrf_token.encode())


async def current_agent(request: Request) -> AgentSession:
    """Any signed-in agent or admin. On requests that change state, also checks the CSRF token."""
    token = request.cookies.get(SESSION_COOKIE, "")
    session = await run_in_threadpool(_agents(request).session_agent, token) if token else None
    if session is None:
        raise NotSignedIn()
    request.state.console_session = session
    if request.method not in SAFE_METHODS and not await _csrf_ok(request, session):
        raise Forbidden("This form has expired or did not come from the console: reload the page and try again.")
    return session


async def require_admin(session: Annotated[AgentSession, Depends(current_agent)]) -> AgentSession:
    """A signed-in admin."""
    if session.agent.role != "admin":
        raise Forbidden("This page is for admins.")
    return session


SignedIn = Annotated[AgentSession, Depends(current_agent)]
Admin = Annotated[AgentSession, Depends(require_admin)]
Text = Annotated[str | None, Query(max_length=40)]
MAX_ID = 2**63 - 1  # the largest row id a database can store; a larger one must not reach SQL (SQLite: OverflowError)
RowId = Annotated[int, PathParam(ge=1, le=MAX_ID)]


def _dependency_calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _dependency_calls(sub)


def required_role(route: APIRoute) -> str | None:
    """ "admin" or "agent" from the route's dependencies; None when it has no auth dependency."""
    calls = set(_dependency_calls(route.dependant))
    if require_admin in calls:
        return "admin"
    if current_agent in calls:
        return "agent"
    return None


def check_route_policy(app: FastAPI) -> None:
    """Every route is public (in PUBLIC_PATHS) or declares an auth dependency; refuse to start otherwise."""
    unprotected = [
        f"{','.join(sorted(getattr(route, 'methods', None) or []))} {getattr(route, 'path', route)}"
        for route in app.routes
        if getattr(route, "path", None) not in PUBLIC_PATHS
        and not (isinstance(route, APIRoute) and required_role(route) is not None)
    ]
    if unprotected:
        raise RuntimeError(
            "console routes without a policy (depend on current_agent or require_admin, or add the path to "
            f"PUBLIC_PATHS): {'; '.join(unprotected)}"
        )


def is_html_route(request: Request) -> bool:
    route = request.scope.get("route")
    return isinstance(route, APIRoute) and route.response_class is HTMLResponse


def safe_next(value: str | None) -> str:
    """`value` if it is a path on this site, else "/": never a redirect to another site."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in value):
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or parts.path == "/login":
        return "/"
    return value


def _login_url(request: Request) -> str:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return "/login" if target == "/" else "/login?" + urlencode({"next": target})


# ---- analytics ----------------------------------------------------------------


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


def create_app(
    analytics: SqlAnalytics,
    history: SqlHistoryService,
    agents: SqlAgentService,
    secure_cookies: bool = False,
    handoffs: SqlHandoffService | None = None,
    rasa: RasaConversations | None = None,
    tracker: TrackerEvents | None = None,
    reviews: ReviewQueue | None = None,
) -> FastAPI:
    """Add routes before the policy check at the end: each depends on `current_agent` (`SignedIn`) or
    `require_admin` (`Admin`), or is listed in PUBLIC_PATHS. HTML pages declare `response_class=HTMLResponse`."""
    app = FastAPI(title="Hearth console", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.agents = agents

    def error_page(request: Request, status: int, message: str, field: str | None = None) -> Response:
        return TEMPLATES.TemplateResponse(
            request, "error.html", {"status": status, "message": message, "field": field}, status_code=status
        )

    def forget_cookie(response: Response) -> None:
        response.delete_cookie(SESSION_COOKIE, path="/", secure=secure_cookies, httponly=True, samesite="strict")

    @app.middleware("http")
    async def _headers(request: Request, call_next: Callable[[Request], Any]) -> Response:
        response: Response = await call_next(request)
        response.headers.setdefault("Cache-Control", "no-store")  # pages carry personal data and CSRF tokens
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    @app.exception_handler(NotSignedIn)
    async def _not_signed_in(request: Request, exc: NotSignedIn) -> Response:
        response: Response
        if is_html_route(request) and request.method in SAFE_METHODS:
            response = RedirectResponse(_login_url(request), status_code=303)
        elif is_html_route(request):
            response = error_page(request, 401, "Your session has ended: sign in again.")
        else:
            response = JSONResponse({"detail": "Sign in first."}, status_code=401)
        if SESSION_COOKIE in request.cookies:
            forget_cookie(response)
        return response

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc: Forbidden) -> Response:
        if is_html_route(request):
            return error_page(request, 403, str(exc))
        return JSONResponse({"detail": str(exc)}, status_code=403)

    @app.exception_handler(InvalidInput)
    async def _invalid(request: Request, exc: InvalidInput) -> Response:
        return error_page(request, 422, str(exc), exc.field)

    @app.exception_handler(NotFound)
    async def _missing(request: Request, exc: NotFound) -> Response:
        return error_page(request, 404, "No such conversation.")

    @app.exception_handler(NotAllowed)
    async def _conflict(request: Request, exc: NotAllowed) -> Response:
        return error_page(request, 409, f"That can't be done: {exc}.")

    @app.exception_handler(RasaUnavailable)
    async def _rasa_down(request: Request, exc: RasaUnavailable) -> Response:
        return error_page(request, 503, "The bot server cannot be reached right now, so nothing was sent; try again.")

    @app.exception_handler(CrmUnavailable)
    async def _down(request: Request, exc: CrmUnavailable) -> Response:
        return error_page(request, 503, "The CRM database cannot be reached right now; try again in a minute.")

    @app.get("/health", include_in_schema=False)
    def health() -> dict[str, str]:
        return {"status": "ok"}

    # ---- signing in and out -------------------------------------------------

    @app.get("/login", response_class=HTMLResponse)
    def login_form(request: Request, next_: Annotated[str, Query(alias="next", max_length=2000)] = "/") -> Response:
        token = request.cookies.get(SESSION_COOKIE, "")
        if token and agents.session_agent(token) is not None:
            return RedirectResponse(safe_next(next_), status_code=303)
        return TEMPLATES.TemplateResponse(request, "login.html", {"next": safe_next(next_), "error": None})

    @app.post("/login", response_class=HTMLResponse)
    def login(
        request: Request,
        username: Annotated[str, Form(max_length=200)] = "",
        password: Annotated[str, Form(max_length=MAX_PASSWORD_LENGTH)] = "",
        next_: Annotated[str, Form(alias="next", max_length=2000)] = "/",
    ) -> Response:
        agent: Agent | None = agents.authenticate(username, password)
        if agent is None:
            context = {
                "next": safe_next(next_),
                "username": username[:40],
                "error": "That username and password don't match an active account.",
            }
            return TEMPLATES.TemplateResponse(request, "login.html", context, status_code=401)
        if old := request.cookies.get(SESSION_COOKIE):
            agents.end_session(old)
        token, _ = agents.start_session(agent.agent_id)
        response = RedirectResponse(safe_next(next_), status_code=303)
        response.set_cookie(
            SESSION_COOKIE,
            token,
            max_age=SESSION_HOURS * 3600,
            path="/",
            secure=secure_cookies,
            httponly=True,
            samesite="strict",
        )
        return response

    @app.post("/logout", response_class=HTMLResponse)
    def logout(request: Request, _: SignedIn) -> Response:
        agents.end_session(request.cookies.get(SESSION_COOKIE, ""))
        response = RedirectResponse("/login", status_code=303)
        forget_cookie(response)
        return response

    @app.get("/", response_class=HTMLResponse)
    def home(request: Request, _: SignedIn) -> Response:
        return TEMPLATES.TemplateResponse(request, "home.html", {})

    # ---- analytics (admins) -------------------------------------------------

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
    def example(request: Request, _: Admin, conversation_id: RowId) -> Any:
        detail = history.any_conversation(conversation_id, limit=100)
        return TEMPLATES.TemplateResponse(request, "conversation.html", {"c": detail})

    # ---- handoffs: the queue and the conversations agents take over (agents and admins) ----------

    def desk() -> SqlHandoffService:
        if handoffs is None:
            raise CrmUnavailable("handoffs need the CRM database (CRM_BACKEND=sql)")
        return handoffs

    def bot() -> RasaConversations:
        if rasa is None:
            raise RasaUnavailable("RASA_URL and RASA_API_TOKEN are not set")
        return rasa

    def said(sender_id: str, after: int = 0) -> list[dict[str, Any]]:
        return tracker.transcript(sender_id, after_id=after) if tracker is not None else []

    @app.get("/handoffs", response_class=HTMLResponse)
    def queue_page(request: Request, me: SignedIn) -> Response:
        places = desk().queue()
        names = {a.agent_id: a.display_name for a in agents.list_agents()}
        online = agents.online_agents()
        context = {"places": places, "names": names, "online": online, "now": datetime.utcnow()}
        return TEMPLATES.TemplateResponse(request, "handoffs.html", context)

    @app.post("/handoffs/{handoff_id}/take", response_class=HTMLResponse)
    def take(handoff_id: RowId, me: SignedIn) -> Response:
        desk().take(handoff_id, me.agent.agent_id)
        return RedirectResponse(f"/handoffs/{handoff_id}", status_code=303)

    @app.get("/handoffs/{handoff_id}", response_class=HTMLResponse)
    def handoff_page(request: Request, me: SignedIn, handoff_id: RowId) -> Response:
        handoff = desk().get(handoff_id)
        names = {a.agent_id: a.display_name for a in agents.list_agents()}
        context = {
            "h": handoff,
            "p": handoff.packet,
            "mine": handoff.status == "assigned" and handoff.agent_id == me.agent.agent_id,
            "agent_name": names.get(handoff.agent_id or -1),
            "notes": [(names.get(n.agent_id or -1, "someone"), n) for n in desk().notes(handoff_id)],
            "messages": said(handoff.sender_id) if handoff.status in ("waiting", "assigned") else [],
        }
        return TEMPLATES.TemplateResponse(request, "handoff.html", context)

    @app.get("/handoffs/{handoff_id}/transcript")
    def transcript(
        me: SignedIn, handoff_id: RowId, after: Annotated[int, Query(ge=0, le=MAX_ID)] = 0
    ) -> dict[str, Any]:
        handoff = desk().get(handoff_id)
        live = handoff.status in ("waiting", "assigned")
        return {"status": handoff.status, "messages": said(handoff.sender_id, after) if live else []}

    @app.post("/handoffs/{handoff_id}/reply", response_class=HTMLResponse)
    def reply(me: SignedIn, handoff_id: RowId, text: Annotated[str, Form(max_length=2000)] = "") -> Response:
        words = text.strip()
        if not words:
            raise InvalidInput("text", "Write a reply first.")
        handoff = desk().check_owner(handoff_id, me.agent.agent_id)
        bot().send_as_agent(handoff.sender_id, handoff.channel, words, me.agent.display_name, me.agent.agent_id)
        return RedirectResponse(f"/handoffs/{handoff_id}#reply", status_code=303)

    @app.post("/handoffs/{handoff_id}/notes", response_class=HTMLResponse)
    def add_note(me: SignedIn, handoff_id: RowId, text: Annotated[str, Form(max_length=4000)] = "") -> Response:
        desk().add_note(handoff_id, me.agent.agent_id, text)
        return RedirectResponse(f"/handoffs/{handoff_id}#notes", status_code=303)

    @app.post("/handoffs/{handoff_id}/tags", response_class=HTMLResponse)
    def set_tags(me: SignedIn, handoff_id: RowId, tags: Annotated[str, Form(max_length=400)] = "") -> Response:
        desk().set_tags(handoff_id, [t for t in tags.split(",")])
        return RedirectResponse(f"/handoffs/{handoff_id}#tags", status_code=303)

    @app.post("/handoffs/{handoff_id}/close", response_class=HTMLResponse)
    def close(
        me: SignedIn,
        handoff_id: RowId,
        outcome: Annotated[str, Form(max_length=10)] = "",
        note: Annotated[str, Form(max_length=4000)] = "",
    ) -> Response:
        """Resolve, or hand back to the bot (with a note for the record); either way the bot speaks again."""
        if outcome not in ("resolved", "returned"):
            raise InvalidInput("outcome", "Choose resolve or hand back.")
        handoff = desk().check_owner(handoff_id, me.agent.agent_id)
        bot().hand_back(handoff.sender_id, handoff.channel, me.agent.display_name, outcome)
        desk().close(handoff_id, me.agent.agent_id, outcome, note)
        return RedirectResponse("/handoffs", status_code=303)

    # ---- the review queue of misunderstood messages (agents and admins) ------------------------

    def queue_of_reviews() -> ReviewQueue:
        if reviews is None:
            raise CrmUnavailable("the review queue needs the CRM database (CRM_BACKEND=sql)")
        return reviews

    @app.get("/reviews", response_class=HTMLResponse)
    def review_page(request: Request, me: SignedIn, status: Text = None) -> Response:
        chosen = status or "pending"
        items = queue_of_reviews().list(chosen, 200)
        context = {"items": items, "status": chosen, "statuses": REVIEW_STATUSES, "intents": known_intents()}
        return TEMPLATES.TemplateResponse(request, "reviews.html", context)

    @app.post("/reviews/{review_id}", response_class=HTMLResponse)
    def review_decide(
        me: SignedIn,
        review_id: RowId,
        decision: Annotated[str, Form(max_length=20)] = "",
        intent: Annotated[str, Form(max_length=80)] = "",
    ) -> Response:
        """Label a misunderstood message: the intent it meant, out of scope, or dismiss (nonsense, personal data)."""
        queue, who = queue_of_reviews(), me.agent.username
        if decision == "assign":
            if intent.strip() not in known_intents() and intent.strip() != "out_of_scope":
                raise InvalidInput("intent", f"{intent.strip() or 'An empty name'} is not an intent of the bot.")
            queue.assign(review_id, intent, who)
        elif decision == "out_of_scope":
            queue.out_of_scope(review_id, who)
        elif decision == "dismiss":
            queue.dismiss(review_id, who)
        else:
            raise InvalidInput("decision", "Choose assign, out of scope or dismiss.")
        return RedirectResponse("/reviews", status_code=303)

    check_route_policy(app)
    return app


@lru_cache(maxsize=1)
def known_intents() -> tuple[str, ...]:
    """The bot's intents, from its domain (bot/domain/*.yml)."""
    from ruamel.yaml import YAML

    found: set[str] = set()
    for path in sorted((Path(__file__).resolve().parent.parent / "bot" / "domain").glob("*.yml")):
        for intent in (YAML(typ="safe").load(path.read_text()) or {}).get("intents") or []:
            found.add(intent if isinstance(intent, str) else next(iter(intent)))
    return tuple(sorted(found))


def app_from_env() -> FastAPI:
    """For `uvicorn --factory console.app:app_from_env` (the run command's `console` process).
    CONSOLE_SECURE_COOKIES=1 marks the session cookie Secure (set it when the console is served over HTTPS)."""
    from crm_adapter.settings import Settings
    from crm_adapter.sql.db import make_engine, make_session_factory
    from shared import log_redaction

    log_redaction.install()  # emails and phone numbers masked in every log line of this process
    settings = Settings.from_env()
    sessions = make_session_factory(make_engine(settings.database_url))
    secure = os.environ.get("CONSOLE_SECURE_COOKIES", "").strip().lower() in {"1", "true", "yes"}
    rasa = None
    if os.environ.get("RASA_URL") and os.environ.get("RASA_API_TOKEN"):
        rasa = RasaConversations(os.environ["RASA_URL"], os.environ["RASA_API_TOKEN"])
    return create_app(
        SqlAnalytics(sessions),
        SqlHistoryService(sessions),
        SqlAgentService(sessions),
        secure,
        handoffs=SqlHandoffService(sessions),
        rasa=rasa,
        tracker=TrackerEvents(settings.tracker_db_url),
        reviews=ReviewQueue(sessions),
    )
