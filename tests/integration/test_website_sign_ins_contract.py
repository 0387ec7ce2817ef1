"""One contract suite for the shop website's sign-ins (`WebsiteSignIns`, crm_adapter/ports.py): signing out ends
a sign-in, and a token or cookie naming it counts no longer.

* ``memory``     MemoryWebsiteSignIns (tests/fakes/website.py); these run in the unit tier
* ``sqlite``     SqlWebsiteSignIns on a migrated SQLite file
* ``postgresql`` SqlWebsiteSignIns on PostgreSQL (skipped when no server is reachable, fails in CI)

An unreachable store (the in-memory store while down; PostgreSQL where nothing listens) is its own pair of rows
at the end; an external CRM's stand-in, where nobody signs in, is the last test.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from crm_adapter.domain import CrmUnavailable, NotAllowed, NotFound
from crm_adapter.ports import WebsiteSignIns
from crm_adapter.sql.db import make_engine, make_session_factory
from crm_adapter.sql.website_sessions import SqlWebsiteSignIns
from crm_adapter.website import NoWebsiteSignIns
from tests.factories import Arrange, Clock, SqlArrange
from tests.fakes import MemoryArrange, MemoryCrmStore
from tests.fakes.website import MemoryWebsiteSignIns

HOUR = 3600


@dataclass
class Backend:
    name: str
    sign_ins: WebsiteSignIns
    arrange: Arrange
    clock: Clock


@pytest.fixture(
    params=[
        pytest.param("memory", marks=pytest.mark.unit),
        pytest.param("sqlite", marks=pytest.mark.integration),
        pytest.param("postgresql", marks=pytest.mark.integration),
    ]
)
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    if request.param == "memory":
        store, clock = MemoryCrmStore(), Clock()
        yield Backend("memory", MemoryWebsiteSignIns(store, clock=clock), MemoryArrange(store), clock)
        return
    sql = request.getfixturevalue("sqlite_crm" if request.param == "sqlite" else "postgres_crm")
    yield Backend(request.param, SqlWebsiteSignIns(sql.sessions, clock=sql.clock), SqlArrange(sql.sessions), sql.clock)


def test_a_sign_in_counts_for_its_customer_until_it_ends(backend: Backend) -> None:
    anna = backend.arrange.add_customer()
    sign_in = backend.sign_ins.start(anna, 8 * HOUR)

    assert sign_in and backend.sign_ins.is_active(sign_in, anna)
    assert backend.sign_ins.end(sign_in) is True
    assert not backend.sign_ins.is_active(sign_in, anna)
    assert backend.sign_ins.end(sign_in) is False  # ended once; signing out again changes nothing


def test_each_sign_in_is_its_own(backend: Backend) -> None:
    anna, omar = backend.arrange.add_customer(), backend.arrange.add_customer(first_name="Omar")
    first, second = backend.sign_ins.start(anna, HOUR), backend.sign_ins.start(anna, HOUR)
    his = backend.sign_ins.start(omar, HOUR)
    assert len({first, second, his}) == 3

    backend.sign_ins.end(first)

    assert not backend.sign_ins.is_active(first, anna)
    assert backend.sign_ins.is_active(second, anna)  # her other browser stays signed in
    assert backend.sign_ins.is_active(his, omar)
    assert not backend.sign_ins.is_active(his, anna)  # a sign-in counts for its own customer only
    assert not backend.sign_ins.is_active(second, omar)


def test_a_sign_in_lapses_at_the_end_of_its_lifetime(backend: Backend) -> None:
    anna = backend.arrange.add_customer()
    sign_in = backend.sign_ins.start(anna, HOUR)

    backend.clock.advance(seconds=HOUR - 1)
    assert backend.sign_ins.is_active(sign_in, anna)
    backend.clock.advance(seconds=1)
    assert not backend.sign_ins.is_active(sign_in, anna)


@pytest.mark.parametrize("sign_in", ["", "si_unknown", "x" * 65, "si_" + "0" * 32])
def test_an_unknown_sign_in_is_not_active_and_cannot_be_ended(backend: Backend, sign_in: str) -> None:
    anna = backend.arrange.add_customer()
    backend.sign_ins.start(anna, HOUR)
    assert not backend.sign_ins.is_active(sign_in, anna)
    assert backend.sign_ins.end(sign_in) is False


def test_only_a_customer_signs_in_for_a_lifetime_of_up_to_a_day(backend: Backend) -> None:
    anna = backend.arrange.add_customer()
    with pytest.raises(NotFound):
        backend.sign_ins.start("cus_nobody", HOUR)
    for lifetime in (0, -1, 24 * HOUR + 1):
        with pytest.raises(ValueError):
            backend.sign_ins.start(anna, lifetime)
    assert backend.sign_ins.start(anna, 24 * HOUR)


# ---- an unreachable store ----------------------------------------------------------------------


@pytest.fixture(
    params=[
        pytest.param("memory", marks=pytest.mark.unit),
        pytest.param("sql", marks=pytest.mark.integration),
    ]
)
def unreachable(request: pytest.FixtureRequest) -> Iterator[WebsiteSignIns]:
    """Sign-ins whose database cannot be reached: the in-memory store while down, or PostgreSQL where nothing
    listens (port 1)."""
    if request.param == "memory":
        yield MemoryWebsiteSignIns(MemoryCrmStore(down=True))
        return
    engine = make_engine("postgresql+psycopg2://hearth@127.0.0.1:1/hearth")
    yield SqlWebsiteSignIns(make_session_factory(engine))
    engine.dispose()


def test_every_method_says_the_store_is_unavailable(unreachable: WebsiteSignIns) -> None:
    for call in (
        lambda: unreachable.start("cus_x", HOUR),
        lambda: unreachable.is_active("si_1", "cus_x"),
        lambda: unreachable.end("si_1"),
    ):
        with pytest.raises(CrmUnavailable):
            call()


@pytest.mark.unit
def test_with_an_external_crm_nobody_is_signed_in() -> None:
    none = NoWebsiteSignIns()
    with pytest.raises(NotAllowed):
        none.start("cus_x", HOUR)
    assert none.is_active("si_1", "cus_x") is False and none.end("si_1") is False
