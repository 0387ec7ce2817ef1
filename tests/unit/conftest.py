from __future__ import annotations

from collections.abc import Iterator

import pytest

from crm_adapter.composition import set_crm, set_handoff_desk, set_relationship
from crm_adapter.sql.db import make_engine, make_session_factory
from crm_adapter.sql.service import SqlCrmService
from handoff.agents import SqlAgentService
from handoff.desk import HandoffDesk
from handoff.service import OpeningHours, SqlHandoffService
from relationship.service import SqlRelationshipService
from tests.conftest import SqlCrm
from tests.fakes import RecordingCodeSender


@pytest.fixture
def crm(sqlite_crm: SqlCrm) -> Iterator[SqlCrm]:
    """The actions' CRM for one test: a real, migrated SQLite file."""
    relationship = SqlRelationshipService(sqlite_crm.sessions, secret="test-secret", clock=sqlite_crm.clock)
    set_crm(sqlite_crm.service)
    set_relationship(relationship)
    set_handoff_desk(
        HandoffDesk(
            SqlHandoffService(sqlite_crm.sessions, clock=sqlite_crm.clock),
            SqlAgentService(sqlite_crm.sessions, clock=sqlite_crm.clock),
            OpeningHours.parse("always"),
            sqlite_crm.service,
            relationship,
            clock=sqlite_crm.clock,
        )
    )
    yield sqlite_crm
    set_crm(None)
    set_relationship(None)
    set_handoff_desk(None)


@pytest.fixture
def crm_down() -> Iterator[SqlCrmService]:
    """A CRM whose database cannot be reached (nothing listens on port 1)."""
    engine = make_engine("postgresql+psycopg2://hearth@127.0.0.1:1/hearth")
    service = SqlCrmService(make_session_factory(engine), RecordingCodeSender(), secret="x")
    sessions = make_session_factory(engine)
    relationship = SqlRelationshipService(sessions)
    set_crm(service)
    set_relationship(relationship)
    hours = OpeningHours.parse("always")
    set_handoff_desk(HandoffDesk(SqlHandoffService(sessions), SqlAgentService(sessions), hours, service, relationship))
    yield service
    set_crm(None)
    set_relationship(None)
    set_handoff_desk(None)
    engine.dispose()
