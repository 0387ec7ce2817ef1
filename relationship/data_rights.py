"""The customer's data rights on the CRM database: the export of everything held about them (a versioned
JSON format) and erasure (relationship/privacy.py carries it out across every store)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from crm_adapter.domain import ErasureReceipt
from crm_adapter.sql.mapping import to_customer
from crm_adapter.sql.models import ChannelIdentityRow, CustomerRow, OrderRow, ReturnRow, TicketRow
from history.rows import ConversationRow, MessageRow
from knowledge.rows import QuestionRow
from relationship import privacy
from relationship.consent_store import consents_of
from relationship.preference_store import preferences_of
from relationship.rows import FeedbackRow
from relationship.store import Store, customer_row, utcnow
from relationship.value_store import value_of
from reviews.rows import ReviewRow

EXPORT_FORMAT = "hearth-customer-export/1"


def no_outbox(email: str) -> int:
    return 0


class DataRights(Store):
    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Callable[[], datetime] = utcnow,
        secret: str = "",
        remove_outbox: Callable[[str], int] = no_outbox,
    ) -> None:
        """`remove_outbox` deletes the development emails to an address (erasure); see crm_adapter.notify."""
        super().__init__(sessions, clock)
        self._secret = secret.encode()
        self._remove_outbox = remove_outbox

    def export(self, customer_id: str) -> dict[str, Any]:
        """Everything held about the customer, as JSON-ready data (the format is versioned)."""
        with self._uow() as s:
            row = customer_row(s, customer_id)
            return _jsonable(_export(s, row, self._now()))

    def request_erasure(self, customer_id: str, current_sender: str | None = None) -> ErasureReceipt:
        """Erases the customer from the CRM now; history ingestion finishes the job in the other stores."""
        with self._uow() as s:
            customer_row(s, customer_id)
            return privacy.erase_customer(
                s, customer_id, current_sender, self._now(), self._secret, self._remove_outbox
            )


# ---- the export ----------------------------------------------------------------------------------------------


def _export(s: Session, row: CustomerRow, now: datetime) -> dict[str, Any]:
    customer_id = row.id
    customer_value = value_of(s, customer_id, now)
    return {
        "format": EXPORT_FORMAT,
        "exported_at": now,
        "profile": asdict(to_customer(row)) | {"created_at": row.created_at},
        "consents": asdict(consents_of(s, customer_id)),
        "preferences": preferences_of(s, customer_id),
        "value": {
            "score": customer_value.score,
            "tier": customer_value.tier,
            "parts": [asdict(p) for p in customer_value.parts],
        },
        "channel_identities": [
            {"channel": c.channel, "sender_id": c.sender_id, "verified_at": c.verified_at}
            for c in s.scalars(select(ChannelIdentityRow).where(ChannelIdentityRow.customer_id == customer_id))
        ],
        "orders": _orders(s, customer_id),
        **_service(s, customer_id),
        "reviews": reviews_export(
            s.execute(
                select(ReviewRow, OrderRow.order_number)
                .join(OrderRow, OrderRow.id == ReviewRow.order_id)
                .where(ReviewRow.customer_id == customer_id)
                .order_by(ReviewRow.created_at, ReviewRow.id)
            ).tuples()
        ),
        "help_centre_questions": [
            {
                "asked_at": q.created_at,
                "text": q.text,
                "answered_from": q.slug if q.answered else None,
                "helpful": q.helpful,
            }  # fmt: skip
            for q in s.scalars(
                select(QuestionRow).where(QuestionRow.customer_id == customer_id).order_by(QuestionRow.created_at)
            )
        ],
        "conversations": _conversations(s, customer_id),
    }


def _orders(s: Session, customer_id: str) -> list[dict[str, Any]]:
    orders = s.scalars(
        select(OrderRow)
        .where(OrderRow.customer_id == customer_id)
        .options(selectinload(OrderRow.items))
        .order_by(OrderRow.placed_at)
    )
    return [
        {
            "order_number": o.order_number,
            "status": o.status,
            "placed_at": o.placed_at,
            "total_cents": o.total_cents,
            "currency": o.currency,
            "items": [{"sku": i.sku, "name": i.name, "quantity": i.quantity} for i in o.items],
        }
        for o in orders
    ]


def service_export(returns: Iterable[Any], tickets: Iterable[Any], feedback: Iterable[Any]) -> dict[str, list[Any]]:
    """The export's returns, tickets and feedback, from their rows (or records with the same fields)."""
    return {
        "returns": [
            {"rma_number": r.rma_number, "status": r.status, "reason": r.reason, "created_at": r.created_at}
            for r in returns
        ],
        "tickets": [
            {
                "reference": t.reference,
                "kind": t.kind,
                "status": t.status,
                "subject": t.subject,
                "description": t.description,
                "created_at": t.created_at,
            }
            for t in tickets
        ],
        "feedback": [
            {"kind": f.kind, "score": f.score, "comment": f.comment, "created_at": f.created_at} for f in feedback
        ],
    }


def reviews_export(reviews: Iterable[tuple[Any, str]]) -> list[dict[str, Any]]:
    """The export's product reviews, from (row or record, order number) pairs."""
    return [
        {
            "order_number": number,
            "sku": r.sku,
            "product_name": r.product_name,
            "stars": r.stars,
            "text": r.text,
            "published": r.published,
            "created_at": r.created_at,
            "updated_at": r.updated_at,
        }
        for r, number in reviews
    ]


def _service(s: Session, customer_id: str) -> dict[str, list[dict[str, Any]]]:
    """Returns, tickets and feedback."""
    return service_export(
        s.scalars(select(ReturnRow).where(ReturnRow.customer_id == customer_id)),
        s.scalars(select(TicketRow).where(TicketRow.customer_id == customer_id)),
        s.scalars(select(FeedbackRow).where(FeedbackRow.customer_id == customer_id)),
    )


def _conversations(s: Session, customer_id: str) -> list[dict[str, Any]]:
    conversations = s.scalars(
        select(ConversationRow)
        .where(ConversationRow.customer_id == customer_id)
        .options(selectinload(ConversationRow.messages))
        .order_by(ConversationRow.started_at, ConversationRow.id)
    )
    return [_conversation_export(c) for c in conversations]


def _conversation_export(c: ConversationRow) -> dict[str, Any]:
    return {
        "channel": c.channel,
        "started_at": c.started_at,
        "ended_at": c.ended_at,
        "outcome": c.outcome,
        "summary": c.summary,
        "sentiment": round(c.sentiment_sum / c.sentiment_count, 3) if c.sentiment_count else None,
        "messages": [_message_export(m) for m in c.messages],
    }


def _message_export(m: MessageRow) -> dict[str, Any]:
    return {"sender": m.sender, "text": m.text, "sent_at": m.created_at, "intent": m.intent, "sentiment": m.sentiment}


def _jsonable(value_: Any) -> Any:
    if isinstance(value_, datetime):
        return value_.isoformat() + "Z"
    if isinstance(value_, dict):
        return {str(k): _jsonable(v) for k, v in value_.items()}
    if isinstance(value_, (list, tuple)):
        return [_jsonable(v) for v in value_]
    return value_
