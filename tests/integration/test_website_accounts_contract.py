"""One contract suite for the shop website's accounts (`WebsiteAccounts`, crm_adapter/ports.py): password resets and
new accounts through single-use links emailed to the address.

* ``memory``     MemoryWebsiteAccounts (tests/fakes/website.py); these run in the unit tier
* ``sqlite``     SqlWebsiteAccounts on a migrated SQLite file
* ``postgresql`` SqlWebsiteAccounts on PostgreSQL (skipped when no server is reachable, fails in CI)

An unreachable store is its own pair of rows; an external CRM's stand-in, which refuses, is the last test.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import event, select

from crm_adapter.accounts import AccountMail, NoWebsiteAccounts, token_hash
from crm_adapter.domain import CrmUnavailable, InvalidInput, NotAllowed, VerificationFailed
from crm_adapter.ports import WebsiteAccounts, WebsiteSignIns
from crm_adapter.sql.db import make_engine, make_session_factory
from crm_adapter.sql.models import CustomerRow, WebsiteAccountTokenRow
from crm_adapter.sql.website_accounts import SqlWebsiteAccounts
from crm_adapter.sql.website_sessions import SqlWebsiteSignIns
from shared.passwords import verify_password
from tests.factories import Arrange, Clock, SqlArrange
from tests.fakes import MemoryArrange, MemoryCrmStore, RecordingNotices
from tests.fakes.website import MemoryWebsiteAccounts, MemoryWebsiteSignIns

SITE = "https://shop.example.com"
NEW_PASSWORD = "a-new-password-1"


@dataclass
class Backend:
    name: str
    accounts: WebsiteAccounts
    sign_ins: WebsiteSignIns
    arrange: Arrange
    clock: Clock
    mail: RecordingNotices
    password_hash_of: Callable[[str], str | None]
    customer_id_of: Callable[[str], str | None]  # by email
    stored: Callable[[], list[dict[str, Any]]]  # every link row, as its columns

    def link(self, email: str, path: str) -> str:
        """The token of the newest link to `path` emailed to `email`."""
        for notice in reversed(self.mail.to(email)):
            found = re.search(re.escape(SITE + path) + r"\?token=([A-Za-z0-9_\-]+)", notice.body)
            if found:
                return found.group(1)
        raise AssertionError(f"no {path} link emailed to {email}")


@pytest.fixture(
    params=[
        pytest.param("memory", marks=pytest.mark.unit),
        pytest.param("sqlite", marks=pytest.mark.integration),
        pytest.param("postgresql", marks=pytest.mark.integration),
    ]
)
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    mail = RecordingNotices()
    if request.param == "memory":
        store, clock = MemoryCrmStore(), Clock()

        def customer_id_of(email: str) -> str | None:
            found = store.customer_by_email(email)
            return found.id if found else None

        yield Backend(
            "memory",
            MemoryWebsiteAccounts(store, AccountMail(mail, SITE), clock=clock),
            MemoryWebsiteSignIns(store, clock=clock),
            MemoryArrange(store),
            clock,
            mail,
            lambda cid: store.customers[cid].website_password_hash,
            customer_id_of,
            lambda: [dict(vars(r)) for r in store.account_tokens.values()],
        )
        return
    sql = request.getfixturevalue("sqlite_crm" if request.param == "sqlite" else "postgres_crm")

    def sql_customer_id_of(email: str) -> str | None:
        with sql.sessions() as s:
            return s.scalar(select(CustomerRow.id).where(CustomerRow.email == email))

    def stored() -> list[dict[str, Any]]:
        with sql.sessions() as s:
            rows = s.scalars(select(WebsiteAccountTokenRow)).all()
            return [{c.key: getattr(r, c.key) for c in WebsiteAccountTokenRow.__table__.columns} for r in rows]

    yield Backend(
        request.param,
        SqlWebsiteAccounts(sql.sessions, AccountMail(mail, SITE), secret="test-secret", clock=sql.clock),
        SqlWebsiteSignIns(sql.sessions, clock=sql.clock),
        SqlArrange(sql.sessions),
        sql.clock,
        mail,
        sql.service.website_password_hash,
        sql_customer_id_of,
        stored,
    )


# ---- password resets ---------------------------------------------------------------------------------


def test_a_reset_link_sets_the_password_once_and_ends_every_sign_in(backend: Backend) -> None:
    anna = backend.arrange.add_customer(email="anna@example.com")
    thief, hers = backend.sign_ins.start(anna, 3600), backend.sign_ins.start(anna, 3600)

    assert backend.accounts.request_password_reset("  Anna@Example.com ") is None
    token = backend.link("anna@example.com", "/reset")
    assert "30 minutes" in backend.mail.sent[-1].body and backend.mail.sent[-1].first_name == "Anna"

    customer = backend.accounts.reset_password(token, NEW_PASSWORD)

    assert customer.customer_id == anna
    stored = backend.password_hash_of(anna)
    assert stored and verify_password(NEW_PASSWORD, stored)
    assert not backend.sign_ins.is_active(thief, anna) and not backend.sign_ins.is_active(hers, anna)
    with pytest.raises(VerificationFailed):  # used up
        backend.accounts.reset_password(token, "another-password-2")
    assert verify_password(NEW_PASSWORD, backend.password_hash_of(anna) or "")


def test_only_the_links_sha256_is_stored(backend: Backend) -> None:
    backend.arrange.add_customer(email="anna@example.com")
    backend.accounts.request_password_reset("anna@example.com")
    token = backend.link("anna@example.com", "/reset")
    rows = backend.stored()
    assert [r["token_hash"] for r in rows] == [token_hash(token)]
    assert token not in repr(rows) and "anna@example.com" not in repr(rows)


def test_an_unknown_address_gets_the_same_answer_and_a_row_but_no_email(backend: Backend) -> None:
    backend.arrange.add_customer(email="anna@example.com")
    assert backend.accounts.request_password_reset("nobody@example.com") is None
    assert backend.mail.sent == []
    (row,) = backend.stored()  # the same work: a row, naming nobody
    assert row["customer_id"] is None and row["purpose"] == "reset"
    with pytest.raises(InvalidInput):
        backend.accounts.request_password_reset("not an address")


def test_a_reset_link_expires_after_30_minutes(backend: Backend) -> None:
    anna = backend.arrange.add_customer(email="anna@example.com")
    backend.accounts.request_password_reset("anna@example.com")
    backend.accounts.request_password_reset("anna@example.com")
    late, early = backend.link("anna@example.com", "/reset"), None
    backend.clock.advance(minutes=29)
    backend.accounts.request_password_reset("anna@example.com")
    early = backend.link("anna@example.com", "/reset")
    backend.clock.advance(minutes=1)
    with pytest.raises(VerificationFailed):
        backend.accounts.reset_password(late, NEW_PASSWORD)
    assert backend.password_hash_of(anna) is None
    assert backend.accounts.reset_password(early, NEW_PASSWORD).customer_id == anna


@pytest.mark.parametrize("token", ["", "x", "a" * 101, "not-a-token-we-made"])
def test_an_unknown_link_changes_nothing(backend: Backend, token: str) -> None:
    anna = backend.arrange.add_customer(email="anna@example.com")
    with pytest.raises(VerificationFailed):
        backend.accounts.reset_password(token, NEW_PASSWORD)
    with pytest.raises(VerificationFailed):
        backend.accounts.confirm_account(token)
    assert backend.password_hash_of(anna) is None


def test_a_short_password_leaves_the_link_usable(backend: Backend) -> None:
    anna = backend.arrange.add_customer(email="anna@example.com")
    backend.accounts.request_password_reset("anna@example.com")
    token = backend.link("anna@example.com", "/reset")
    for bad in ("short", "123456789", "x" * 1001):
        with pytest.raises(InvalidInput):
            backend.accounts.reset_password(token, bad)
    assert backend.accounts.reset_password(token, "1234567890").customer_id == anna


def test_using_one_reset_link_uses_up_the_others(backend: Backend) -> None:
    backend.arrange.add_customer(email="anna@example.com")
    backend.accounts.request_password_reset("anna@example.com")
    first = backend.link("anna@example.com", "/reset")
    backend.accounts.request_password_reset("anna@example.com")
    second = backend.link("anna@example.com", "/reset")
    backend.accounts.reset_password(second, NEW_PASSWORD)
    with pytest.raises(VerificationFailed):
        backend.accounts.reset_password(first, "yet-another-password")


def test_at_most_five_links_an_hour_reach_an_address(backend: Backend) -> None:
    backend.arrange.add_customer(email="anna@example.com")
    for _ in range(8):
        backend.accounts.request_password_reset("anna@example.com")
    assert len(backend.mail.to("anna@example.com")) == 5
    backend.clock.advance(minutes=61)
    backend.accounts.request_password_reset("anna@example.com")
    assert len(backend.mail.to("anna@example.com")) == 6
    # a reset allowance is not spent by account requests, nor another address's
    backend.accounts.request_password_reset("omar@example.com")
    assert len(backend.stored()) == 10


def test_a_reset_link_is_not_a_confirmation_link(backend: Backend) -> None:
    backend.arrange.add_customer(email="anna@example.com")
    backend.accounts.request_password_reset("anna@example.com")
    with pytest.raises(VerificationFailed):
        backend.accounts.confirm_account(backend.link("anna@example.com", "/reset"))


# ---- new accounts ------------------------------------------------------------------------------------


def test_a_confirmed_account_is_created_with_its_password(backend: Backend) -> None:
    assert backend.accounts.request_account(" Maya ", "Okafor", "Maya@Example.com", "mayas-password") is None
    assert backend.customer_id_of("maya@example.com") is None  # nothing until the link is opened
    token = backend.link("maya@example.com", "/register/confirm")

    customer = backend.accounts.confirm_account(token)

    assert (customer.first_name, customer.last_name, customer.email) == ("Maya", "Okafor", "maya@example.com")
    assert backend.customer_id_of("maya@example.com") == customer.customer_id
    assert verify_password("mayas-password", backend.password_hash_of(customer.customer_id) or "")
    with pytest.raises(VerificationFailed):
        backend.accounts.confirm_account(token)
    # the link keeps nothing of what was asked for, now the customer's record holds it
    assert "maya" not in repr(backend.stored()).lower() and "scrypt" not in repr(backend.stored())


def test_asking_for_an_account_with_a_taken_address_emails_its_owner_a_reset_path(backend: Backend) -> None:
    anna = backend.arrange.add_customer(email="anna@example.com")
    assert backend.accounts.request_account("Mallory", "X", "anna@example.com", "mallorys-password") is None
    (notice,) = backend.mail.to("anna@example.com")
    assert notice.first_name == "Anna" and f"{SITE}/forgot" in notice.body and "token=" not in notice.body
    assert backend.password_hash_of(anna) is None
    assert all(r["email"] is None and r["password_hash"] is None for r in backend.stored())


def test_an_address_taken_before_confirming_makes_nobody(backend: Backend) -> None:
    backend.accounts.request_account("Maya", "Okafor", "maya@example.com", "mayas-password")
    token = backend.link("maya@example.com", "/register/confirm")
    backend.arrange.add_customer(first_name="Other", email="maya@example.com")
    with pytest.raises(NotAllowed):
        backend.accounts.confirm_account(token)
    with pytest.raises(VerificationFailed):
        backend.accounts.confirm_account(token)


def test_a_confirmation_link_lasts_a_day(backend: Backend) -> None:
    backend.accounts.request_account("Maya", "Okafor", "maya@example.com", "mayas-password")
    token = backend.link("maya@example.com", "/register/confirm")
    backend.clock.advance(hours=24)
    with pytest.raises(VerificationFailed):
        backend.accounts.confirm_account(token)
    assert backend.customer_id_of("maya@example.com") is None


@pytest.mark.parametrize(
    ("first", "last", "email", "password", "field"),
    [
        ("", "Okafor", "maya@example.com", "mayas-password", "first_name"),
        ("Maya", "O" * 81, "maya@example.com", "mayas-password", "last_name"),
        ("Ma\x00ya", "Okafor", "maya@example.com", "mayas-password", "first_name"),
        ("Maya", "Okafor", "maya@", "mayas-password", "email"),
        ("Maya", "Okafor", "maya@example.com", "short", "password"),
    ],
)
def test_an_account_request_with_bad_input_is_refused_and_keeps_nothing(
    backend: Backend, first: str, last: str, email: str, password: str, field: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        backend.accounts.request_account(first, last, email, password)
    assert refused.value.field == field
    assert backend.stored() == [] and backend.mail.sent == []


def test_at_most_five_confirmation_emails_an_hour_reach_an_address(backend: Backend) -> None:
    for _ in range(7):
        backend.accounts.request_account("Maya", "Okafor", "maya@example.com", "mayas-password")
    assert len(backend.mail.to("maya@example.com")) == 5


# ---- an unreachable store; an external CRM -----------------------------------------------------------


@pytest.fixture(
    params=[
        pytest.param("memory", marks=pytest.mark.unit),
        pytest.param("sql", marks=pytest.mark.integration),
    ]
)
def unreachable(request: pytest.FixtureRequest) -> Iterator[WebsiteAccounts]:
    mail = AccountMail(RecordingNotices(), SITE)
    if request.param == "memory":
        yield MemoryWebsiteAccounts(MemoryCrmStore(down=True), mail)
        return
    engine = make_engine("postgresql+psycopg2://hearth@127.0.0.1:1/hearth")
    yield SqlWebsiteAccounts(make_session_factory(engine), mail, secret="test-secret")
    engine.dispose()


def test_every_method_says_the_store_is_unavailable(unreachable: WebsiteAccounts) -> None:
    for call in (
        lambda: unreachable.request_password_reset("anna@example.com"),
        lambda: unreachable.reset_password("a-token", NEW_PASSWORD),
        lambda: unreachable.request_account("Maya", "Okafor", "maya@example.com", "mayas-password"),
        lambda: unreachable.confirm_account("a-token"),
    ):
        with pytest.raises(CrmUnavailable):
            call()


@pytest.mark.unit
def test_with_an_external_crm_accounts_are_refused_clearly() -> None:
    none = NoWebsiteAccounts()
    for call in (
        lambda: none.request_password_reset("anna@example.com"),
        lambda: none.reset_password("a-token", NEW_PASSWORD),
        lambda: none.request_account("Maya", "Okafor", "maya@example.com", "mayas-password"),
        lambda: none.confirm_account("a-token"),
    ):
        with pytest.raises(NotAllowed) as refused:
            call()
        assert refused.value.reason == "website_accounts"


# ---- what only the SQL store shows ---------------------------------------------------------------------


@pytest.mark.integration
def test_asking_runs_the_same_statements_whether_or_not_the_address_has_an_account(sqlite_crm: Any) -> None:
    """Asking for a reset or an account does the same database work (so takes about the same time) either way; the
    statements are compared with their parameters left out."""
    SqlArrange(sqlite_crm.sessions).add_customer(email="anna@example.com")
    accounts = SqlWebsiteAccounts(sqlite_crm.sessions, AccountMail(RecordingNotices(), SITE), secret="s")
    engine = sqlite_crm.sessions.kw["bind"]
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001 - SQLAlchemy's hook
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        for ask in (
            accounts.request_password_reset,
            lambda email: accounts.request_account("Maya", "Okafor", email, "mayas-password"),
        ):
            work = []
            for email in ("anna@example.com", "nobody@example.com"):
                statements.clear()
                ask(email)
                work.append(list(statements))
            assert work[0] == work[1] and any(s.startswith("INSERT INTO website_account_tokens") for s in work[0])
    finally:
        event.remove(engine, "before_cursor_execute", record)
