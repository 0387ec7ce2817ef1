"""The one question after a request is done for a verified customer, and the answer to a preference proposal.

In this order, at most one: offer to remember this messaging account (once per conversation, see
crm_adapter/identity.py); else ask for the consent they never gave (once per conversation,
relationship/consent_flow.py); otherwise offer to remember what the history shows about how they like to be
contacted (relationship/preferences.py, at most once per `PREFERENCE_PROPOSAL_DAYS`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

from crm_adapter.domain import CrmUnavailable, NotFound
from crm_adapter.identity import AccountLinking, ChannelAccount, LinkOffer
from crm_adapter.ports import RelationshipService
from relationship import preferences as prefs
from relationship.consent_flow import ConsentFlow
from relationship.unavailable import RelationshipUnavailable

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConsentQuestion:
    purpose: str


@dataclass(frozen=True)
class PreferenceQuestion:
    values: dict[str, str]
    description: str


FollowUpQuestion = LinkOffer | ConsentQuestion | PreferenceQuestion


@dataclass(frozen=True)
class ConversationSoFar:
    """What the conversation has already asked and how the customer was verified."""

    link_offered: bool
    consent_asked: bool
    verified_by: str | None


@dataclass(frozen=True)
class ProposalStep:
    """After a yes or no to a proposal; `saved` describes every preference now saved."""

    result: Literal["saved", "not_saved", "unavailable"]
    saved: str = ""


def describe_saved(saved: dict[str, str]) -> str:
    """ "channel: sms, how often: monthly" """
    return ", ".join(f"{prefs.LABELS.get(k, k)}: {v}" for k, v in saved.items())


def describe_proposal(values: dict[str, str]) -> str:
    """The proposal in words, to ask it again."""
    return prefs.describe([prefs.Observation(k, v, 0, 0) for k, v in values.items()])


class FollowUp:
    def __init__(self, linking: AccountLinking, relationship: RelationshipService) -> None:
        self._linking = linking
        self._relationship = relationship

    def next_question(
        self, customer_id: str, account: ChannelAccount, so_far: ConversationSoFar
    ) -> FollowUpQuestion | None:
        offer = self._linking.offer(
            customer_id, account, offered=so_far.link_offered, verified_by=so_far.verified_by, asked_for=False
        )
        if offer is not None:
            return offer
        try:
            if not so_far.consent_asked:
                purpose = ConsentFlow(self._relationship).first_question(customer_id)
                if purpose is not None:
                    return ConsentQuestion(purpose)
            proposal = self._relationship.propose_preferences(customer_id)
        except (CrmUnavailable, NotFound) as exc:  # NotFound includes RelationshipUnavailable
            log.info("no follow-up question: %s", exc)
            return None
        return PreferenceQuestion(proposal.values, proposal.description) if proposal is not None else None

    def answer_proposal(self, customer_id: str, values: dict[str, str], yes: bool) -> ProposalStep:
        """Save the proposed preferences on a yes (marked as observed); nothing on a no."""
        if not (yes and values):
            return ProposalStep("not_saved")
        try:
            saved = self._relationship.set_preferences(customer_id, values, "observed")
        except RelationshipUnavailable:
            return ProposalStep("unavailable")
        return ProposalStep("saved", describe_saved(saved))
