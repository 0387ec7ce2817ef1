"""Engines, session factories and migrations for the SQL backend."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from crm_adapter.domain import CrmUnavailable

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def make_engine(url: str, **kwargs: object) -> Engine:
    """Create an engine; SQLite gets foreign keys, WAL and a busy timeout so two processes can share it."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            private_sqlite_file(url)
        engine = create_engine(url, connect_args={"timeout": 15}, **kwargs)  # type: ignore[arg-type]

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            if path and path != ":memory:":
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    if url.startswith("postgresql"):
        kwargs.setdefault("connect_args", {"connect_timeout": 5})
    return create_engine(url, **kwargs)  # type: ignore[arg-type]


def private_sqlite_file(url: str) -> None:
    """Create the SQLite file of a file URL (and its folder) readable by its owner only, before SQLite opens it:
    SQLite gives its -wal and -shm files the database file's mode. An existing file of ours is made 0600 too."""
    if "///" not in url:
        return
    path = Path(url.split("///", 1)[1])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if file.exists() and file.stat().st_uid == os.getuid():
            file.chmod(0o600)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at `url` to `revision` (creating the SQLite file when needed)."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            private_sqlite_file(url)
    command.upgrade(alembic_config(url), revision)


@contextmanager
def unit_of_work(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """A session in a transaction: commits when the block succeeds, rolls back otherwise; an unreachable
    database raises `CrmUnavailable`."""
    with unavailable_as_crm_error(), sessions() as session, session.begin():
        yield session


@contextmanager
def unavailable_as_crm_error() -> Iterator[None]:
    """Turns "the database cannot be reached" into `CrmUnavailable`; every other error passes."""
    try:
        yield
    except OperationalError as exc:
        raise CrmUnavailable(f"CRM database unavailable: {exc.orig}") from exc
    except DBAPIError as exc:
        if exc.connection_invalidated:
            raise CrmUnavailable(f"CRM database connection lost: {exc.orig}") from exc
        raise
