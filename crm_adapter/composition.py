"""The composition root: builds the CRM service once per process, lazily; tests swap in their own."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from crm_adapter.notify import LogCodeSender, SmtpCodeSender
from crm_adapter.ports import CodeSender, CrmService, HistoryReader, RelationshipService
from crm_adapter.settings import Settings

if TYPE_CHECKING:
    from handoff.desk import Desk

_lock = threading.Lock()
_service: CrmService | None = None
_relationship: RelationshipService | None = None


def build_crm(settings: Settings, code_sender: CodeSender | None = None) -> CrmService:
    if settings.backend == "http":
        import requests

        from crm_adapter.http_backend import HttpCrmService

        session = requests.Session()
        if settings.http_token:
            session.headers["Authorization"] = f"Bearer {settings.http_token}"
        assert settings.http_base_url
        return HttpCrmService(settings.http_base_url, session=session, timeout=settings.http_timeout)

    from crm_adapter.sql.db import make_engine, make_session_factory
    from crm_adapter.sql.service import SqlCrmService

    engine = make_engine(settings.database_url)
    return SqlCrmService(
        make_session_factory(engine),
        code_sender=code_sender or (SmtpCodeSender() if settings.code_sender == "smtp" else LogCodeSender()),
        secret=settings.secret(),
    )


def get_crm() -> CrmService:
    global _service
    if _service is None:
        with _lock:
            if _service is None:
                _service = build_crm(Settings.from_env())
    return _service


def set_crm(service: CrmService | None) -> None:
    """Replace the process's CRM service (tests); None makes the next get_crm() build from env again."""
    global _service
    with _lock:
        _service = service


def get_history(settings: Settings | None = None) -> HistoryReader | None:
    """The history reader on the CRM database; None when the CRM is an external one (CRM_BACKEND=http)."""
    settings = settings or Settings.from_env()
    if settings.backend != "sql":
        return None
    from crm_adapter.sql.db import make_engine, make_session_factory
    from history.timeline import SqlHistoryService

    return SqlHistoryService(make_session_factory(make_engine(settings.database_url)))


def build_relationship(settings: Settings) -> RelationshipService:
    """Consent, preferences, surveys, value and data rights live in our own CRM database. With an external CRM
    (CRM_BACKEND=http), whose owner provides them, a stand-in that keeps nothing and says so
    (`relationship.unavailable.RelationshipUnavailable`)."""
    if settings.backend != "sql":
        from relationship.unavailable import ExternalCrmRelationship

        return ExternalCrmRelationship()
    from crm_adapter.sql.db import make_engine, make_session_factory
    from relationship.service import SqlRelationshipService

    return SqlRelationshipService(make_session_factory(make_engine(settings.database_url)), secret=settings.secret())


def get_relationship() -> RelationshipService:
    global _relationship
    if _relationship is None:
        with _lock:
            if _relationship is None:
                _relationship = build_relationship(Settings.from_env())
    return _relationship


def set_relationship(service: RelationshipService | None) -> None:
    """Replace the process's relationship service (tests); None builds from the environment again."""
    global _relationship
    with _lock:
        _relationship = service


_desk: Desk | None = None


def get_handoff_desk() -> Desk:
    """Bringing in a person (handoff/desk.py): the queue on our own CRM database, or, with an external CRM
    (CRM_BACKEND=http), callback tickets in that CRM."""
    global _desk
    if _desk is None:
        crm, profiles = get_crm(), get_relationship()
        with _lock:
            if _desk is None:
                from handoff.desk import build_desk

                _desk = build_desk(Settings.from_env(), crm, profiles)
    return _desk


def set_handoff_desk(desk: Desk | None) -> None:
    """Replace the process's handoff desk (tests); None builds from the environment again."""
    global _desk
    with _lock:
        _desk = desk
