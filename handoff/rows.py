"""Handoff's tables: console accounts and sessions, handoffs with their notes, and the helpdesk outbox. On the CRM
database's one metadata (crm_adapter.sql.models.Base); migrations in crm_adapter/migrations/ create them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from crm_adapter.sql.models import Base, _ts


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
    # how many conversations auto-assignment gives this agent at once (0: none; they can still take one)
    capacity: Mapped[int] = mapped_column(Integer, default=3, server_default="3")


class AgentSessionRow(Base):
    """A signed-in console session. The token lives only in the agent's cookie; the row keeps its SHA-256."""

    __tablename__ = "agent_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = _ts()
    expires_at: Mapped[datetime] = _ts()
    last_seen_at: Mapped[datetime] = _ts()
    csrf_token: Mapped[str] = mapped_column(String(64))


class ConsoleLoginFailureRow(Base):
    """A wrong password at the console's sign-in, counted per key (`user:<username>` and `addr:<client address>`)
    to throttle guessing; rows older than the throttling window are deleted (handoff/agents.py)."""

    __tablename__ = "console_login_failures"
    __table_args__ = (Index("ix_console_login_failures_key_at", "key", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = _ts()


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
    reason: Mapped[str] = mapped_column(String(24))  # one of handoff/service.py's REASONS
    status: Mapped[str] = mapped_column(String(12))
    tier: Mapped[str | None] = mapped_column(String(12))  # the customer's value tier when they asked
    tier_rank: Mapped[int] = mapped_column(Integer)  # queue priority: vip 3, high 2, standard 1, else 0
    requested_at: Mapped[datetime] = _ts()
    assigned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=False))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=False))
    first_response_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=False))  # the agent's first reply
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
