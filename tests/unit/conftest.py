from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from crm_adapter.sql.db import make_engine, make_session_factory
from crm_adapter.sql.service import SqlCrmService
from handoff.agents import SqlAgentService
from handoff.desk import HandoffDesk
from handoff.service import OpeningHours, SqlHandoffService
from hearth.container import Container, set_container
from hearth.settings import Settings
from relationship.service import SqlRelationshipService
from tests.conftest import SqlCrm
from tests.fakes import RecordingCodeSender


def container_for(data_dir: Path, engine_url: str, sessions, crm, clock=None) -> Container:  # type: ignore[no-untyped-def]
    """The actions' container for one test: the given CRM, with relationship and handoff services on its
    database; the data folder (development outbox) in the test's temporary folder."""
    clock = clock or (lambda: datetime.utcnow().replace(microsecond=0))
    box = Container(Settings.from_env({"HEARTH_DATA_DIR": str(data_dir), "CRM_DATABASE_URL": engine_url}))
    relationship = SqlRelationshipService(
        sessions, secret="test-secret", clock=clock, remove_outbox=box.export_mail.remove
    )
    box.replace("crm", crm)
    box.replace("relationship", relationship)
    box.replace(
        "desk",
        HandoffDesk(
            SqlHandoffService(sessions, clock=clock),
            SqlAgentService(sessions, clock=clock),
            OpeningHours.parse("always"),
            crm,
            relationship,
            clock=clock,
        ),
    )
    return box


@pytest.fixture
def crm(sqlite_crm: SqlCrm, tmp_path: Path) -> Iterator[SqlCrm]:
    """The actions' CRM for one test: a real, migrated SQLite file."""
    set_container(container_for(tmp_path, sqlite_crm.url, sqlite_crm.sessions, sqlite_crm.service, sqlite_crm.clock))
    yield sqlite_crm
    set_container(None)


@pytest.fixture
def crm_down(tmp_path: Path) -> Iterator[SqlCrmService]:
    """A CRM whose database cannot be reached (nothing listens on port 1)."""
    url = "postgresql+psycopg2://hearth@127.0.0.1:1/hearth"
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    service = SqlCrmService(sessions, RecordingCodeSender(), secret="x")
    set_container(container_for(tmp_path, url, sessions, service))
    yield service
    set_container(None)
    engine.dispose()
