"""Contact preferences on the CRM database: the ones the customer stated (or confirmed), and proposals of
what their history shows (relationship/preferences.py reads both).

An observed preference is proposed at most once per `proposal_interval` (30 days unless the composition
root gives PREFERENCE_PROPOSAL_DAYS); nothing observed is stored until the customer confirms it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from crm_adapter.domain import InvalidInput, PreferenceProposal
from history.rows import ConversationRow
from relationship import preferences as prefs
from relationship.rows import PreferenceRow
from relationship.store import Store, customer_row, utcnow

PROPOSAL_INTERVAL = timedelta(days=30)


class PreferenceStore(Store):
    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Callable[[], datetime] = utcnow,
        proposal_interval: timedelta = PROPOSAL_INTERVAL,
    ) -> None:
        super().__init__(sessions, clock)
        self.proposal_interval = proposal_interval

    def preferences(self, customer_id: str) -> dict[str, str]:
        with self._uow() as s:
            customer_row(s, customer_id)
            return preferences_of(s, customer_id)

    def set_preferences(self, customer_id: str, values: dict[str, str], source: str = "customer") -> dict[str, str]:
        for key, val in values.items():
            if not prefs.valid(key, val):
                raise InvalidInput(key, f"{val!r} is not a {prefs.LABELS.get(key, key)} we can use.")
        with self._uow() as s:
            customer_row(s, customer_id)
            now = self._now()
            for key, val in values.items():
                row = s.scalar(
                    select(PreferenceRow).where(PreferenceRow.customer_id == customer_id, PreferenceRow.key == key)
                )
                if row is None:
                    row = PreferenceRow(customer_id=customer_id, key=key)
                    s.add(row)
                row.value, row.confirmed, row.source, row.updated_at = val, True, source, now
            s.flush()
            return preferences_of(s, customer_id)

    def propose_preferences(self, customer_id: str) -> PreferenceProposal | None:
        """What the history shows and the customer has not confirmed, if the evidence is strong enough and
        nothing was proposed lately. Marks the proposal as made; stores nothing else."""
        with self._uow() as s:
            customer = customer_row(s, customer_id)
            now = self._now()
            if customer.preferences_proposed_at and now - customer.preferences_proposed_at < self.proposal_interval:
                return None
            rows = s.execute(
                select(ConversationRow.channel, ConversationRow.sender_id, ConversationRow.started_at)
                .where(ConversationRow.customer_id == customer_id, ConversationRow.customer_message_count > 0)
                .order_by(ConversationRow.started_at.desc())
                .limit(50)
            ).all()
            known = preferences_of(s, customer_id)
            observed = [o for o in prefs.observe([tuple(r) for r in rows]) if known.get(o.key) != o.value]
            if not observed:
                return None
            customer.preferences_proposed_at = now
            return PreferenceProposal({o.key: o.value for o in observed}, prefs.describe(observed))


def preferences_of(s: Session, customer_id: str) -> dict[str, str]:
    """The confirmed preferences, by key."""
    rows = s.execute(
        select(PreferenceRow.key, PreferenceRow.value)
        .where(PreferenceRow.customer_id == customer_id, PreferenceRow.confirmed.is_(True))
        .order_by(PreferenceRow.key)
    ).all()
    return {key: val for key, val in rows}
