"""One customer's data never reaches another, where it rests on the CRM database's schema (the unit tier's
tests/unit/test_customer_isolation.py holds the rules on the in-memory CRM)."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, func, select

from crm_adapter.domain import VerificationFailed
from crm_adapter.sql.models import CustomerRow, VerificationFailureRow
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


def failures(crm, customer_id: str) -> int:
    with crm.sessions() as s:
        query = select(func.count()).select_from(VerificationFailureRow)
        return s.scalar(query.where(VerificationFailureRow.customer_id == customer_id)) or 0


def test_erasing_a_customer_removes_their_failed_attempts(crm, anna):
    with pytest.raises(VerificationFailed):
        crm.service.verify_with_order("anna@example.com", "JH999999")
    with crm.sessions.begin() as s:
        s.execute(delete(CustomerRow).where(CustomerRow.id == anna))
    assert failures(crm, anna) == 0
