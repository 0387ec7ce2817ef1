"""The relationship history's tables: conversations, their messages, and ingestion's checkpoints. On the CRM database's
one metadata (crm_adapter.sql.models.Base); migrations in crm_adapter/migrations/ create them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm_adapter.sql.models import Base, _ts


class ConversationRow(Base):
    """One conversation (a Rasa session) on a channel; the relationship history's unit.

    Rows projected from Rasa's event log carry `session_key` (the key of the event that
    started the session); seeded history has none.
    """

    __tablename__ = "conversations"
    __table_args__ = (
        Index("ix_conversations_customer_started", "customer_id", "started_at"),
        Index("ix_conversations_sender_id", "sender_id", "id"),
        Index("ix_conversations_open", "ended_at", "last_event_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str | None] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(40))
    sender_id: Mapped[str] = mapped_column(String(255))
    started_at: Mapped[datetime] = _ts()
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)
    outcome: Mapped[str | None] = mapped_column(String(24))  # resolved_by_bot | handed_off | abandoned
    summary: Mapped[str | None] = mapped_column(Text)
    session_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    last_event_at: Mapped[datetime | None] = mapped_column(DateTime)
    message_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    customer_message_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    intents: Mapped[dict[str, int] | None] = mapped_column(JSON)  # intent -> count, in order of first use
    refs: Mapped[dict[str, list[str]] | None] = mapped_column(JSON)  # "orders" | "tickets" | "returns" -> refs
    active_loop: Mapped[str | None] = mapped_column(String(80))
    last_user_message_id: Mapped[int | None] = mapped_column(Integer)
    fallback_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_action: Mapped[str | None] = mapped_column(String(80))
    handed_off: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Sentiment of the customer's messages (VADER compound, -1 to 1): running sum and count, and the lowest.
    sentiment_sum: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    sentiment_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    sentiment_min: Mapped[float | None] = mapped_column(Float)

    messages: Mapped[list[MessageRow]] = relationship(
        back_populates="conversation", order_by="MessageRow.id", cascade="all, delete-orphan"
    )


class MessageRow(Base):
    """A customer, bot or agent message. Customer messages carry what the bot understood and did."""

    __tablename__ = "messages"
    __table_args__ = (Index("ix_messages_conversation_created", "conversation_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    sender: Mapped[str] = mapped_column(String(16))  # customer | bot | agent
    text: Mapped[str | None] = mapped_column(Text)
    intent: Mapped[str | None] = mapped_column(String(80))
    confidence: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = _ts()
    event_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    response: Mapped[str | None] = mapped_column(String(80))  # bot messages: the domain response sent
    actions: Mapped[list[str] | None] = mapped_column(JSON)  # customer messages: actions the bot then ran
    slots: Mapped[dict[str, object] | None] = mapped_column(JSON)  # customer messages: slots then set
    sentiment: Mapped[float | None] = mapped_column(Float)  # customer messages: VADER compound, -1 to 1

    conversation: Mapped[ConversationRow] = relationship(back_populates="messages")


class HistoryCheckpointRow(Base):
    """How far history ingestion has read one source; committed with the rows it produced."""

    __tablename__ = "history_checkpoints"

    source: Mapped[str] = mapped_column(String(200), primary_key=True)
    position: Mapped[str] = mapped_column(String(64))
    recent_keys: Mapped[list[str] | None] = mapped_column(JSON)  # keys of the last batch (broker redeliveries)
    events_ingested: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = _ts()
