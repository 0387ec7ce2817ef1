"""One-time codes go through a queue: the action server's request only records it, and the worker's `code_delivery`
job makes the code and emails it (SMTP, or the development outbox), keyed with the CRM secret the actions check it
with. Both sides are built the way their processes build them (hearth/container.py, worker/runner.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import event, select

from crm_adapter.notify import outbox_code
from crm_adapter.sql.models import CodeRequestRow
from hearth.container import Container
from hearth.settings import Settings
from tests.conftest import SqlCrm
from tests.e2e.stack import free_port
from tests.factories import add_customer
from tests.smtp_sink import SmtpSink, smtp_sink
from worker.runner import Worker, build

pytestmark = pytest.mark.integration


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with smtp_sink() as running:
        yield running


def containers(crm: SqlCrm, tracker_url: str, tmp_path: Path, **env: str) -> tuple[Container, Worker]:
    """The action server's container and the worker, on one CRM database with one CRM_SECRET."""
    settings = Settings.from_env(
        {
            "HEARTH_DATA_DIR": str(tmp_path / "data"),
            "CRM_DATABASE_URL": crm.url,
            "TRACKER_DB_URL": tracker_url,
            "CRM_SECRET": "s" * 40,
            **env,
        }
    )
    return Container(settings), build(Container(settings), source_kind="tracker")


def pending(crm: SqlCrm) -> int:
    with crm.sessions() as s:
        return len(s.scalars(select(CodeRequestRow).where(CodeRequestRow.handled_at.is_(None))).all())


def test_the_worker_emails_a_queued_code_that_the_actions_then_accept(
    sqlite_crm: SqlCrm, tracker_url: str, tmp_path: Path, sink: SmtpSink
) -> None:
    anna = add_customer(sqlite_crm.sessions, email="anna@example.com", first_name="Anna")
    actions, worker = containers(sqlite_crm, tracker_url, tmp_path, SMTP_HOST="127.0.0.1", SMTP_PORT=str(sink.port))

    actions.crm.send_one_time_code("anna@example.com")
    actions.crm.send_one_time_code("nobody@example.com")
    assert sink.messages == [] and pending(sqlite_crm) == 2  # the request only queued

    worker.catch_up()

    assert [m["To"] for m in sink.messages] == ["anna@example.com"] and pending(sqlite_crm) == 0
    code = sink.wait_for_code("anna@example.com")
    assert actions.crm.verify_one_time_code("anna@example.com", code).customer_id == anna
    worker.catch_up()
    assert len(sink.messages) == 1  # each request is emailed once


def test_a_code_the_mail_server_refused_stays_queued_until_it_can_be_sent(
    sqlite_crm: SqlCrm, tracker_url: str, tmp_path: Path, sink: SmtpSink
) -> None:
    anna = add_customer(sqlite_crm.sessions, email="anna@example.com")
    closed = str(free_port())  # nothing listens there
    actions, down = containers(sqlite_crm, tracker_url, tmp_path, SMTP_HOST="127.0.0.1", SMTP_PORT=closed)
    actions.crm.send_one_time_code("anna@example.com")

    down.catch_up()  # the job fails (logged); ingestion and the other jobs go on
    assert pending(sqlite_crm) == 1

    _, up = containers(sqlite_crm, tracker_url, tmp_path, SMTP_HOST="127.0.0.1", SMTP_PORT=str(sink.port))
    up.catch_up()
    code = sink.wait_for_code("anna@example.com")
    assert actions.crm.verify_one_time_code("anna@example.com", code).customer_id == anna


def test_in_development_the_worker_writes_the_code_to_the_outbox(
    sqlite_crm: SqlCrm, tracker_url: str, tmp_path: Path
) -> None:
    anna = add_customer(sqlite_crm.sessions, email="anna@example.com")
    actions, worker = containers(sqlite_crm, tracker_url, tmp_path, CODE_SENDER="log")
    actions.crm.send_one_time_code("anna@example.com")
    assert outbox_code(actions.settings.outbox, "anna@example.com") is None

    worker.catch_up()

    code = outbox_code(actions.settings.outbox, "anna@example.com")
    assert code is not None and actions.crm.verify_one_time_code("anna@example.com", code).customer_id == anna


def test_a_code_request_runs_the_same_statements_whether_or_not_the_address_is_on_file(sqlite_crm: SqlCrm) -> None:
    """Security finding 5: the request's work (so its time) does not depend on whether the address is a customer's.
    The statements are compared with their parameters left out; nothing is emailed by the request itself."""
    add_customer(sqlite_crm.sessions, email="anna@example.com")
    engine = sqlite_crm.sessions.kw["bind"]
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001 - SQLAlchemy's hook
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        work = []
        for email in ("anna@example.com", "nobody@example.com"):
            statements.clear()
            sqlite_crm.service.send_one_time_code(email)
            work.append(list(statements))
    finally:
        event.remove(engine, "before_cursor_execute", record)

    assert work[0] == work[1] and any(s.startswith("INSERT INTO code_requests") for s in work[0])
    assert sqlite_crm.codes.sender.sent == []
