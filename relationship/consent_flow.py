"""Asking for consent in the conversation: one purpose at a time, in the order of `PURPOSES` (remember my
conversations, service messages, offers and news).

After a request, a customer who never answered is asked the first purpose they have not answered; each
answer leads to the next unanswered purpose. When the customer reviews their consents, every purpose is
asked again, answered or not.
"""

from __future__ import annotations

from dataclasses import dataclass

from crm_adapter.domain import PURPOSES, Consents
from crm_adapter.ports import RelationshipService
from relationship.unavailable import RelationshipUnavailable

FIRST_PURPOSE = PURPOSES[0]


def first_unanswered(consents: Consents) -> str | None:
    missing = consents.missing
    return missing[0] if missing else None


def next_purpose(after: str, consents: Consents, review: bool) -> str | None:
    """The purpose to ask about after `after`: the next one in order not answered yet (any next one when
    reviewing); None when all are done."""
    later = PURPOSES[PURPOSES.index(after) + 1 :]
    return next((p for p in later if review or consents.get(p) is None), None)


@dataclass(frozen=True)
class ConsentStep:
    """After an answer: the purpose to ask next, or None when the consents are saved."""

    next_purpose: str | None
    unavailable: bool = False


class ConsentFlow:
    def __init__(self, relationship: RelationshipService) -> None:
        self._relationship = relationship

    def first_question(self, customer_id: str) -> str | None:
        """The purpose to ask the customer about first, or None when they answered every one."""
        return first_unanswered(self._relationship.consents(customer_id))

    def answer(self, customer_id: str, purpose: str, granted: bool, review: bool) -> ConsentStep:
        """Records the answer (refusing `history` also removes what was kept) and says what to ask next."""
        try:
            consents = self._relationship.set_consent(customer_id, purpose, granted, "chat")
        except RelationshipUnavailable:
            return ConsentStep(None, unavailable=True)
        return ConsentStep(next_purpose(purpose, consents, review))
