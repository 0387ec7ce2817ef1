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

from crm_adapter.domain import NewFeedback, SurveyPlan
from crm_adapter.sql.models import CustomerRow
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
            plan = surveys.due(
                customer.csat_asked_at, customer.nps_asked_at, now, self.csat_min_interval, self.nps_period
            )
            if plan.csat:
                customer.csat_asked_at = now
            if plan.nps:
                customer.nps_asked_at = now
            return plan

    def record_feedback(self, feedback: NewFeedback) -> int:
        """Stores a score (with its comment); an unknown customer's is kept without the link."""
        comment = surveys.checked_comment(feedback)
        assert feedback.score is not None  # checked
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
