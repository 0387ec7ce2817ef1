"""`EmailChangeStore` in memory, on a `MemoryCrmStore`'s customers: the SQL store's observable behaviour
(crm_adapter/sql/email_changes.py), held to the same contract tests (tests/integration/test_email_change_contract.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from crm_adapter.domain import EmailChanged, EmailChangeStarted, NotFound, VerificationFailed
from crm_adapter.rules import CODE_TTL, code_takes_guesses, guessing_window_start, utcnow
from crm_adapter.validation import normalize_email
from tests.fakes.crm import CustomerRecord, MemoryCrmStore, _customer


@dataclass
class EmailChangeRecord:
    id: int
    customer_id: str
    new_email: str
    code: str  # the SQL store keeps a hash; what a test can observe is the same
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None
    attempts: int = 0


@dataclass
class MemoryEmailChangeStore:
    store: MemoryCrmStore
    clock: Callable[[], datetime] = utcnow
    changes: list[EmailChangeRecord] = field(default_factory=list)

    def _customer(self, customer_id: str) -> CustomerRecord:
        record = self.store.customers.get(customer_id)
        if record is None:
            raise NotFound(f"customer {customer_id}")
        return record

    def _pending(self, customer_id: str) -> list[EmailChangeRecord]:
        return [c for c in self.changes if c.customer_id == customer_id and c.used_at is None]

    def begin(self, customer_id: str, new_email: str, code: str) -> EmailChangeStarted:
        address = normalize_email(new_email)
        self.store.reach()
        now = self.clock()
        record = self._customer(customer_id)
        other = self.store.customer_by_email(address)
        since = guessing_window_start(now)
        recent = sum(1 for c in self.changes if c.customer_id == customer_id and c.created_at > since)
        self.cancel(customer_id)
        self.changes.append(EmailChangeRecord(self.store.next_id(), customer_id, address, code, now, now + CODE_TTL))
        return EmailChangeStarted(
            first_name=record.first_name,
            current_email=record.email,
            taken_by=_customer(other) if other is not None and other.id != customer_id else None,
            started_recently=recent,
        )

    def confirm(self, customer_id: str, code: str) -> EmailChanged:
        self.store.reach()
        now = self.clock()
        record = self._customer(customer_id)
        pending = max(self._pending(customer_id), key=lambda c: c.id, default=None)
        if pending is None or not code_takes_guesses(pending.expires_at, pending.attempts, now):
            raise VerificationFailed()
        if pending.code != code.strip():
            pending.attempts += 1
            raise VerificationFailed()
        pending.used_at = now
        other = self.store.customer_by_email(pending.new_email)
        if other is not None and other.id != customer_id:
            raise VerificationFailed()
        old_email = record.email
        record.email, record.updated_at = pending.new_email, now
        return EmailChanged(customer_id, record.first_name, old_email, pending.new_email)

    def cancel(self, customer_id: str) -> None:
        self.store.reach()
        for pending in self._pending(customer_id):
            pending.used_at = self.clock()
