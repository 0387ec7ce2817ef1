"""The shop website's sign-ins on the SQL database (website_sessions): started at sign-in, ended at sign-out."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from crm_adapter.rules import utcnow
from crm_adapter.sql.db import unit_of_work
from crm_adapter.sql.lookups import customer_row
from crm_adapter.sql.models import WebsiteSessionRow
from crm_adapter.website import MAX_SIGN_IN_SECONDS, check_lifetime, new_sign_in_id


class SqlWebsiteSignIns:
    """Implements `crm_adapter.ports.WebsiteSignIns` on a SQLAlchemy session factory."""

    def __init__(self, sessions: sessionmaker[Session], clock: Callable[[], datetime] = utcnow) -> None:
        self._sessions = sessions
        self._now = clock

    def start(self, customer_id: str, lifetime_seconds: int) -> str:
        check_lifetime(lifetime_seconds)
        now = self._now()
        with unit_of_work(self._sessions) as s:
            customer_row(s, customer_id)
            # sign-ins over for a day are of no more use: each new one clears its customer's
            stale = now - timedelta(seconds=MAX_SIGN_IN_SECONDS)
            s.execute(
                delete(WebsiteSessionRow).where(
                    WebsiteSessionRow.customer_id == customer_id, WebsiteSessionRow.expires_at < stale
                )
            )
            row = WebsiteSessionRow(
                id=new_sign_in_id(),
                customer_id=customer_id,
                created_at=now,
                expires_at=now + timedelta(seconds=lifetime_seconds),
            )
            s.add(row)
            s.flush()
            return row.id

    def is_active(self, sign_in_id: str, customer_id: str) -> bool:
        if not isinstance(sign_in_id, str) or not sign_in_id or len(sign_in_id) > 64:
            return False
        with unit_of_work(self._sessions) as s:
            row = s.get(WebsiteSessionRow, sign_in_id)
            return (
                row is not None
                and row.customer_id == customer_id
                and row.ended_at is None
                and row.expires_at > self._now()
            )

    def end(self, sign_in_id: str) -> bool:
        if not isinstance(sign_in_id, str) or not sign_in_id or len(sign_in_id) > 64:
            return False
        with unit_of_work(self._sessions) as s:
            row = s.get(WebsiteSessionRow, sign_in_id)
            if row is None or row.ended_at is not None:
                return False
            row.ended_at = self._now()
            return True
