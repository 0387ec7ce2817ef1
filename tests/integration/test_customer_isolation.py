"""One customer's data never reaches another, where it rests on the CRM database's schema (the unit tier's
tests/unit/test_customer_isolation.py holds the rules on the in-memory CRM)."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, func, select

from crm_adapter.domain import VerificationFailed
from crm_adapter.sql.models import CodeRequestRow, CustomerRow, OrderProofFailureRow
from tests.conftest import SqlCrm
from tests.factories import add_customer, add_order

pytestmark = pytest.mark.integration


@pytest.fixture
def crm(sqlite_crm: SqlCrm) -> SqlCrm:
    return sqlite_crm


@pytest.fixture
def anna(crm) -> str:
    customer = add_customer(crm.sessions, first_name="Anna", email="anna@example.com")
    add_order(crm.sessions, customer, "JH300001")
    return customer


def test_wrong_order_numbers_are_kept_under_a_keyed_hash_of_the_address_only(crm, anna):
    """The count that slows guessing names no customer and holds no address: the same row whether or not the
    address is on file, so it outlives nobody's erasure and tells nobody who is a customer."""
    for email in ("anna@example.com", "nobody@example.com"):
        with pytest.raises(VerificationFailed):
            crm.service.verify_with_order(email, "JH999999")
    with crm.sessions() as s:
        rows = s.scalars(select(OrderProofFailureRow)).all()
        columns = set(OrderProofFailureRow.__table__.columns.keys())
    assert columns == {"id", "address_key", "created_at"}
    assert len({row.address_key for row in rows}) == 2
    assert all(len(row.address_key) == 64 and "@" not in row.address_key for row in rows)


def test_erasing_a_customer_removes_their_queued_code_requests(crm, anna):
    crm.service.send_one_time_code("anna@example.com")
    with crm.sessions.begin() as s:
        s.execute(delete(CustomerRow).where(CustomerRow.id == anna))
    with crm.sessions() as s:
        left = s.scalar(select(func.count()).select_from(CodeRequestRow).where(CodeRequestRow.customer_id == anna))
    assert left == 0
    assert crm.codes.sent == []  # and nothing is emailed to the erased address
