"""Satisfaction (CSAT) and recommendation (NPS) surveys on the CRM database: when to ask, and the answers.

Frequency rules (given by the composition root from CSAT_MIN_HOURS and NPS_PERIOD_DAYS; the defaults below):
- CSAT is asked at most once per conversation (the bot keeps track) and, for a known customer,
  at most once per `csat_min_interval` (24 hours).
- NPS is asked only of known customers, at most once per `nps_period` (90 days), counted from
  the last time it was *asked*, answered or not.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from crm_adapter.domain import InvalidInput, NewFeedback, SurveyPlan
from crm_adapter.sql.models import CustomerRow
from crm_adapter.validation import clean_text
from history.rows import ConversationRow
from relationship import surveys
from relationship.rows import FeedbackRow
from relationship.store import Store, utcnow

CSAT_MIN_INTERVAL = timedelta(hours=24)
NPS_PERIOD = timedelta(days=90)


class SurveyStore(Store):
    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Callable[[], datetime] = utcnow,
        csat_min_interval: timedelta = CSAT_MIN_INTERVAL,
        nps_period: timedelta = NPS_PERIOD,
    ) -> None:
        super().__init__(sessions, clock)
        self.csat_min_interval = csat_min_interval
        self.nps_period = nps_period

    def plan_survey(self, customer_id: str | None) -> SurveyPlan:
        """Whether to ask CSAT (and NPS) now; marks what it plans as asked."""
        if not customer_id:
            return SurveyPlan(csat=True, nps=False)
        with self._uow() as s:
            customer = s.get(CustomerRow, customer_id)
            if customer is None:
                return SurveyPlan(csat=True, nps=False)
            now = self._now()
            csat = customer.csat_asked_at is None or now - customer.csat_asked_at >= self.csat_min_interval
            nps = csat and (customer.nps_asked_at is None or now - customer.nps_asked_at >= self.nps_period)
            if csat:
                customer.csat_asked_at = now
            if nps:
                customer.nps_asked_at = now
            return SurveyPlan(csat=csat, nps=nps)

    def record_feedback(self, feedback: NewFeedback) -> int:
        """Stores a score (with its comment); an unknown customer's is kept without the link."""
        if feedback.kind not in surveys.SCORE_RANGES:
            raise InvalidInput("kind", "Feedback is csat or nps.")
        low, high = surveys.SCORE_RANGES[feedback.kind]
        if feedback.score is None or not low <= feedback.score <= high:
            raise InvalidInput("score", f"A {feedback.kind.upper()} score is a whole number from {low} to {high}.")
        if feedback.resolution not in (None, "bot", "person"):
            raise InvalidInput("resolution", "Resolution is bot or person.")
        comment = " ".join(clean_text(feedback.comment or "").split())[:2000] or None
        with self._uow() as s:
            known = feedback.customer_id and s.get(CustomerRow, feedback.customer_id) is not None
            customer_id = feedback.customer_id if known else None
            conversation_id = None
            if feedback.sender_id:
                conversation_id = s.scalar(
                    select(func.max(ConversationRow.id)).where(ConversationRow.sender_id == feedback.sender_id)
                )
            row = FeedbackRow(
                customer_id=customer_id,
                conversation_id=conversation_id,
                kind=feedback.kind,
                score=int(feedback.score),
                comment=comment,
                created_at=self._now(),
                resolution=feedback.resolution if feedback.kind == "csat" else None,
                channel=(feedback.channel or None) and feedback.channel[:40],
                sender_id=(feedback.sender_id or None) and feedback.sender_id[:255],
            )
            s.add(row)
            s.flush()
            return row.id
