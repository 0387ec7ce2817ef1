"""Shared fixtures: migrated databases and CRM services built on them."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from crm_adapter.sql.db import make_engine, make_session_factory, upgrade
from crm_adapter.sql.service import SqlCrmService
from hearth.seed import seed
from tests.factories import Clock
from tests.fakes import Inbox, RecordingCodeSender
from tests.services import temporary_postgres_database


@dataclass
class SqlCrm:
    """A migrated database with a service on it, and handles the tests use to arrange and inspect."""

    url: str
    sessions: sessionmaker[Session]
    service: SqlCrmService
    codes: Inbox  # the codes emailed, read after the worker's delivery (`codes.sender`: without running it)
    clock: Clock


@contextmanager
def sql_crm_at(url: str, customers: int = 0, secret: str = "test-secret") -> Iterator[SqlCrm]:
    """The database at `url` migrated (and seeded with `customers` demo customers), with a service on it."""
    upgrade(url)
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    if customers:
        seed(sessions, customers=customers)
    sender, clock = RecordingCodeSender(), Clock()
    service = SqlCrmService(sessions, sender, secret=secret, clock=clock)
    try:
        yield SqlCrm(url, sessions, service, Inbox(sender, service.deliver_codes), clock)
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty SQLite file brought to the latest migration once per test run."""
    path = tmp_path_factory.mktemp("migrated") / "crm.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def sqlite_crm(tmp_path: Path, migrated_sqlite: Path) -> Iterator[SqlCrm]:
    """A copy of the migrated SQLite file (copying takes a tenth of the time migrating does; `sql_crm_at` still
    runs the upgrade, which finds it at the latest revision)."""
    shutil.copyfile(migrated_sqlite, tmp_path / "crm.db")
    with sql_crm_at(f"sqlite:///{tmp_path / 'crm.db'}") as crm:
        yield crm


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    with temporary_postgres_database() as url:
        yield url


@pytest.fixture
def postgres_crm(postgres_url: str) -> Iterator[SqlCrm]:
    with sql_crm_at(postgres_url) as crm:
        yield crm
    # leave the schema, empty the tables for the next test
    from sqlalchemy import text

    engine = make_engine(postgres_url)
    with engine.begin() as conn:
        tables = conn.execute(
            text("SELECT tablename FROM pg_tables WHERE schemaname='public' AND tablename <> 'alembic_version'")
        ).scalars()
        names = ", ".join(f'"{t}"' for t in tables)
        if names:
            conn.execute(text(f"TRUNCATE {names} CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def sql_crm(request: pytest.FixtureRequest) -> SqlCrm:
    """The same test on a real SQLite file and on PostgreSQL (skipped when absent, failing in CI)."""
    return request.getfixturevalue("sqlite_crm" if request.param == "sqlite" else "postgres_crm")


CrmFactory = Callable[[], SqlCrm]


@pytest.fixture
def tracker_url(tmp_path: Path) -> str:
    """An empty SQLite tracker store (Rasa's events table)."""
    from sqlalchemy import create_engine

    from history.sources import TRACKER_EVENTS

    url = f"sqlite:///{tmp_path / 'tracker.db'}"
    engine = create_engine(url)
    TRACKER_EVENTS.metadata.create_all(engine)
    engine.dispose()
    return url
