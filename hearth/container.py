"""The composition root: one container per process builds the services from the settings, lazily and once.

One engine and session factory per database: the CRM database's is shared by the CRM service, the relationship,
handoff, history, analytics and review services; Rasa's tracker store (read by history and the console) has its
own. A backend that cannot do something gets an explicit implementation that says so (an external CRM's
relationship stand-in, its callback-ticket handoff desk, its history reader that keeps nothing), never `None`.

Processes take the container with `container()` (built from the environment on first use); tests build their own
`Container(settings)` or swap single services with `set_crm`, `set_relationship` and `set_handoff_desk`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from hearth.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session, sessionmaker

    from analytics.service import SqlAnalytics
    from audit.log import AuditLog
    from crm_adapter.contact_changes import EmailChanges
    from crm_adapter.invoices import Invoices
    from crm_adapter.notify import ExportMail
    from crm_adapter.ports import (
        CodeSender,
        CrmService,
        EmailChangeStore,
        HistoryReader,
        Notices,
        RelationshipService,
        WebsiteAccounts,
        WebsiteSignIns,
    )
    from handoff.agents import SqlAgentService
    from handoff.desk import Desk
    from handoff.helpdesk import HelpdeskSettings
    from handoff.service import Handoff, OpeningHours, SqlHandoffService
    from history.tracker_events import TrackerEvents
    from knowledge.service import Knowledge
    from nlu_review.queue import ReviewQueue
    from reviews.ports import ReviewStore
    from workspace.customers import CustomerDirectory
    from workspace.live import LiveConversations

T = TypeVar("T")


class Container:
    def __init__(self, settings: Settings, code_sender: CodeSender | None = None) -> None:
        self.settings = settings
        self._code_sender = code_sender
        self._built: dict[str, Any] = {}
        self._lock = threading.RLock()

    def _once(self, name: str, build: Callable[[], T]) -> T:
        if name not in self._built:
            with self._lock:
                if name not in self._built:
                    self._built[name] = build()
        return self._built[name]  # type: ignore[no-any-return]

    def replace(self, name: str, service: Any) -> None:
        """Swap one service (tests); None builds it from the settings again on next use."""
        with self._lock:
            if service is None:
                self._built.pop(name, None)
            else:
                self._built[name] = service

    # ---- databases --------------------------------------------------------------------------------

    @property
    def engine(self) -> Engine:
        """The CRM database's engine: the one connection pool of this process to it."""

        def build() -> Engine:
            from crm_adapter.sql.db import make_engine

            return make_engine(self.settings.database_url)

        return self._once("engine", build)

    @property
    def sessions(self) -> sessionmaker[Session]:
        from crm_adapter.sql.db import make_session_factory

        return self._once("sessions", lambda: make_session_factory(self.engine))

    @property
    def tracker(self) -> TrackerEvents:
        """Rasa's tracker store (its own database), read by history ingestion, privacy jobs and the console."""
        from history.tracker_events import TrackerEvents

        return self._once("tracker", lambda: TrackerEvents(self.settings.tracker_db_url))

    # ---- the CRM core -----------------------------------------------------------------------------

    @property
    def code_sender(self) -> CodeSender:
        def build() -> CodeSender:
            from crm_adapter.notify import OutboxCodeSender, SmtpCodeSender

            return (
                SmtpCodeSender(self.settings.smtp)
                if self.settings.code_sender == "smtp"
                else OutboxCodeSender(self.settings.outbox)
            )

        return self._code_sender or self._once("code_sender", build)

    @property
    def crm(self) -> CrmService:
        return self._once("crm", self._build_crm)

    def _build_crm(self) -> CrmService:
        settings = self.settings
        if settings.backend == "http":
            import requests

            from crm_adapter.http_backend import HttpCrmService

            session = requests.Session()
            if settings.http_token:
                session.headers["Authorization"] = f"Bearer {settings.http_token}"
            assert settings.http_base_url
            return HttpCrmService(settings.http_base_url, session=session, timeout=settings.http_timeout)
        from crm_adapter.sql.service import SqlCrmService

        return SqlCrmService(self.sessions, code_sender=self.code_sender, secret=settings.secret())

    @property
    def website_sign_ins(self) -> WebsiteSignIns:
        """The shop website's sign-ins (signing out ends one, and the tokens naming it): in our own CRM database;
        with an external CRM, which keeps no website accounts, nobody is signed in."""

        def build() -> WebsiteSignIns:
            if self.settings.backend != "sql":
                from crm_adapter.website import NoWebsiteSignIns

                return NoWebsiteSignIns()
            from crm_adapter.sql.website_sessions import SqlWebsiteSignIns

            return SqlWebsiteSignIns(self.sessions)

        return self._once("website_sign_ins", build)

    @property
    def website_url(self) -> str:
        """The shop website's first public origin: where links to it in emails and chat replies point."""
        return (self.settings.web_chat_origins or ("http://127.0.0.1:5080",))[0].rstrip("/")

    @property
    def website_accounts(self) -> WebsiteAccounts:
        """The shop website's password resets and new accounts, by single-use links emailed like the notices (SMTP,
        or the outbox in development), pointing at the website's first public origin; with an external CRM, which
        keeps no website accounts, refused."""

        def build() -> WebsiteAccounts:
            if self.settings.backend == "http":
                from crm_adapter.accounts import NoWebsiteAccounts

                return NoWebsiteAccounts()
            from crm_adapter.accounts import AccountMail
            from crm_adapter.sql.website_accounts import SqlWebsiteAccounts

            mail = AccountMail(self.notices, self.website_url)
            return SqlWebsiteAccounts(self.sessions, mail, secret=self.settings.secret())

        return self._once("website_accounts", build)

    @property
    def code_delivery(self) -> Callable[[], int] | None:
        """Makes and emails the queued one-time codes (the worker's `code_delivery` job); None with an external CRM,
        which emails its own."""
        from crm_adapter.sql.service import SqlCrmService

        crm = self.crm
        return crm.deliver_codes if isinstance(crm, SqlCrmService) else None

    @property
    def notices(self) -> Notices:
        """Security notices (an email changed), delivered as one-time codes are (CODE_SENDER)."""

        def build() -> Notices:
            from crm_adapter.notices import OutboxNotices, SmtpNotices

            if self.settings.code_sender == "smtp":
                return SmtpNotices(self.settings.smtp)
            return OutboxNotices(self.settings.outbox)

        return self._once("notices", build)

    @property
    def email_change_store(self) -> EmailChangeStore:
        """Email changes waiting for the new address's code, on our own CRM database; with an external CRM, whose
        owner changes the email on file, a stand-in that refuses every change."""

        def build() -> EmailChangeStore:
            if self.settings.backend != "sql":
                from crm_adapter.contact_changes import ExternalCrmEmailChanges

                return ExternalCrmEmailChanges()
            from crm_adapter.sql.email_changes import SqlEmailChangeStore

            return SqlEmailChangeStore(self.sessions, secret=self.settings.secret())

        return self._once("email_change_store", build)

    @property
    def email_changes(self) -> EmailChanges:
        """Changing the email on file: a step up after a weak proof, the new address's code, the old one's notice."""
        from crm_adapter.contact_changes import EmailChanges

        return EmailChanges(self.crm, self.email_change_store, self.code_sender, self.notices)

    @property
    def export_mail(self) -> ExportMail:
        """Data exports, emailed, or written to the outbox folder in development."""
        from crm_adapter.notify import ExportMail

        return self._once("export_mail", lambda: ExportMail(self.settings.smtp, self.settings.outbox))

    @property
    def invoices(self) -> Invoices:
        """VAT invoices of a customer's orders, emailed like exports (the outbox folder in development)."""

        def build() -> Invoices:
            from datetime import datetime, timezone

            from crm_adapter.invoices import Invoices

            return Invoices(self.crm, self.export_mail.deliver_invoice, lambda: datetime.now(timezone.utc))

        return self._once("invoices", build)

    # ---- capabilities -----------------------------------------------------------------------------

    @property
    def relationship(self) -> RelationshipService:
        """Consent, preferences, surveys, value and data rights in our own CRM database; with an external CRM
        (whose owner provides them) a stand-in that keeps nothing and says so."""

        def build() -> RelationshipService:
            if self.settings.backend != "sql":
                from relationship.unavailable import ExternalCrmRelationship

                return ExternalCrmRelationship()
            from relationship.service import SqlRelationshipService

            s = self.settings
            return SqlRelationshipService(
                self.sessions,
                secret=s.secret(),
                csat_min_interval=s.csat_min_interval,
                nps_period=s.nps_period,
                proposal_interval=s.proposal_interval,
                remove_outbox=self.export_mail.remove,
            )

        return self._once("relationship", build)

    @property
    def history(self) -> HistoryReader:
        """The relationship history on the CRM database; with an external CRM a reader that keeps none."""

        def build() -> HistoryReader:
            if self.settings.backend != "sql":
                from history.unavailable import ExternalCrmHistory

                return ExternalCrmHistory()
            from history.timeline import SqlHistoryService

            return SqlHistoryService(self.sessions)

        return self._once("history", build)

    @property
    def helpdesk(self) -> HelpdeskSettings:
        from handoff.helpdesk import HelpdeskSettings

        h = self.settings.helpdesk
        return HelpdeskSettings(h.url, h.secret, h.timeout, h.max_attempts)

    @property
    def opening_hours(self) -> OpeningHours:
        from handoff.service import OpeningHours

        return self._once(
            "hours", lambda: OpeningHours.parse(self.settings.handoff_hours, self.settings.handoff_timezone)
        )

    @property
    def handoffs(self) -> SqlHandoffService:
        def build() -> SqlHandoffService:
            from handoff.helpdesk import enqueue
            from handoff.service import SqlHandoffService

            # With a helpdesk webhook, each handoff's packet is queued for it in the handoff's own transaction.
            return SqlHandoffService(self.sessions, on_request=enqueue if self.helpdesk.url else None)

        return self._once("handoffs", build)

    @property
    def agents(self) -> SqlAgentService:
        from handoff.agents import SqlAgentService

        return self._once("agents", lambda: SqlAgentService(self.sessions))

    @property
    def handoff_desk(self) -> Desk:
        """Bringing in a person: the queue on our own CRM database, or callback tickets in an external CRM."""

        def build() -> Desk:
            from handoff.desk import CallbackDesk, HandoffDesk

            if self.settings.backend == "http":
                return CallbackDesk(self.crm)
            assign = self.auto_assign if self.settings.handoff_auto_assign else None
            return HandoffDesk(
                self.handoffs, self.agents, self.opening_hours, self.crm, self.relationship, assign=assign
            )

        return self._once("desk", build)

    @property
    def assign_waiting(self) -> Callable[[], object] | None:
        """Auto-assignment, as the worker runs it each round (None when HANDOFF_AUTO_ASSIGN is off, or with an
        external CRM, which has no queue here)."""
        if self.settings.backend != "sql" or not self.settings.handoff_auto_assign:
            return None
        return lambda: self.auto_assign([a.agent_id for a in self.agents.online_agents()])

    def auto_assign(self, online: list[int]) -> list[Handoff]:
        """Auto-assignment among the `online` agents, each conversation given recorded in the audit log (by
        "auto-assignment")."""
        from audit.log import Actor

        given = self.handoffs.auto_assign(online)
        if given:
            names = {a.agent_id: a.username for a in self.agents.list_agents()}
            for handoff in given:
                to = f"to {names.get(handoff.agent_id or -1, handoff.agent_id)}"
                self.audit.record(
                    Actor(None, "auto-assignment", "local"), "handoff.assigned", "handoff", handoff.handoff_id,
                    customer_id=handoff.customer_id, detail=to,
                )  # fmt: skip
        return given

    @property
    def analytics(self) -> SqlAnalytics:
        from analytics.service import SqlAnalytics

        return self._once("analytics", lambda: SqlAnalytics(self.sessions))

    @property
    def reviews(self) -> ReviewQueue:
        from nlu_review.queue import ReviewQueue

        return self._once("reviews", lambda: ReviewQueue(self.sessions))

    @property
    def product_reviews(self) -> ReviewStore:
        """Product reviews in our own CRM database; with an external CRM, which keeps none, a stand-in that says so."""

        def build() -> ReviewStore:
            if self.settings.backend != "sql":
                from reviews.unavailable import ExternalCrmReviews

                return ExternalCrmReviews()
            from reviews.store import SqlReviewStore

            return SqlReviewStore(self.sessions)

        return self._once("product_reviews", build)

    @property
    def knowledge(self) -> Knowledge:
        """The help centre on our own database (CRM_DATABASE_URL; with an external CRM too, as the articles are
        ours): its store, this process's search index, kept in step with the database, and the encoder, loaded on
        first use. Links point at the website's /help pages."""

        def build() -> Knowledge:
            from hearth.environment import ROOT
            from knowledge.service import open_help_centre

            return open_help_centre(self.sessions, self.website_url + "/help", cache_dir=ROOT / "models")

        return self._once("knowledge", build)

    @property
    def audit(self) -> AuditLog:
        """Who viewed or changed what, on our own database whatever the CRM. A customer's erasure puts the same keyed
        hash of their id in their entries as in the privacy job, so a search by their id still finds them."""

        def build() -> AuditLog:
            from audit.log import AuditLog
            from relationship.privacy import subject_hash

            secret = self.settings.secret().encode()  # as relationship.data_rights.DataRights keeps it
            return AuditLog(self.sessions, erased_subject=lambda customer_id: subject_hash(customer_id, secret))

        return self._once("audit", build)

    @property
    def customers(self) -> CustomerDirectory | None:
        """Looking customers up and the customer page, on our own CRM database; None with an external CRM."""
        if self.settings.backend != "sql":
            return None

        def build() -> CustomerDirectory:
            from workspace.customers import CustomerDirectory

            return CustomerDirectory(self.sessions, self.crm, self.relationship, self.history)

        return self._once("customers", build)

    @property
    def live_conversations(self) -> LiveConversations | None:
        """The conversations the bot is having now, from the relationship history; None with an external CRM."""
        if self.settings.backend != "sql":
            return None

        def build() -> LiveConversations:
            from workspace.live import LiveConversations

            return LiveConversations(self.sessions)

        return self._once("live", build)


_lock = threading.Lock()
_container: Container | None = None


def container() -> Container:
    """This process's container, built from the environment on first use."""
    global _container
    if _container is None:
        with _lock:
            if _container is None:
                _container = Container(Settings.from_env())
    return _container


def set_container(replacement: Container | None) -> None:
    """Replace this process's container (tests); None builds it from the environment again on next use."""
    global _container
    with _lock:
        _container = replacement


def get_crm() -> CrmService:
    return container().crm


def get_relationship() -> RelationshipService:
    return container().relationship


def get_invoices() -> Invoices:
    return container().invoices


def get_website_accounts() -> WebsiteAccounts:
    return container().website_accounts


def get_website_sign_ins() -> WebsiteSignIns:
    return container().website_sign_ins


def get_handoff_desk() -> Desk:
    return container().handoff_desk


def get_product_reviews() -> ReviewStore:
    return container().product_reviews


def get_knowledge() -> Knowledge:
    return container().knowledge


def set_crm(service: CrmService | None) -> None:
    container().replace("crm", service)


def set_relationship(service: RelationshipService | None) -> None:
    container().replace("relationship", service)


def set_handoff_desk(desk: Desk | None) -> None:
    container().replace("desk", desk)
