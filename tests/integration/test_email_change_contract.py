"""One contract suite for the pending email changes (`EmailChangeStore`), on every store: the in-memory stand-in
(tests/fakes/email_changes.py, unit tier) and `SqlEmailChangeStore` on SQLite and PostgreSQL (integration tier).
Customers are arranged straight into the store behind it; time moves with the fixture's Clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from crm_adapter.domain import EmailChanged, NotFound, VerificationFailed
from crm_adapter.ports import CrmService, EmailChangeStore
from crm_adapter.rules import CODE_MAX_ATTEMPTS, CODE_TTL
from crm_adapter.sql.email_changes import SqlEmailChangeStore
from crm_adapter.sql.models import EmailChangeRow
from tests.factories import Arrange, Clock, SqlArrange
from tests.fakes import MemoryArrange, MemoryCrmService, MemoryCrmStore, MemoryEmailChangeStore, RecordingCodeSender


@dataclass
class Backend:
    store: EmailChangeStore
    crm: CrmService
    arrange: Arrange
    clock: Clock
    stored_codes: Callable[[], list[str]]  # what the store kept in place of each code


@pytest.fixture(
    params=[
        pytest.param("memory", marks=pytest.mark.unit),
        pytest.param("sqlite", marks=pytest.mark.integration),
        pytest.param("postgresql", marks=pytest.mark.integration),
    ]
)
def changes(request: pytest.FixtureRequest) -> Iterator[Backend]:
    if request.param == "memory":
        memory, clock = MemoryCrmStore(), Clock()
        fake = MemoryEmailChangeStore(memory, clock=clock)
        crm = MemoryCrmService(memory, RecordingCodeSender(), clock=clock)
        yield Backend(fake, crm, MemoryArrange(memory), clock, lambda: [c.code for c in fake.changes])
        return
    sql = request.getfixturevalue("sqlite_crm" if request.param == "sqlite" else "postgres_crm")

    def stored() -> list[str]:
        with sql.sessions() as s:
            return list(s.scalars(select(EmailChangeRow.code_hash).order_by(EmailChangeRow.id)))

    store = SqlEmailChangeStore(sql.sessions, secret="test-secret", clock=sql.clock)
    yield Backend(store, sql.service, SqlArrange(sql.sessions), sql.clock, stored)


def email_of(b: Backend, customer_id: str) -> str:
    return b.crm.get_customer(customer_id).email


def test_the_email_changes_only_with_the_code_then_once(changes: Backend) -> None:
    cid = changes.arrange.add_customer(first_name="Anna", email="anna@example.com")

    started = changes.store.begin(cid, "  Anna.New@Example.COM ", "482913")

    assert (started.first_name, started.current_email, started.taken_by, started.started_recently) == (
        "Anna",
        "anna@example.com",
        None,
        0,
    )
    assert email_of(changes, cid) == "anna@example.com"
    assert changes.store.confirm(cid, " 482913 ") == EmailChanged(
        cid, "Anna", "anna@example.com", "anna.new@example.com"
    )
    assert email_of(changes, cid) == "anna.new@example.com"
    with pytest.raises(VerificationFailed):
        changes.store.confirm(cid, "482913")  # used


def test_wrong_codes_change_nothing_and_run_out(changes: Backend) -> None:
    cid = changes.arrange.add_customer(email="anna@example.com")
    changes.store.begin(cid, "new@example.com", "482913")

    for _ in range(CODE_MAX_ATTEMPTS):
        with pytest.raises(VerificationFailed):
            changes.store.confirm(cid, "000000")
    with pytest.raises(VerificationFailed):
        changes.store.confirm(cid, "482913")  # the right code, too late
    assert email_of(changes, cid) == "anna@example.com"


def test_an_expired_change_cannot_be_confirmed(changes: Backend) -> None:
    cid = changes.arrange.add_customer(email="anna@example.com")
    changes.store.begin(cid, "new@example.com", "482913")
    changes.clock.advance(seconds=CODE_TTL.total_seconds() + 1)

    with pytest.raises(VerificationFailed):
        changes.store.confirm(cid, "482913")
    assert email_of(changes, cid) == "anna@example.com"


def test_a_new_change_replaces_the_earlier_one(changes: Backend) -> None:
    cid = changes.arrange.add_customer(email="anna@example.com")
    changes.store.begin(cid, "first@example.com", "111111")

    second = changes.store.begin(cid, "second@example.com", "222222")

    assert second.started_recently == 1
    with pytest.raises(VerificationFailed):
        changes.store.confirm(cid, "111111")
    assert changes.store.confirm(cid, "222222").new_email == "second@example.com"


def test_an_address_on_another_account_is_never_moved(changes: Backend) -> None:
    ben = changes.arrange.add_customer(first_name="Ben", email="ben@example.com")
    cid = changes.arrange.add_customer(email="anna@example.com")

    started = changes.store.begin(cid, "BEN@example.com", "482913")

    assert started.taken_by is not None and (started.taken_by.customer_id, started.taken_by.email) == (
        ben,
        "ben@example.com",
    )
    with pytest.raises(VerificationFailed):
        changes.store.confirm(cid, "482913")  # even with the code (which the bot never sends to a taken address)
    assert (email_of(changes, cid), email_of(changes, ben)) == ("anna@example.com", "ben@example.com")


def test_an_address_taken_while_the_change_waits_is_not_moved(changes: Backend) -> None:
    cid = changes.arrange.add_customer(email="anna@example.com")
    changes.store.begin(cid, "new@example.com", "482913")
    other = changes.arrange.add_customer(email="new@example.com")

    with pytest.raises(VerificationFailed):
        changes.store.confirm(cid, "482913")
    assert (email_of(changes, cid), email_of(changes, other)) == ("anna@example.com", "new@example.com")


def test_a_cancelled_change_cannot_be_confirmed(changes: Backend) -> None:
    cid = changes.arrange.add_customer(email="anna@example.com")
    changes.store.begin(cid, "new@example.com", "482913")

    changes.store.cancel(cid)

    with pytest.raises(VerificationFailed):
        changes.store.confirm(cid, "482913")
    changes.store.cancel(cid)  # nothing pending: nothing to do


def test_someone_elses_code_confirms_nothing(changes: Backend) -> None:
    anna = changes.arrange.add_customer(email="anna@example.com")
    ben = changes.arrange.add_customer(email="ben@example.com")
    changes.store.begin(ben, "ben.new@example.com", "482913")

    with pytest.raises(VerificationFailed):
        changes.store.confirm(anna, "482913")
    assert email_of(changes, anna) == "anna@example.com"


def test_codes_are_not_kept_as_sent_in_the_database(changes: Backend) -> None:
    cid = changes.arrange.add_customer(email="anna@example.com")
    changes.store.begin(cid, "new@example.com", "482913")
    [kept] = changes.stored_codes()
    assert kept == "482913" if isinstance(changes.store, MemoryEmailChangeStore) else len(kept) == 64


def test_an_unknown_customer(changes: Backend) -> None:
    with pytest.raises(NotFound):
        changes.store.begin("cus_nobody", "new@example.com", "482913")
    with pytest.raises(NotFound):
        changes.store.confirm("cus_nobody", "482913")
