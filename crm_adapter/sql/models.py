"""SQLAlchemy 2.x typed models of the CRM store. Schema changes go through Alembic only."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _ts() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=False), nullable=False)


class CustomerRow(Base):
    __tablename__ = "customers"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    first_name: Mapped[str] = mapped_column(String(80))
    last_name: Mapped[str] = mapped_column(String(80))
    email: Mapped[str] = mapped_column(String(254), unique=True)
    phone: Mapped[str | None] = mapped_column(String(20))
    address: Mapped[str | None] = mapped_column(String(300))
    loyalty_points: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = _ts()
    updated_at: Mapped[datetime] = _ts()
    # Advocacy: who recommended this customer to us (their referral counts towards the recommender's value).
    referred_by: Mapped[str | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"), index=True)
    # When the bot last asked for a rating or a recommendation score, or proposed contact preferences
    # (the frequency rules in relationship/service.py read these).
    csat_asked_at: Mapped[datetime | None] = mapped_column(DateTime)
    nps_asked_at: Mapped[datetime | None] = mapped_column(DateTime)
    preferences_proposed_at: Mapped[datetime | None] = mapped_column(DateTime)
    # The value score and tier as last computed for everyone (relationship.service.refresh_values);
    # the profile always computes them afresh.
    value_score: Mapped[float | None] = mapped_column(Float)
    value_tier: Mapped[str | None] = mapped_column(String(12), index=True)
    value_updated_at: Mapped[datetime | None] = mapped_column(DateTime)

    orders: Mapped[list[OrderRow]] = relationship(back_populates="customer")


class ChannelIdentityRow(Base):
    """A channel account (channel + sender id) proven to belong to a customer."""

    __tablename__ = "channel_identities"
    __table_args__ = (UniqueConstraint("channel", "sender_id", name="uq_channel_identities_channel_sender"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(40))
    sender_id: Mapped[str] = mapped_column(String(255))
    verified_at: Mapped[datetime] = _ts()
    last_seen_at: Mapped[datetime] = _ts()


class OrderRow(Base):
    __tablename__ = "orders"
    __table_args__ = (Index("ix_orders_customer_placed", "customer_id", "placed_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_number: Mapped[str] = mapped_column(String(16), unique=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(24))
    placed_at: Mapped[datetime] = _ts()
    expected_delivery: Mapped[datetime | None] = mapped_column(DateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime)
    total_cents: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3), default="GBP")
    carrier: Mapped[str | None] = mapped_column(String(40))
    tracking_number: Mapped[str | None] = mapped_column(String(40))

    customer: Mapped[CustomerRow] = relationship(back_populates="orders")
    items: Mapped[list[OrderItemRow]] = relationship(
        back_populates="order", order_by="OrderItemRow.id", cascade="all, delete-orphan"
    )


class OrderItemRow(Base):
    __tablename__ = "order_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    sku: Mapped[str] = mapped_column(String(24))
    name: Mapped[str] = mapped_column(String(120))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price_cents: Mapped[int] = mapped_column(Integer)

    order: Mapped[OrderRow] = relationship(back_populates="items")


class ReturnRow(Base):
    __tablename__ = "returns"
    __table_args__ = (Index("ix_returns_customer_created", "customer_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rma_number: Mapped[str] = mapped_column(String(16), unique=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(24))  # requested | received | refunded
    refund_cents: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = _ts()
    refunded_at: Mapped[datetime | None] = mapped_column(DateTime)


class TicketRow(Base):
    __tablename__ = "tickets"
    __table_args__ = (Index("ix_tickets_customer_created", "customer_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    reference: Mapped[str] = mapped_column(String(16), unique=True)
    customer_id: Mapped[str | None] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"), index=True)
    kind: Mapped[str] = mapped_column(String(24))
    status: Mapped[str] = mapped_column(String(16))
    priority: Mapped[str] = mapped_column(String(8), default="normal")
    subject: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    channel: Mapped[str | None] = mapped_column(String(40))
    sender_id: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = _ts()
    updated_at: Mapped[datetime] = _ts()

    order: Mapped[OrderRow | None] = relationship()


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


class HistoryCheckpointRow(Base):
    """How far history ingestion has read one source; committed with the rows it produced."""

    __tablename__ = "history_checkpoints"

    source: Mapped[str] = mapped_column(String(200), primary_key=True)
    position: Mapped[str] = mapped_column(String(64))
    recent_keys: Mapped[list[str] | None] = mapped_column(JSON)  # keys of the last batch (broker redeliveries)
    events_ingested: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = _ts()


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


class OneTimeCodeRow(Base):
    __tablename__ = "one_time_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = _ts()
    expires_at: Mapped[datetime] = _ts()
    used_at: Mapped[datetime | None] = mapped_column(DateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)


class VerificationFailureRow(Base):
    """A wrong proof (order number or one-time code) given with a customer's email: too many in a while stop
    every verification of that customer for a while, however many conversations they are spread over
    (crm_adapter/rules.py, MAX_VERIFICATION_FAILURES)."""

    __tablename__ = "verification_failures"
    __table_args__ = (Index("ix_verification_failures_customer_at", "customer_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(8))  # order | code
    created_at: Mapped[datetime] = _ts()


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


class AgentRow(Base):
    """A person who signs in to the console: an `agent` (handoff conversations) or an `admin` (also analytics).
    Only a salted scrypt hash of the password is kept (handoff/agents.py)."""

    __tablename__ = "agents"
    __table_args__ = (CheckConstraint("role IN ('agent', 'admin')", name="role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(40), unique=True)
    display_name: Mapped[str] = mapped_column(String(80))
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(8))  # agent | admin
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[datetime] = _ts()


class AgentSessionRow(Base):
    """A signed-in console session. The token lives only in the agent's cookie; the row keeps its SHA-256."""

    __tablename__ = "agent_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = _ts()
    expires_at: Mapped[datetime] = _ts()
    last_seen_at: Mapped[datetime] = _ts()
    csrf_token: Mapped[str] = mapped_column(String(64))


class HandoffRow(Base):
    """A conversation handed to a person: waiting in the queue, taken by an agent, then resolved or handed back
    to the bot (handoff/service.py). `packet` is what the agent sees first: who, what they value, what
    happened, how they feel (taken when the handoff was asked for)."""

    __tablename__ = "handoffs"
    __table_args__ = (
        CheckConstraint("status IN ('waiting', 'assigned', 'resolved', 'returned', 'cancelled')", name="status"),
        Index("ix_handoffs_status_requested", "status", "requested_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    sender_id: Mapped[str] = mapped_column(String(255), index=True)
    channel: Mapped[str] = mapped_column(String(40))
    customer_id: Mapped[str | None] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(String(24))  # asked | fallbacks | negative_sentiment | vip_complaint
    status: Mapped[str] = mapped_column(String(12))
    tier: Mapped[str | None] = mapped_column(String(12))  # the customer's value tier when they asked
    tier_rank: Mapped[int] = mapped_column(Integer)  # queue priority: vip 3, high 2, standard 1, else 0
    requested_at: Mapped[datetime] = _ts()
    assigned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=False))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=False))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    packet: Mapped[dict[str, Any]] = mapped_column(JSON)
    tags: Mapped[list[str]] = mapped_column(JSON)
    close_note: Mapped[str | None] = mapped_column(Text)


class HandoffNoteRow(Base):
    """An agent's private note on a handoff: never shown to the customer."""

    __tablename__ = "handoff_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    handoff_id: Mapped[int] = mapped_column(ForeignKey("handoffs.id", ondelete="CASCADE"), index=True)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = _ts()


class HelpdeskDeliveryRow(Base):
    """The handoff packet on its way to an external helpdesk's webhook: written in the same transaction as the
    handoff, sent (and retried with backoff) by history ingestion's housekeeping (handoff/helpdesk.py)."""

    __tablename__ = "helpdesk_deliveries"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'delivered', 'failed')", name="status"),
        Index("ix_helpdesk_deliveries_status_next", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    handoff_id: Mapped[int] = mapped_column(ForeignKey("handoffs.id", ondelete="CASCADE"), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(12))
    attempts: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = _ts()
    next_attempt_at: Mapped[datetime] = _ts()
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=False))
    last_error: Mapped[str | None] = mapped_column(Text)
