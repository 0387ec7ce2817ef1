"""The analytics' tables: conversation counts of closed days, and per intent. On the CRM database's one metadata
(crm_adapter.sql.models.Base); migrations in crm_adapter/migrations/ create them.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import (
    Date,
    Float,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from crm_adapter.sql.models import Base


class AnalyticsDayRow(Base):
    """Conversation counts of one closed day, channel and value tier (analytics/summaries.py)."""

    __tablename__ = "analytics_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    channel: Mapped[str] = mapped_column(String(40), primary_key=True)
    tier: Mapped[str] = mapped_column(String(12), primary_key=True)
    conversations: Mapped[int] = mapped_column(Integer)
    ended: Mapped[int] = mapped_column(Integer)
    resolved_by_bot: Mapped[int] = mapped_column(Integer)
    handed_off: Mapped[int] = mapped_column(Integer)
    abandoned: Mapped[int] = mapped_column(Integer)
    with_fallback: Mapped[int] = mapped_column(Integer)
    sentiment_sum: Mapped[float] = mapped_column(Float)
    sentiment_count: Mapped[int] = mapped_column(Integer)


class AnalyticsIntentDayRow(Base):
    """Per intent: conversations, those with a fallback or handed off, and their ratings, of one closed day."""

    __tablename__ = "analytics_intent_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    channel: Mapped[str] = mapped_column(String(40), primary_key=True)
    tier: Mapped[str] = mapped_column(String(12), primary_key=True)
    intent: Mapped[str] = mapped_column(String(80), primary_key=True)
    conversations: Mapped[int] = mapped_column(Integer)
    with_fallback: Mapped[int] = mapped_column(Integer)
    handed_off: Mapped[int] = mapped_column(Integer)
    csat_sum: Mapped[float] = mapped_column(Float)  # CSAT ratings of these conversations: sum and count
    csat_count: Mapped[int] = mapped_column(Integer)
