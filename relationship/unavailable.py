"""The relationship port when the CRM is an external one (CRM_BACKEND=http).

Consent, preferences, surveys, value and data rights live in our own CRM database; an external CRM's owner
provides them. With an external CRM the composition root (hearth/container.py) hands out
`ExternalCrmRelationship`, whose every method raises `RelationshipUnavailable`; the relationship services
turn that into their "not offered" outcome (no survey, no consent question, "I can't do that here").
"""

from __future__ import annotations

from typing import Any, NoReturn

from crm_adapter.domain import (
    Consents,
    CustomerProfile,
    ErasureReceipt,
    NewFeedback,
    NotFound,
    PreferenceProposal,
    SentimentTrend,
    SurveyPlan,
)


class RelationshipUnavailable(NotFound):
    """This CRM keeps no relationship data (consent, preferences, surveys, profile, data rights)."""

    def __init__(self) -> None:
        super().__init__("This CRM backend keeps no relationship profile.")


class ExternalCrmRelationship:
    """A `RelationshipService` that keeps nothing: every call raises RelationshipUnavailable."""

    @staticmethod
    def _not_kept() -> NoReturn:
        raise RelationshipUnavailable()

    def consents(self, customer_id: str) -> Consents:
        self._not_kept()

    def set_consent(self, customer_id: str, purpose: str, granted: bool, source: str = "chat") -> Consents:
        self._not_kept()

    def preferences(self, customer_id: str) -> dict[str, str]:
        self._not_kept()

    def set_preferences(self, customer_id: str, values: dict[str, str], source: str = "customer") -> dict[str, str]:
        self._not_kept()

    def propose_preferences(self, customer_id: str) -> PreferenceProposal | None:
        self._not_kept()

    def plan_survey(self, customer_id: str | None) -> SurveyPlan:
        self._not_kept()

    def record_feedback(self, feedback: NewFeedback) -> int:
        self._not_kept()

    def sentiment_trend(self, customer_id: str, last: int = 10) -> SentimentTrend:
        self._not_kept()

    def profile(self, customer_id: str) -> CustomerProfile:
        self._not_kept()

    def export(self, customer_id: str) -> dict[str, Any]:
        self._not_kept()

    def request_erasure(self, customer_id: str, current_sender: str | None = None) -> ErasureReceipt:
        self._not_kept()
