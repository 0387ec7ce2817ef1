"""What the relationship stores share: a transaction on the CRM database, the clock, and the customer
a call is about."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from crm_adapter.domain import NotFound
from crm_adapter.sql.db import unavailable_as_crm_error
from crm_adapter.sql.models import CustomerRow


def utcnow() -> datetime:
    return datetime.utcnow().replace(microsecond=0)


class Store:
    def __init__(self, sessions: sessionmaker[Session], clock: Callable[[], datetime] = utcnow) -> None:
        self._sessions = sessions
        self._now = clock

    @contextmanager
    def _uow(self) -> Iterator[Session]:
        """One transaction; `CrmUnavailable` when the database cannot be reached."""
        with unavailable_as_crm_error(), self._sessions() as s, s.begin():
            yield s


def customer_row(s: Session, customer_id: str) -> CustomerRow:
    """The customer, or `NotFound` (also for an empty id)."""
    row = s.get(CustomerRow, customer_id) if customer_id else None
    if row is None:
        raise NotFound(f"customer {customer_id}")
    return row
