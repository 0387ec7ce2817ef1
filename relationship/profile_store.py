"""What an agent sees of a customer, read from the CRM database: the sentiment trend over their recent
conversations, their value with its reasons, and the profile that gathers these with consents, preferences,
channels and counts."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_adapter.domain import CustomerProfile, SentimentTrend, TicketStatus
from crm_adapter.sql.mapping import to_customer
from crm_adapter.sql.models import ChannelIdentityRow, OrderRow, TicketRow
from history.rows import ConversationRow
from relationship import sentiment
from relationship.consent_store import consents_of
from relationship.preference_store import preferences_of
from relationship.store import Store, customer_row
from relationship.value import CustomerValue
from relationship.value_store import value_of


class ProfileStore(Store):
    def sentiment_trend(self, customer_id: str, last: int = 10) -> SentimentTrend:
        with self._uow() as s:
            customer_row(s, customer_id)
            return trend_of(s, customer_id, last)

    def value(self, customer_id: str) -> CustomerValue:
        with self._uow() as s:
            customer_row(s, customer_id)
            return value_of(s, customer_id, self._now())

    def profile(self, customer_id: str) -> CustomerProfile:
        with self._uow() as s:
            row = customer_row(s, customer_id)
            return CustomerProfile(
                customer=to_customer(row),
                value=value_of(s, customer_id, self._now()),
                consents=consents_of(s, customer_id),
                preferences=preferences_of(s, customer_id),
                sentiment=trend_of(s, customer_id, 10),
                channels=_channels(s, customer_id),
                conversations=_count(s, ConversationRow, ConversationRow.customer_id == customer_id),
                orders=_count(s, OrderRow, OrderRow.customer_id == customer_id),
                open_tickets=_count(
                    s, TicketRow, TicketRow.customer_id == customer_id, TicketRow.status != TicketStatus.RESOLVED.value
                ),
                loyalty_points=row.loyalty_points,
            )


def trend_of(s: Session, customer_id: str, last: int) -> SentimentTrend:
    """The average sentiment of the `last` conversations that have one, oldest first."""
    rows = s.execute(
        select(ConversationRow.sentiment_sum, ConversationRow.sentiment_count)
        .where(ConversationRow.customer_id == customer_id, ConversationRow.sentiment_count > 0)
        .order_by(ConversationRow.started_at.desc(), ConversationRow.id.desc())
        .limit(last)
    ).all()
    found = sentiment.trend([total / count for total, count in reversed(rows)])
    return SentimentTrend(found.points, found.average, found.label, found.direction)


def _channels(s: Session, customer_id: str) -> tuple[str, ...]:
    linked = s.scalars(select(ChannelIdentityRow.channel).where(ChannelIdentityRow.customer_id == customer_id))
    used = s.scalars(select(ConversationRow.channel).where(ConversationRow.customer_id == customer_id).distinct())
    return tuple(sorted(set(linked) | set(used)))


def _count(s: Session, model: Any, *where: Any) -> int:
    return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)
