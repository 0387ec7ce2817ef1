"""What the console's routes depend on: the services, who is signed in (with the CSRF check), the templates.

`create_app` puts the services it is given in `app.state.services` (a `ConsoleServices`); routes reach them
through the `Services` dependency, and who may use a route through `SignedIn` (`current_agent`) or `Admin`
(`require_admin`).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from analytics.service import SqlAnalytics
from audit.log import Actor, AuditLog
from crm_adapter.domain import CrmUnavailable
from crm_adapter.rasa_api import RasaConversations, RasaUnavailable
from handoff.agents import AgentSession, SqlAgentService
from handoff.desk import HandoffDesk
from handoff.service import SqlHandoffService
from history.timeline import SqlHistoryService
from history.tracker_events import TrackerEvents
from knowledge.service import Knowledge
from nlu_review.queue import ReviewQueue
from workspace.canned import CannedResponses
from workspace.customers import CustomerDirectory
from workspace.live import LiveConversations
from workspace.sla import ResponseTargets
from workspace.summary import ConversationSummaries

if TYPE_CHECKING:
    from console.routes.live import Pulse, TranscriptFeed

SESSION_COOKIE = "hearth_console"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_FIELD, CSRF_HEADER = "csrf", "X-CSRF-Token"


# ---- the services -------------------------------------------------------------


@dataclass(frozen=True)
class ConsoleServices:
    """What the console was built with. The handoff desk, the bot and the review queue are optional: a route
    that needs a missing one answers 503 when it gets to it."""

    analytics: SqlAnalytics
    history: SqlHistoryService
    agents: SqlAgentService
    secure_cookies: bool = False
    handoffs: SqlHandoffService | None = None
    rasa: RasaConversations | None = None
    tracker: TrackerEvents | None = None
    reviews: ReviewQueue | None = None
    knowledge: Knowledge | None = None
    audit: AuditLog | None = None
    customers: CustomerDirectory | None = None
    live: LiveConversations | None = None
    handoff_desk: HandoffDesk | None = None
    canned: CannedResponses | None = None
    summaries: ConversationSummaries | None = None
    targets: ResponseTargets | None = None
    assign: Callable[[], object] | None = None  # auto-assignment (None when it is off)
    pulse_interval: float = 1.0  # seconds between the readings the live updates send
    transcript_interval: float = 0.1  # seconds between readings of new lines for the open conversations

    @cached_property
    def _feed(self) -> TranscriptFeed | None:
        from console.routes.live import TranscriptFeed

        return TranscriptFeed(self.tracker, self.transcript_interval) if self.tracker is not None else None

    def transcript_feed(self) -> TranscriptFeed | None:
        """The shared reader of new lines (console/routes/live.py); None without the tracker store."""
        return self._feed

    @cached_property
    def _pulse(self) -> Pulse:
        from console.routes.live import Pulse, read_workspace

        return Pulse(lambda: read_workspace(self), self.pulse_interval)

    def pulse(self) -> Pulse:
        """The shared reading of what the workspace's pages show (console/routes/live.py)."""
        return self._pulse

    def canned_responses(self) -> CannedResponses:
        if self.canned is None:
            raise CrmUnavailable("canned responses need the console's database")
        return self.canned

    def response_targets(self) -> ResponseTargets:
        if self.targets is None:
            raise CrmUnavailable("response targets need the handoff queue (CRM_BACKEND=sql)")
        return self.targets

    def assign_waiting(self) -> None:
        """Auto-assignment now (an agent just finished one), when it is on."""
        if self.assign is not None:
            self.assign()

    def live_conversations(self) -> LiveConversations:
        if self.live is None:
            raise CrmUnavailable("live conversations need the relationship history (CRM_BACKEND=sql)")
        return self.live

    def bring_in(self) -> HandoffDesk:
        """The handoff desk, for an agent stepping into a conversation."""
        if self.handoff_desk is None:
            raise CrmUnavailable("stepping in needs the handoff desk (CRM_BACKEND=sql)")
        return self.handoff_desk

    def desk(self) -> SqlHandoffService:
        if self.handoffs is None:
            raise CrmUnavailable("handoffs need the CRM database (CRM_BACKEND=sql)")
        return self.handoffs

    def bot(self) -> RasaConversations:
        if self.rasa is None:
            raise RasaUnavailable("RASA_URL and RASA_API_TOKEN are not set")
        return self.rasa

    def review_queue(self) -> ReviewQueue:
        if self.reviews is None:
            raise CrmUnavailable("the review queue needs the CRM database (CRM_BACKEND=sql)")
        return self.reviews

    def help_centre(self) -> Knowledge:
        if self.knowledge is None:
            raise CrmUnavailable("the help centre needs the CRM database (CRM_BACKEND=sql)")
        return self.knowledge

    def audit_log(self) -> AuditLog:
        """The audit log. A route that must leave an entry asks for it before it does anything, so nothing is done
        unrecorded: without one it answers 503."""
        if self.audit is None:
            raise CrmUnavailable("the audit log needs the console's database")
        return self.audit

    def directory(self) -> CustomerDirectory:
        if self.customers is None:
            raise CrmUnavailable("looking customers up needs the CRM database (CRM_BACKEND=sql)")
        return self.customers

    def said(self, sender_id: str, after: int = 0) -> list[dict[str, Any]]:
        """The conversation's messages after event `after` (none without the tracker store)."""
        return self.tracker.transcript(sender_id, after_id=after) if self.tracker is not None else []


def console_services(request: Request) -> ConsoleServices:
    services: ConsoleServices = request.app.state.services
    return services


Services = Annotated[ConsoleServices, Depends(console_services)]


def forget_cookie(request: Request, response: Response) -> None:
    """Tell the browser to drop the session cookie (set with the same attributes as at sign-in)."""
    secure = console_services(request).secure_cookies
    response.delete_cookie(SESSION_COOKIE, path="/", secure=secure, httponly=True, samesite="strict")


# ---- who is signed in -------------------------------------------------------------


class NotSignedIn(Exception):
    """No valid session: answered with a redirect to the sign-in page or a 401."""


class Forbidden(Exception):
    """Signed in, but not allowed (the wrong role, or no CSRF token): answered with a 403."""


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
    agents = console_services(request).agents
    session = await run_in_threadpool(agents.session_agent, token) if token else None
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


def actor(request: Request, session: AgentSession) -> Actor:
    """Who is acting, for the audit log: the agent's id and username, and the address the request came from."""
    return Actor(session.agent.agent_id, session.agent.username, request.client.host if request.client else "unknown")


SignedIn = Annotated[AgentSession, Depends(current_agent)]
Admin = Annotated[AgentSession, Depends(require_admin)]
Text = Annotated[str | None, Query(max_length=40)]
MAX_ID = 2**63 - 1  # the largest row id a database can store; a larger one must not reach SQL (SQLite: OverflowError)
RowId = Annotated[int, PathParam(ge=1, le=MAX_ID)]


# ---- templates --------------------------------------------------------------------


def _template_context(request: Request) -> dict[str, Any]:
    session: AgentSession | None = getattr(request.state, "console_session", None)
    csrf = session.csrf_token if session is not None else ""
    counts = None
    handoffs = console_services(request).handoffs
    if session is not None and handoffs is not None:
        try:
            counts = handoffs.counts(session.agent.agent_id)
        except (SQLAlchemyError, CrmUnavailable):  # the page says what went wrong; the navigation goes without counts
            counts = None
    return {
        "counts": counts,
        "section": request.url.path.split("/")[1] if request.url.path != "/" else "",
        "me": session.agent if session is not None else None,
        "csrf": csrf,
        "csrf_field": Markup('<input type="hidden" name="{}" value="{}">').format(CSRF_FIELD, csrf),
    }


TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"), context_processors=[_template_context])
