"""The console's web app (FastAPI, Jinja2 templates with autoescaping): the agent console.

The routes live in `console/routes/`, one router per area: `home` (/, /health), `static` (the console's scripts and
style sheet), `auth` (/login, /logout), `analytics` (admins), `handoffs` (the inbox and taken conversations),
`live` (the server-sent events every page listens to, the live list, stepping in), `customers` (search and the
customer page), `knowledge` (the help centre, admins), `canned` (canned responses, admins), `reviews`
(misunderstood messages), `team` (capacities and response targets, admins), `audit` (the audit log, admins).
Every route that reads a customer's data or changes something leaves an entry in the audit log (`audit/log.py`).
What they depend on (the services, who is signed in, the CSRF check, the templates) is in `console/deps.py`;
the route policy in `console/policy.py`. Accounts and sessions come from `handoff.agents.SqlAgentService`
(`python -m hearth agents ...`).

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

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.routing import APIRoute

from analytics.service import SqlAnalytics
from audit.log import AuditLog
from console.deps import SAFE_METHODS, SESSION_COOKIE, TEMPLATES, ConsoleServices, Forbidden, NotSignedIn, forget_cookie
from console.policy import check_route_policy
from console.routes import ROUTERS
from crm_adapter.domain import CrmUnavailable, InvalidInput, NotAllowed, NotFound
from crm_adapter.rasa_api import RasaConversations, RasaUnavailable
from handoff.agents import SqlAgentService
from handoff.desk import HandoffDesk
from handoff.service import SqlHandoffService
from history.sources import SourceUnavailable
from history.timeline import SqlHistoryService
from history.tracker_events import TrackerEvents
from knowledge.service import Knowledge
from nlu_review.queue import ReviewQueue
from workspace.canned import CannedResponses
from workspace.customers import CustomerDirectory
from workspace.live import LiveConversations
from workspace.sla import ResponseTargets
from workspace.summary import ConversationSummaries


def create_app(
    analytics: SqlAnalytics,
    history: SqlHistoryService,
    agents: SqlAgentService,
    secure_cookies: bool = False,
    handoffs: SqlHandoffService | None = None,
    rasa: RasaConversations | None = None,
    tracker: TrackerEvents | None = None,
    reviews: ReviewQueue | None = None,
    knowledge: Knowledge | None = None,
    audit: AuditLog | None = None,
    customers: CustomerDirectory | None = None,
    live: LiveConversations | None = None,
    handoff_desk: HandoffDesk | None = None,
    canned: CannedResponses | None = None,
    summaries: ConversationSummaries | None = None,
    targets: ResponseTargets | None = None,
    assign: Callable[[], object] | None = None,
    pulse_interval: float = 1.0,
) -> FastAPI:
    """Routes are added to a router of `console/routes/` and checked here: each depends on `current_agent`
    (`SignedIn`) or `require_admin` (`Admin`), or is listed in PUBLIC_PATHS. HTML pages declare
    `response_class=HTMLResponse`."""
    app = FastAPI(title="Hearth console", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.services = ConsoleServices(
        analytics,
        history,
        agents,
        secure_cookies,
        handoffs=handoffs,
        rasa=rasa,
        tracker=tracker,
        reviews=reviews,
        knowledge=knowledge,
        audit=audit,
        customers=customers,
        live=live,
        handoff_desk=handoff_desk,
        canned=canned,
        summaries=summaries,
        targets=targets,
        assign=assign,
        pulse_interval=pulse_interval,
    )
    app.middleware("http")(_security_headers)
    for exc_class, handler in ERROR_HANDLERS.items():
        app.exception_handler(exc_class)(handler)
    for router in ROUTERS:
        app.include_router(router)
    check_route_policy(app)
    return app


# ---- headers and error pages --------------------------------------------------------


async def _security_headers(request: Request, call_next: Callable[[Request], Any]) -> Response:
    response: Response = await call_next(request)
    response.headers.setdefault("Cache-Control", "no-store")  # pages carry personal data and CSRF tokens
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


def error_page(request: Request, status: int, message: str, field: str | None = None) -> Response:
    return TEMPLATES.TemplateResponse(
        request, "error.html", {"status": status, "message": message, "field": field}, status_code=status
    )


def is_html_route(request: Request) -> bool:
    route = request.scope.get("route")
    return isinstance(route, APIRoute) and route.response_class is HTMLResponse


def _login_url(request: Request) -> str:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return "/login" if target == "/" else "/login?" + urlencode({"next": target})


async def _not_signed_in(request: Request, exc: NotSignedIn) -> Response:
    response: Response
    if is_html_route(request) and request.method in SAFE_METHODS:
        response = RedirectResponse(_login_url(request), status_code=303)
    elif is_html_route(request):
        response = error_page(request, 401, "Your session has ended: sign in again.")
    else:
        response = JSONResponse({"detail": "Sign in first."}, status_code=401)
    if SESSION_COOKIE in request.cookies:
        forget_cookie(request, response)
    return response


async def _forbidden(request: Request, exc: Forbidden) -> Response:
    if is_html_route(request):
        return error_page(request, 403, str(exc))
    return JSONResponse({"detail": str(exc)}, status_code=403)


async def _invalid(request: Request, exc: InvalidInput) -> Response:
    return error_page(request, 422, str(exc), exc.field)


async def _missing(request: Request, exc: NotFound) -> Response:
    what = {"customer": "customer", "article": "article", "canned": "canned response"}.get(str(exc).split(" ")[0])
    return error_page(request, 404, f"No such {what or 'conversation'}.")


async def _conflict(request: Request, exc: NotAllowed) -> Response:
    return error_page(request, 409, f"That can't be done: {exc}.")


async def _rasa_down(request: Request, exc: RasaUnavailable) -> Response:
    return error_page(request, 503, "The bot server cannot be reached right now, so nothing was sent; try again.")


async def _log_unreadable(request: Request, exc: SourceUnavailable) -> Response:
    return error_page(request, 503, "The conversation log (Rasa's tracker store) cannot be read now; try again.")


async def _down(request: Request, exc: CrmUnavailable) -> Response:
    return error_page(request, 503, "The CRM database cannot be reached right now; try again in a minute.")


ERROR_HANDLERS: dict[type[Exception], Callable[[Request, Any], Awaitable[Response]]] = {
    NotSignedIn: _not_signed_in,
    Forbidden: _forbidden,
    InvalidInput: _invalid,
    NotFound: _missing,
    NotAllowed: _conflict,
    RasaUnavailable: _rasa_down,
    CrmUnavailable: _down,
    SourceUnavailable: _log_unreadable,
}


def app_from_env() -> FastAPI:
    """For `uvicorn --factory console.app:app_from_env` (the run command's `console` process).
    The console's cookies are Secure in production (HEARTH_ENV=production); CONSOLE_SECURE_COOKIES=1 makes them
    Secure in development too (when the console is served over HTTPS)."""
    from hearth.container import container
    from shared import log_redaction

    log_redaction.install()  # emails and phone numbers masked in every log line of this process
    box = container()
    settings = box.settings
    rasa = None
    if settings.rasa_url and settings.rasa_api_token:
        rasa = RasaConversations(settings.rasa_url, settings.rasa_api_token)
    return create_app(
        box.analytics,
        SqlHistoryService(box.sessions),  # the console reads any conversation (analytics examples)
        box.agents,
        settings.console_secure_cookies,
        handoffs=box.handoffs,
        rasa=rasa,
        tracker=box.tracker,
        reviews=box.reviews,
        knowledge=box.knowledge,  # ours whatever the CRM
        audit=box.audit,  # ours whatever the CRM
        customers=box.customers,  # None with an external CRM: the customer pages answer 503
        live=box.live_conversations,
        handoff_desk=box.handoff_desk if isinstance(box.handoff_desk, HandoffDesk) else None,
        canned=CannedResponses(box.sessions),  # ours whatever the CRM
        summaries=ConversationSummaries(box.sessions) if box.settings.backend == "sql" else None,
        targets=ResponseTargets(box.sessions, box.opening_hours) if box.settings.backend == "sql" else None,
        assign=box.assign_waiting,
    )
