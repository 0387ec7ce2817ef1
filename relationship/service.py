"""The relationship service on the CRM database: the `RelationshipService` port, composed of one store per
part, each over the same session factory and clock:

- consent per purpose (`consent_store.py`);
- contact preferences, stated and observed (`preference_store.py`);
- satisfaction and recommendation surveys with their frequency rules (`survey_store.py`);
- the sentiment trend, customer value and profile an agent sees (`profile_store.py`, with the value facts
  and the refresh of everyone's value in `value_store.py`);
- the customer's data rights, export and erasure (`data_rights.py`, with `privacy.py`).

The composition root gives the frequency rules from CSAT_MIN_HOURS, NPS_PERIOD_DAYS and
PREFERENCE_PROPOSAL_DAYS; the defaults are in the survey and preference stores.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from crm_adapter.domain import (
    Consents,
    CustomerProfile,
    ErasureReceipt,
    NewFeedback,
    PreferenceProposal,
    SentimentTrend,
    SurveyPlan,
)
from relationship.consent_store import ConsentStore
from relationship.data_rights import DataRights, no_outbox
from relationship.preference_store import PROPOSAL_INTERVAL, PreferenceStore
from relationship.profile_store import ProfileStore
from relationship.store import utcnow
from relationship.survey_store import CSAT_MIN_INTERVAL, NPS_PERIOD, SurveyStore
from relationship.value import CustomerValue


class SqlRelationshipService:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        secret: str = "",
        clock: Callable[[], datetime] | None = None,
        csat_min_interval: timedelta = CSAT_MIN_INTERVAL,
        nps_period: timedelta = NPS_PERIOD,
        proposal_interval: timedelta = PROPOSAL_INTERVAL,
        remove_outbox: Callable[[str], int] = no_outbox,
    ) -> None:
        """`remove_outbox` deletes the development emails to an address (erasure); see crm_adapter.notify."""
        now = clock or utcnow
        self._consent = ConsentStore(sessions, now)
        self._preferences = PreferenceStore(sessions, now, proposal_interval)
        self._surveys = SurveyStore(sessions, now, csat_min_interval, nps_period)
        self._profiles = ProfileStore(sessions, now)
        self._data_rights = DataRights(sessions, now, secret, remove_outbox)

    # ---- consent ----------------------------------------------------------

    def consents(self, customer_id: str) -> Consents:
        return self._consent.consents(customer_id)

    def set_consent(self, customer_id: str, purpose: str, granted: bool, source: str = "chat") -> Consents:
        return self._consent.set_consent(customer_id, purpose, granted, source)

    # ---- preferences ------------------------------------------------------

    def preferences(self, customer_id: str) -> dict[str, str]:
        return self._preferences.preferences(customer_id)

    def set_preferences(self, customer_id: str, values: dict[str, str], source: str = "customer") -> dict[str, str]:
        return self._preferences.set_preferences(customer_id, values, source)

    def propose_preferences(self, customer_id: str) -> PreferenceProposal | None:
        return self._preferences.propose_preferences(customer_id)

    # ---- surveys ----------------------------------------------------------

    def plan_survey(self, customer_id: str | None) -> SurveyPlan:
        return self._surveys.plan_survey(customer_id)

    def record_feedback(self, feedback: NewFeedback) -> int:
        return self._surveys.record_feedback(feedback)

    # ---- sentiment, value and profile -------------------------------------

    def sentiment_trend(self, customer_id: str, last: int = 10) -> SentimentTrend:
        return self._profiles.sentiment_trend(customer_id, last)

    def value(self, customer_id: str) -> CustomerValue:
        return self._profiles.value(customer_id)

    def profile(self, customer_id: str) -> CustomerProfile:
        return self._profiles.profile(customer_id)

    # ---- data rights ------------------------------------------------------

    def export(self, customer_id: str) -> dict[str, Any]:
        return self._data_rights.export(customer_id)

    def request_erasure(self, customer_id: str, current_sender: str | None = None) -> ErasureReceipt:
        return self._data_rights.request_erasure(customer_id, current_sender)
