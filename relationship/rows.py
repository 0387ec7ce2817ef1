"""The relationship's tables: feedback (CSAT, NPS), consent per purpose, preferences and privacy jobs. On the CRM
database's one metadata (crm_adapter.sql.models.Base); migrations in crm_adapter/migrations/ create them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from crm_adapter.sql.models import Base, _ts


class FeedbackRow(Base):
    """What a customer told us about us: CSAT, NPS or a free comment."""

    __tablename__ = "feedback"
    __table_args__ = (Index("ix_feedback_customer_created", "customer_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str | None] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id", ondelete="SET NULL"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # csat | nps | comment
    score: Mapped[int | None] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _ts()
    resolution: Mapped[str | None] = mapped_column(String(8))  # csat: who resolved it, "bot" | "person"
    channel: Mapped[str | None] = mapped_column(String(40))
    sender_id: Mapped[str | None] = mapped_column(String(255), index=True)  # anonymous feedback: erasable by sender


class ConsentRow(Base):
    __tablename__ = "consents"
    __table_args__ = (UniqueConstraint("customer_id", "purpose", name="uq_consents_customer_purpose"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(24))  # history | service | marketing
    granted: Mapped[bool] = mapped_column(Boolean)
    source: Mapped[str] = mapped_column(String(40))
    updated_at: Mapped[datetime] = _ts()


class PreferenceRow(Base):
    __tablename__ = "preferences"
    __table_args__ = (UniqueConstraint("customer_id", "key", name="uq_preferences_customer_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(32))  # channel | time_of_day | language | tone | frequency
    value: Mapped[str] = mapped_column(String(80))
    confirmed: Mapped[bool] = mapped_column(Boolean, default=False)  # only confirmed rows are ever written
    source: Mapped[str] = mapped_column(String(16), default="customer", server_default="customer")
    updated_at: Mapped[datetime] = _ts()


class PrivacyJobRow(Base):
    """Work on stores outside this transaction (Rasa's tracker store) that a privacy decision needs:
    `erase` (a customer asked to be forgotten) or `redact` (conversations of a customer who does not want
    them remembered). History ingestion carries jobs out once it has read the log past `requested_at`.
    Until a job is done it names the customer and their sender ids; afterwards only a keyed hash
    remains, so the business can show the request was honoured without keeping who made it."""

    __tablename__ = "privacy_jobs"
    __table_args__ = (Index("ix_privacy_jobs_status_requested", "status", "requested_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(8))  # erase | redact
    status: Mapped[str] = mapped_column(String(8))  # pending | done
    customer_id: Mapped[str | None] = mapped_column(String(32))  # cleared when done
    sender_ids: Mapped[list[str] | None] = mapped_column(JSON(none_as_null=True))  # cleared when done
    up_to: Mapped[datetime | None] = mapped_column(DateTime)  # redact: events up to then; None: past sessions
    subject_hash: Mapped[str] = mapped_column(String(64))
    requested_at: Mapped[datetime] = _ts()
    completed_at: Mapped[datetime | None] = mapped_column(DateTime)
    removed: Mapped[dict[str, int] | None] = mapped_column(JSON)  # rows removed or redacted, per store
