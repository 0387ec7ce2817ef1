"""The NLU review queue's table: customer messages the bot misunderstood, and what a person decided. On the CRM
database's one metadata (crm_adapter.sql.models.Base); migrations in crm_adapter/migrations/ create them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm_adapter.sql.models import Base, _ts
from history.rows import MessageRow


class NluReviewRow(Base):
    """A customer message the bot understood poorly, waiting for a person to say what it meant."""

    __tablename__ = "nlu_reviews"
    __table_args__ = (Index("ix_nlu_reviews_status_created", "status", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), unique=True)
    text: Mapped[str] = mapped_column(Text)
    predicted_intent: Mapped[str | None] = mapped_column(String(80))
    confidence: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16))  # pending | accepted | out_of_scope | dismissed
    intent: Mapped[str | None] = mapped_column(String(80))  # what a reviewer said it meant
    reviewer: Mapped[str | None] = mapped_column(String(80))
    created_at: Mapped[datetime] = _ts()
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)
    exported_at: Mapped[datetime | None] = mapped_column(DateTime)

    message: Mapped[MessageRow] = relationship()
