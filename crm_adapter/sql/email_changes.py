"""Changes of the email address on file, waiting for the code emailed to the new address, on the SQL database
(`crm_adapter.ports.EmailChangeStore`). The rules of the flow are in crm_adapter/contact_changes.py."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from crm_adapter.domain import EmailChanged, EmailChangeStarted, VerificationFailed
from crm_adapter.rules import CODE_TTL, code_takes_guesses, guessing_window_start, utcnow
from crm_adapter.sql.db import unit_of_work
from crm_adapter.sql.lookups import customer_row, customer_with_email
from crm_adapter.sql.mapping import to_customer
from crm_adapter.sql.models import EmailChangeRow
from crm_adapter.validation import normalize_email


class SqlEmailChangeStore:
    """Pending email changes in the `email_changes` table; codes stored as an HMAC keyed with `secret`."""

    def __init__(self, sessions: sessionmaker[Session], secret: str, clock: Callable[[], datetime] = utcnow) -> None:
        self._sessions = sessions
        self._secret = secret.encode()
        self._now = clock

    def begin(self, customer_id: str, new_email: str, code: str) -> EmailChangeStarted:
        address = normalize_email(new_email)
        now = self._now()
        with unit_of_work(self._sessions) as s:
            row = customer_row(s, customer_id)
            other = customer_with_email(s, address)
            since = guessing_window_start(now)
            recent = s.scalar(
                select(func.count())
                .select_from(EmailChangeRow)
                .where(EmailChangeRow.customer_id == customer_id, EmailChangeRow.created_at > since)
            )
            self._drop_pending(s, customer_id, now)  # a new change replaces every earlier one
            s.add(
                EmailChangeRow(
                    customer_id=customer_id,
                    new_email=address,
                    code_hash=self._hash(customer_id, address, code),
                    created_at=now,
                    expires_at=now + CODE_TTL,
                    attempts=0,
                )
            )
            return EmailChangeStarted(
                first_name=row.first_name,
                current_email=row.email,
                taken_by=to_customer(other) if other is not None and other.id != customer_id else None,
                started_recently=recent or 0,
            )

    def confirm(self, customer_id: str, code: str) -> EmailChanged:
        now = self._now()
        try:
            with unit_of_work(self._sessions) as s:
                changed = self._confirm(s, customer_id, code.strip(), now)
        except IntegrityError:  # the address was taken by someone else in the meantime
            self.cancel(customer_id)
            raise VerificationFailed() from None
        if changed is None:  # raised after the unit of work, so the attempt is committed
            raise VerificationFailed()
        return changed

    def _confirm(self, s: Session, customer_id: str, code: str, now: datetime) -> EmailChanged | None:
        row = customer_row(s, customer_id)
        pending = s.scalar(
            select(EmailChangeRow)
            .where(EmailChangeRow.customer_id == customer_id, EmailChangeRow.used_at.is_(None))
            .order_by(EmailChangeRow.id.desc())
        )
        if pending is None or not code_takes_guesses(pending.expires_at, pending.attempts, now):
            return None
        if not hmac.compare_digest(pending.code_hash, self._hash(customer_id, pending.new_email, code)):
            pending.attempts += 1
            return None
        pending.used_at = now
        other = customer_with_email(s, pending.new_email)
        if other is not None and other.id != customer_id:
            return None  # never moves an address that is someone else's
        old_email = row.email
        row.email = pending.new_email
        row.updated_at = now
        s.flush()
        return EmailChanged(customer_id, row.first_name, old_email, pending.new_email)

    def cancel(self, customer_id: str) -> None:
        with unit_of_work(self._sessions) as s:
            self._drop_pending(s, customer_id, self._now())

    @staticmethod
    def _drop_pending(s: Session, customer_id: str, now: datetime) -> None:
        for pending in s.scalars(
            select(EmailChangeRow).where(EmailChangeRow.customer_id == customer_id, EmailChangeRow.used_at.is_(None))
        ):
            pending.used_at = now

    def _hash(self, customer_id: str, address: str, code: str) -> str:
        message = f"email-change:{customer_id}:{address}:{code}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()
