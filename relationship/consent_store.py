"""Consent per purpose, on the CRM database. Refusing the *history* purpose also removes what was kept
(relationship/privacy.py)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_adapter.domain import PURPOSES, Consents, InvalidInput
from relationship import privacy
from relationship.rows import ConsentRow
from relationship.store import Store, customer_row


class ConsentStore(Store):
    def consents(self, customer_id: str) -> Consents:
        with self._uow() as s:
            customer_row(s, customer_id)
            return consents_of(s, customer_id)

    def set_consent(self, customer_id: str, purpose: str, granted: bool, source: str = "chat") -> Consents:
        """Records the answer; refusing `history` also removes what was kept (relationship/privacy.py)."""
        if purpose not in PURPOSES:
            raise InvalidInput("purpose", f"Purpose must be one of {', '.join(PURPOSES)}.")
        with self._uow() as s:
            customer_row(s, customer_id)
            now = self._now()
            row = s.scalar(
                select(ConsentRow).where(ConsentRow.customer_id == customer_id, ConsentRow.purpose == purpose)
            )
            if row is None:
                row = ConsentRow(customer_id=customer_id, purpose=purpose, granted=bool(granted), source=source[:40])
                s.add(row)
            row.granted, row.source, row.updated_at = bool(granted), source[:40], now
            s.flush()
            if purpose == "history" and not granted:
                privacy.forget_history(s, customer_id, now)
            return consents_of(s, customer_id)


def consents_of(s: Session, customer_id: str) -> Consents:
    rows = s.execute(select(ConsentRow.purpose, ConsentRow.granted).where(ConsentRow.customer_id == customer_id)).all()
    return Consents(**{purpose: granted for purpose, granted in rows if purpose in PURPOSES})
