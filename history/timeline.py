"""Reading a customer's relationship history: one chronological, paginated timeline.

The timeline merges conversations, tickets, returns, orders, feedback and product reviews, newest first.
Pages are cut with a keyset cursor (timestamp, kind, row id), so a page costs one
indexed range scan per kind whatever the customer's history length, and entries added
while someone pages never shift or repeat what they see.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session, sessionmaker

from crm_adapter.domain import (
    ConversationDetail,
    HistoryMessage,
    InvalidInput,
    NotFound,
    TimelineEntry,
    TimelinePage,
)
from crm_adapter.sql.db import unavailable_as_crm_error
from crm_adapter.sql.models import CustomerRow, OrderRow, ReturnRow, TicketRow
from history.projector import OUTCOME_LABELS
from history.rows import ConversationRow, MessageRow
from relationship.rows import FeedbackRow
from reviews.rows import ReviewRow

MAX_PAGE = 100


@dataclass(frozen=True)
class _Kind:
    rank: int  # breaks ties between kinds at the same instant
    row_id: InstrumentedAttribute[int]
    at: InstrumentedAttribute[datetime]
    customer: InstrumentedAttribute[Any]
    query: Callable[[], Select[Any]]
    entry: Callable[[Any], TimelineEntry]


# How a conversation's channel (Rasa's connector name) reads on the timeline
CHANNEL_LABELS = {
    "socketio": "web chat",
    "rest": "the REST API",
    "telegram": "Telegram",
    "slack": "Slack",
    "twilio": "WhatsApp/SMS",
    "facebook": "Messenger",
}


def _conversation(row: ConversationRow) -> TimelineEntry:
    outcome = OUTCOME_LABELS.get(row.outcome or "", "open")
    channel = CHANNEL_LABELS.get(row.channel, row.channel)
    return TimelineEntry(
        kind="conversation",
        reference=str(row.id),
        occurred_at=row.started_at,
        title=f"Conversation on {channel} ({outcome})",
        detail={
            "channel": row.channel,
            "ended_at": row.ended_at,
            "outcome": row.outcome,
            "summary": row.summary,
            "message_count": row.message_count,
            "intents": dict(row.intents or {}),
            "references": dict(row.refs or {}),
        },
    )


def _ticket(row: TicketRow) -> TimelineEntry:
    return TimelineEntry(
        kind="ticket",
        reference=row.reference,
        occurred_at=row.created_at,
        title=row.subject,
        detail={"kind": row.kind, "status": row.status, "priority": row.priority, "channel": row.channel},
    )


def _return(pair: Any) -> TimelineEntry:
    row, order_number = pair
    return TimelineEntry(
        kind="return",
        reference=row.rma_number,
        occurred_at=row.created_at,
        title=f"Return of order {order_number}",
        detail={"order_number": order_number, "status": row.status, "refund_cents": row.refund_cents},
    )


def _order(row: OrderRow) -> TimelineEntry:
    return TimelineEntry(
        kind="order",
        reference=row.order_number,
        occurred_at=row.placed_at,
        title=f"Order {row.order_number}",
        detail={"status": row.status, "total_cents": row.total_cents, "currency": row.currency},
    )


def _feedback(row: FeedbackRow) -> TimelineEntry:
    label = {"csat": "Satisfaction", "nps": "Recommendation score"}.get(row.kind, "Feedback")
    scale = {"csat": "/5", "nps": "/10"}.get(row.kind, "")
    resolved = {"bot": " (resolved by the bot)", "person": " (resolved by a person)"}.get(row.resolution or "", "")
    return TimelineEntry(
        kind="feedback",
        reference=str(row.id),
        occurred_at=row.created_at,
        title=label + (f": {row.score}{scale}" if row.score is not None else "") + resolved,
        detail={
            "kind": row.kind,
            "score": row.score,
            "comment": row.comment,
            "resolution": row.resolution,
            "conversation_id": row.conversation_id,
        },
    )


def _review(pair: Any) -> TimelineEntry:
    row, order_number = pair
    shown = "shown on the website" if row.published else "not shown publicly"
    return TimelineEntry(
        kind="review",
        reference=str(row.id),
        occurred_at=row.updated_at,
        title=f"Review of {row.product_name}: {row.stars}/5 ({shown})",
        detail={
            "sku": row.sku,
            "order_number": order_number,
            "stars": row.stars,
            "text": row.text,
            "published": row.published,
            "created_at": row.created_at.isoformat() + "Z",
        },
    )


KINDS = (
    _Kind(6, ReviewRow.id, ReviewRow.updated_at, ReviewRow.customer_id,
          lambda: select(ReviewRow, OrderRow.order_number).join(OrderRow, OrderRow.id == ReviewRow.order_id), _review),
    _Kind(5, ConversationRow.id, ConversationRow.started_at, ConversationRow.customer_id,
          lambda: select(ConversationRow), _conversation),
    _Kind(4, TicketRow.id, TicketRow.created_at, TicketRow.customer_id, lambda: select(TicketRow), _ticket),
    _Kind(3, ReturnRow.id, ReturnRow.created_at, ReturnRow.customer_id,
          lambda: select(ReturnRow, OrderRow.order_number).join(OrderRow, OrderRow.id == ReturnRow.order_id), _return),
    _Kind(2, OrderRow.id, OrderRow.placed_at, OrderRow.customer_id, lambda: select(OrderRow), _order),
    _Kind(1, FeedbackRow.id, FeedbackRow.created_at, FeedbackRow.customer_id,
          lambda: select(FeedbackRow), _feedback),
)  # fmt: skip


def encode_cursor(*parts: Any) -> str:
    raw = json.dumps([p.isoformat() if isinstance(p, datetime) else p for p in parts], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, shape: tuple[type, ...]) -> list[Any]:
    """Parts of a cursor, checked against `shape` (datetime parts come back as datetimes)."""
    try:
        parts = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(parts, list) or len(parts) != len(shape):
            raise ValueError("wrong shape")
        out: list[Any] = []
        for part, kind in zip(parts, shape, strict=True):
            if kind is datetime:
                out.append(datetime.fromisoformat(part))
            elif not isinstance(part, kind) or isinstance(part, bool):
                raise ValueError("wrong part")
            else:
                out.append(part)
        return out
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput("cursor", "That page cursor is not valid; start again without it.") from None


class SqlHistoryService:
    """Reads the relationship history from the CRM's SQL database."""

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._sessions = session_factory

    @contextmanager
    def _read(self) -> Iterator[Session]:
        with unavailable_as_crm_error(), self._sessions() as session:
            yield session

    def timeline(self, customer_id: str, cursor: str | None = None, limit: int = 20) -> TimelinePage:
        limit = max(1, min(int(limit), MAX_PAGE))
        after = decode_cursor(cursor, (datetime, int, int)) if cursor else None
        with self._read() as s:
            if s.get(CustomerRow, customer_id) is None:
                raise NotFound(f"customer {customer_id}")
            candidates: list[tuple[tuple[datetime, int, int], TimelineEntry]] = []
            for kind in KINDS:
                query = kind.query().where(kind.customer == customer_id)
                if after is not None:
                    query = query.where(_older_than(kind, *after))
                query = query.order_by(kind.at.desc(), kind.row_id.desc()).limit(limit + 1)
                rows = s.execute(query).all()
                for row in rows:
                    record = row[0] if len(row) == 1 else tuple(row)
                    main = record[0] if isinstance(record, tuple) else record
                    candidates.append(((getattr(main, kind.at.key), kind.rank, main.id), kind.entry(record)))
        candidates.sort(key=lambda c: c[0], reverse=True)
        page = candidates[:limit]
        next_cursor = encode_cursor(*page[-1][0]) if len(candidates) > limit else None
        return TimelinePage(customer_id, tuple(entry for _, entry in page), next_cursor)

    def conversation(
        self, customer_id: str, conversation_id: int, cursor: str | None = None, limit: int = 50
    ) -> ConversationDetail:
        return self._conversation(conversation_id, customer_id, cursor, limit)

    def any_conversation(self, conversation_id: int, cursor: str | None = None, limit: int = 50) -> ConversationDetail:
        """Any conversation, whoever it belongs to: for the team's console only, never for a customer."""
        return self._conversation(conversation_id, None, cursor, limit)

    def _conversation(
        self, conversation_id: int, customer_id: str | None, cursor: str | None, limit: int
    ) -> ConversationDetail:
        limit = max(1, min(int(limit), MAX_PAGE))
        after = decode_cursor(cursor, (datetime, int)) if cursor else None
        with self._read() as s:
            conv = s.get(ConversationRow, conversation_id)
            if conv is None or (customer_id is not None and conv.customer_id != customer_id):
                raise NotFound(f"conversation {conversation_id}")  # also when it is someone else's
            query = select(MessageRow).where(MessageRow.conversation_id == conversation_id)
            if after is not None:
                at, row_id = after
                query = query.where(
                    MessageRow.created_at >= at, or_(MessageRow.created_at > at, MessageRow.id > row_id)
                )
            rows = s.scalars(query.order_by(MessageRow.created_at, MessageRow.id).limit(limit + 1)).all()
            more = len(rows) > limit
            rows = rows[:limit]
            return ConversationDetail(
                conversation_id=conv.id,
                customer_id=conv.customer_id,
                channel=conv.channel,
                started_at=conv.started_at,
                ended_at=conv.ended_at,
                outcome=conv.outcome,
                summary=conv.summary,
                intents=dict(conv.intents or {}),
                references=dict(conv.refs or {}),
                message_count=conv.message_count,
                messages=tuple(_message(m) for m in rows),
                next_cursor=encode_cursor(rows[-1].created_at, rows[-1].id) if more else None,
            )


def _older_than(kind: _Kind, at: datetime, rank: int, row_id: int) -> ColumnElement[bool]:
    """Rows of `kind` that sort after the cursor in (time, kind rank, id) descending order."""
    if kind.rank < rank:
        return kind.at <= at
    if kind.rank > rank:
        return kind.at < at
    # The leading `<=` is redundant for the result but lets the (customer_id, time) index bound the scan.
    return and_(kind.at <= at, or_(kind.at < at, kind.row_id < row_id))


def _message(row: MessageRow) -> HistoryMessage:
    return HistoryMessage(
        sender=row.sender,
        text=row.text,
        sent_at=row.created_at,
        intent=row.intent,
        confidence=row.confidence,
        response=row.response,
        actions=tuple(row.actions or ()),
        slots=dict(row.slots or {}),
    )
