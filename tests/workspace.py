"""The agent workspace's services on a test database, as the composition root builds them (hearth/container.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from audit.log import AuditLog
from handoff.agents import SqlAgentService
from handoff.desk import HandoffDesk
from handoff.service import OpeningHours, SqlHandoffService
from history.rows import ConversationRow, MessageRow
from history.timeline import SqlHistoryService
from relationship.privacy import subject_hash
from relationship.service import SqlRelationshipService
from tests.conftest import SqlCrm
from workspace.customers import CustomerDirectory

SECRET = "test-secret"  # the one tests.conftest.sql_crm_at gives the CRM service


def workspace_audit(crm: SqlCrm) -> AuditLog:
    return AuditLog(crm.sessions, erased_subject=lambda c: subject_hash(c, SECRET.encode()), clock=crm.clock)


def workspace_desk(crm: SqlCrm, handoffs: SqlHandoffService, agents: SqlAgentService) -> HandoffDesk:
    """The handoff desk an agent steps in through, open round the clock."""
    relationship = SqlRelationshipService(crm.sessions, secret=SECRET, clock=crm.clock)
    return HandoffDesk(handoffs, agents, OpeningHours.parse("always"), crm.service, relationship)


def workspace_directory(crm: SqlCrm) -> CustomerDirectory:
    relationship = SqlRelationshipService(crm.sessions, secret=SECRET, clock=crm.clock)
    return CustomerDirectory(crm.sessions, crm.service, relationship, SqlHistoryService(crm.sessions))


def add_conversation(
    sessions: sessionmaker[Session], customer_id: str, at: datetime, summary: str, said: str, answered: str
) -> int:
    """A past Telegram conversation of the customer's, resolved by the bot: what they said and the bot's answer."""
    with sessions.begin() as db:
        conv = ConversationRow(
            channel="telegram",
            sender_id=f"tg-{customer_id}",
            customer_id=customer_id,
            started_at=at,
            ended_at=at,
            outcome="resolved_by_bot",
            intents={"order_status": 1},
            summary=summary,
            message_count=2,
            customer_message_count=1,
        )
        db.add(conv)
        db.flush()
        db.add(MessageRow(conversation_id=conv.id, sender="customer", created_at=at, text=said))
        db.add(MessageRow(conversation_id=conv.id, sender="bot", created_at=at, text=answered))
        return conv.id
