"""The relationship layer on the CRM database: consent per purpose, contact preferences (stated and
observed), satisfaction and recommendation surveys with their frequency rules, sentiment trend,
customer value, and the customer's data rights (summary, export, erasure).

Frequency rules (given by the composition root from CSAT_MIN_HOURS, NPS_PERIOD_DAYS and
PREFERENCE_PROPOSAL_DAYS; the defaults below):
- CSAT is asked at most once per conversation (the bot keeps track) and, for a known customer,
  at most once per `csat_min_interval` (24 hours).
- NPS is asked only of known customers, at most once per `nps_period` (90 days), counted from
  the last time it was *asked*, answered or not.
- Observed preferences are proposed at most once per `proposal_interval` (30 days).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session, selectinload, sessionmaker

from crm_adapter.domain import (
    OPEN_ORDER_STATUSES,
    PURPOSES,
    Consents,
    CustomerProfile,
    ErasureReceipt,
    InvalidInput,
    NewFeedback,
    NotFound,
    OrderStatus,
    PreferenceProposal,
    SentimentTrend,
    SurveyPlan,
    TicketStatus,
)
from crm_adapter.sql.db import unavailable_as_crm_error
from crm_adapter.sql.mapping import to_customer
from crm_adapter.sql.models import ChannelIdentityRow, CustomerRow, OrderRow, ReturnRow, TicketRow
from crm_adapter.validation import clean_text
from history.rows import ConversationRow, MessageRow
from relationship import preferences as prefs
from relationship import privacy, sentiment, surveys, value
from relationship.rows import ConsentRow, FeedbackRow, PreferenceRow

SPEND_STATUSES = tuple(s.value for s in OPEN_ORDER_STATUSES | {OrderStatus.DELIVERED, OrderStatus.RETURNED})
EXPORT_FORMAT = "hearth-customer-export/1"


CSAT_MIN_INTERVAL = timedelta(hours=24)
NPS_PERIOD = timedelta(days=90)
PROPOSAL_INTERVAL = timedelta(days=30)


def _no_outbox(email: str) -> int:
    return 0


class SqlRelationshipService:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        secret: str = "",
        clock: Callable[[], datetime] | None = None,
        csat_min_interval: timedelta = CSAT_MIN_INTERVAL,
        nps_period: timedelta = NPS_PERIOD,
        proposal_interval: timedelta = PROPOSAL_INTERVAL,
        remove_outbox: Callable[[str], int] = _no_outbox,
    ) -> None:
        """`remove_outbox` deletes the development emails to an address (erasure); see crm_adapter.notify."""
        self._sessions = sessions
        self._secret = secret.encode()
        self._now = clock or (lambda: datetime.utcnow().replace(microsecond=0))
        self.csat_min_interval = csat_min_interval
        self.nps_period = nps_period
        self.proposal_interval = proposal_interval
        self._remove_outbox = remove_outbox

    @contextmanager
    def _uow(self) -> Iterator[Session]:
        with unavailable_as_crm_error(), self._sessions() as s, s.begin():
            yield s

    @staticmethod
    def _customer_row(s: Session, customer_id: str) -> CustomerRow:
        row = s.get(CustomerRow, customer_id) if customer_id else None
        if row is None:
            raise NotFound(f"customer {customer_id}")
        return row

    # ---- consent ----------------------------------------------------------

    def consents(self, customer_id: str) -> Consents:
        with self._uow() as s:
            self._customer_row(s, customer_id)
            return _consents(s, customer_id)

    def set_consent(self, customer_id: str, purpose: str, granted: bool, source: str = "chat") -> Consents:
        """Records the answer; refusing `history` also removes what was kept (relationship/privacy.py)."""
        if purpose not in PURPOSES:
            raise InvalidInput("purpose", f"Purpose must be one of {', '.join(PURPOSES)}.")
        with self._uow() as s:
            self._customer_row(s, customer_id)
            now = self._now()
            row = s.scalar(
                select(ConsentRow).where(ConsentRow.customer_id == customer_id, ConsentRow.purpose == purpose)
            )
            if row is None:
                row = ConsentRow(customer_id=customer_id, purpose=purpose, granted=bool(granted), source=source[:40])
                s.add(row)
            row.granted, row.source, row.updated_at = bool(granted), source[:40], now
            s.flush()
            if purpose == "history" and not granted:
                privacy.forget_history(s, customer_id, now)
            return _consents(s, customer_id)

    # ---- preferences ------------------------------------------------------

    def preferences(self, customer_id: str) -> dict[str, str]:
        with self._uow() as s:
            self._customer_row(s, customer_id)
            return _preferences(s, customer_id)

    def set_preferences(self, customer_id: str, values: dict[str, str], source: str = "customer") -> dict[str, str]:
        for key, val in values.items():
            if not prefs.valid(key, val):
                raise InvalidInput(key, f"{val!r} is not a {prefs.LABELS.get(key, key)} we can use.")
        with self._uow() as s:
            self._customer_row(s, customer_id)
            now = self._now()
            for key, val in values.items():
                row = s.scalar(
                    select(PreferenceRow).where(PreferenceRow.customer_id == customer_id, PreferenceRow.key == key)
                )
                if row is None:
                    row = PreferenceRow(customer_id=customer_id, key=key)
                    s.add(row)
                row.value, row.confirmed, row.source, row.updated_at = val, True, source, now
            s.flush()
            return _preferences(s, customer_id)

    def propose_preferences(self, customer_id: str) -> PreferenceProposal | None:
        """What the history shows and the customer has not confirmed, if the evidence is strong enough and
        nothing was proposed lately. Marks the proposal as made; stores nothing else."""
        with self._uow() as s:
            customer = self._customer_row(s, customer_id)
            now = self._now()
            if customer.preferences_proposed_at and now - customer.preferences_proposed_at < self.proposal_interval:
                return None
            rows = s.execute(
                select(ConversationRow.channel, ConversationRow.sender_id, ConversationRow.started_at)
                .where(ConversationRow.customer_id == customer_id, ConversationRow.customer_message_count > 0)
                .order_by(ConversationRow.started_at.desc())
                .limit(50)
            ).all()
            known = _preferences(s, customer_id)
            observed = [o for o in prefs.observe([tuple(r) for r in rows]) if known.get(o.key) != o.value]
            if not observed:
                return None
            customer.preferences_proposed_at = now
            return PreferenceProposal({o.key: o.value for o in observed}, prefs.describe(observed))

    # ---- surveys ----------------------------------------------------------

    def plan_survey(self, customer_id: str | None) -> SurveyPlan:
        """Whether to ask CSAT (and NPS) now; marks what it plans as asked."""
        if not customer_id:
            return SurveyPlan(csat=True, nps=False)
        with self._uow() as s:
            customer = s.get(CustomerRow, customer_id)
            if customer is None:
                return SurveyPlan(csat=True, nps=False)
            now = self._now()
            csat = customer.csat_asked_at is None or now - customer.csat_asked_at >= self.csat_min_interval
            nps = csat and (customer.nps_asked_at is None or now - customer.nps_asked_at >= self.nps_period)
            if csat:
                customer.csat_asked_at = now
            if nps:
                customer.nps_asked_at = now
            return SurveyPlan(csat=csat, nps=nps)

    def record_feedback(self, feedback: NewFeedback) -> int:
        if feedback.kind not in surveys.SCORE_RANGES:
            raise InvalidInput("kind", "Feedback is csat or nps.")
        low, high = surveys.SCORE_RANGES[feedback.kind]
        if feedback.score is None or not low <= feedback.score <= high:
            raise InvalidInput("score", f"A {feedback.kind.upper()} score is a whole number from {low} to {high}.")
        if feedback.resolution not in (None, "bot", "person"):
            raise InvalidInput("resolution", "Resolution is bot or person.")
        comment = " ".join(clean_text(feedback.comment or "").split())[:2000] or None
        with self._uow() as s:
            known = feedback.customer_id and s.get(CustomerRow, feedback.customer_id) is not None
            customer_id = feedback.customer_id if known else None
            conversation_id = None
            if feedback.sender_id:
                conversation_id = s.scalar(
                    select(func.max(ConversationRow.id)).where(ConversationRow.sender_id == feedback.sender_id)
                )
            row = FeedbackRow(
                customer_id=customer_id,
                conversation_id=conversation_id,
                kind=feedback.kind,
                score=int(feedback.score),
                comment=comment,
                created_at=self._now(),
                resolution=feedback.resolution if feedback.kind == "csat" else None,
                channel=(feedback.channel or None) and feedback.channel[:40],
                sender_id=(feedback.sender_id or None) and feedback.sender_id[:255],
            )
            s.add(row)
            s.flush()
            return row.id

    # ---- sentiment and value ---------------------------------------------

    def sentiment_trend(self, customer_id: str, last: int = 10) -> SentimentTrend:
        with self._uow() as s:
            self._customer_row(s, customer_id)
            return _trend(s, customer_id, last)

    def value(self, customer_id: str) -> value.CustomerValue:
        with self._uow() as s:
            self._customer_row(s, customer_id)
            return _value(s, customer_id, self._now())

    def profile(self, customer_id: str) -> CustomerProfile:
        with self._uow() as s:
            row = self._customer_row(s, customer_id)
            now = self._now()
            return CustomerProfile(
                customer=to_customer(row),
                value=_value(s, customer_id, now),
                consents=_consents(s, customer_id),
                preferences=_preferences(s, customer_id),
                sentiment=_trend(s, customer_id, 10),
                channels=_channels(s, customer_id),
                conversations=_count(s, ConversationRow, ConversationRow.customer_id == customer_id),
                orders=_count(s, OrderRow, OrderRow.customer_id == customer_id),
                open_tickets=_count(
                    s, TicketRow, TicketRow.customer_id == customer_id, TicketRow.status != TicketStatus.RESOLVED.value
                ),
                loyalty_points=row.loyalty_points,
            )

    # ---- data rights ------------------------------------------------------

    def export(self, customer_id: str) -> dict[str, Any]:
        """Everything held about the customer, as JSON-ready data (the format is versioned)."""
        with self._uow() as s:
            row = self._customer_row(s, customer_id)
            now = self._now()
            conversations = list(
                s.scalars(
                    select(ConversationRow)
                    .where(ConversationRow.customer_id == customer_id)
                    .options(selectinload(ConversationRow.messages))
                    .order_by(ConversationRow.started_at, ConversationRow.id)
                )
            )
            orders = list(
                s.scalars(
                    select(OrderRow)
                    .where(OrderRow.customer_id == customer_id)
                    .options(selectinload(OrderRow.items))
                    .order_by(OrderRow.placed_at)
                )
            )
            customer_value = _value(s, customer_id, now)
            return _jsonable(
                {
                    "format": EXPORT_FORMAT,
                    "exported_at": now,
                    "profile": asdict(to_customer(row)) | {"created_at": row.created_at},
                    "consents": asdict(_consents(s, customer_id)),
                    "preferences": _preferences(s, customer_id),
                    "value": {
                        "score": customer_value.score,
                        "tier": customer_value.tier,
                        "parts": [asdict(p) for p in customer_value.parts],
                    },
                    "channel_identities": [
                        {"channel": c.channel, "sender_id": c.sender_id, "verified_at": c.verified_at}
                        for c in s.scalars(
                            select(ChannelIdentityRow).where(ChannelIdentityRow.customer_id == customer_id)
                        )
                    ],
                    "orders": [
                        {
                            "order_number": o.order_number,
                            "status": o.status,
                            "placed_at": o.placed_at,
                            "total_cents": o.total_cents,
                            "currency": o.currency,
                            "items": [{"sku": i.sku, "name": i.name, "quantity": i.quantity} for i in o.items],
                        }
                        for o in orders
                    ],
                    "returns": [
                        {"rma_number": r.rma_number, "status": r.status, "reason": r.reason, "created_at": r.created_at}
                        for r in s.scalars(select(ReturnRow).where(ReturnRow.customer_id == customer_id))
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
                        for t in s.scalars(select(TicketRow).where(TicketRow.customer_id == customer_id))
                    ],
                    "feedback": [
                        {"kind": f.kind, "score": f.score, "comment": f.comment, "created_at": f.created_at}
                        for f in s.scalars(select(FeedbackRow).where(FeedbackRow.customer_id == customer_id))
                    ],
                    "conversations": [_conversation_export(c) for c in conversations],
                }
            )

    def request_erasure(self, customer_id: str, current_sender: str | None = None) -> ErasureReceipt:
        """Erases the customer from the CRM now; history ingestion finishes the job in the other stores."""
        with self._uow() as s:
            self._customer_row(s, customer_id)
            return privacy.erase_customer(
                s, customer_id, current_sender, self._now(), self._secret, self._remove_outbox
            )


# ---- helpers -----------------------------------------------------------------


def _consents(s: Session, customer_id: str) -> Consents:
    rows = s.execute(select(ConsentRow.purpose, ConsentRow.granted).where(ConsentRow.customer_id == customer_id)).all()
    return Consents(**{purpose: granted for purpose, granted in rows if purpose in PURPOSES})


def _preferences(s: Session, customer_id: str) -> dict[str, str]:
    rows = s.execute(
        select(PreferenceRow.key, PreferenceRow.value)
        .where(PreferenceRow.customer_id == customer_id, PreferenceRow.confirmed.is_(True))
        .order_by(PreferenceRow.key)
    ).all()
    return {key: val for key, val in rows}


def _trend(s: Session, customer_id: str, last: int) -> SentimentTrend:
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


def _value(s: Session, customer_id: str, now: datetime) -> value.CustomerValue:
    return value.compute(value_facts(s, now, [customer_id])[customer_id], now)


def value_facts(s: Session, now: datetime, customer_ids: list[str] | None = None) -> dict[str, value.ValueFacts]:
    """What the value score is computed from, for these customers (all when None), in one query per source."""

    def only(column: Any) -> list[Any]:
        return [column.in_(customer_ids)] if customer_ids is not None else []

    two_years, one_year = now - timedelta(days=730), now - timedelta(days=365)
    ids = customer_ids if customer_ids is not None else list(s.scalars(select(CustomerRow.id)))
    spend: dict[str, tuple[int, int]] = {
        cid: (int(total), int(n))
        for cid, total, n in s.execute(
            select(OrderRow.customer_id, func.sum(OrderRow.total_cents), func.count(OrderRow.id))
            .where(OrderRow.status.in_(SPEND_STATUSES), OrderRow.placed_at >= two_years, *only(OrderRow.customer_id))
            .group_by(OrderRow.customer_id)
        )
    }
    refunded: dict[str, int] = {
        cid: int(total)
        for cid, total in s.execute(
            select(ReturnRow.customer_id, func.sum(ReturnRow.refund_cents))
            .where(ReturnRow.status == "refunded", ReturnRow.created_at >= two_years, *only(ReturnRow.customer_id))
            .group_by(ReturnRow.customer_id)
        )
    }
    contact: dict[str, tuple[int, datetime]] = {
        cid: (int(recent or 0), last)
        for cid, recent, last in s.execute(
            select(
                ConversationRow.customer_id,
                func.sum(case((ConversationRow.started_at >= one_year, 1), else_=0)),
                func.max(ConversationRow.started_at),
            )
            .where(ConversationRow.customer_id.is_not(None), *only(ConversationRow.customer_id))
            .group_by(ConversationRow.customer_id)
        )
    }
    latest_nps: dict[str, int] = {}
    for cid, score in s.execute(
        select(FeedbackRow.customer_id, FeedbackRow.score)
        .where(FeedbackRow.kind == "nps", FeedbackRow.score.is_not(None), *only(FeedbackRow.customer_id))
        .order_by(FeedbackRow.customer_id, FeedbackRow.created_at, FeedbackRow.id)
    ):
        latest_nps[cid] = int(score)  # ordered oldest first: the last one wins
    csat: dict[str, float] = {
        cid: round(float(mean), 2)
        for cid, mean in s.execute(
            select(FeedbackRow.customer_id, func.avg(FeedbackRow.score))
            .where(FeedbackRow.kind == "csat", FeedbackRow.score.is_not(None), *only(FeedbackRow.customer_id))
            .group_by(FeedbackRow.customer_id)
        )
    }
    referrals: dict[str, int] = {
        cid: int(n)
        for cid, n in s.execute(
            select(CustomerRow.referred_by, func.count())
            .where(CustomerRow.referred_by.is_not(None), *only(CustomerRow.referred_by))
            .group_by(CustomerRow.referred_by)
        )
    }
    facts = {}
    for cid in ids:
        total, orders = spend.get(cid, (0, 0))
        recent, last = contact.get(cid, (0, None))
        facts[cid] = value.ValueFacts(
            net_spend_cents=total - refunded.get(cid, 0),
            orders=orders,
            conversations=recent,
            last_contact_at=last,
            latest_nps=latest_nps.get(cid),
            average_csat=csat.get(cid),
            referrals=referrals.get(cid, 0),
        )
    return facts


def refresh_values(sessions: sessionmaker[Session], now: datetime | None = None, chunk: int = 5000) -> int:
    """Recomputes every customer's value score and tier into `customers` (read by analytics and lists that
    filter by tier). Returns the customers refreshed."""
    now = now or datetime.utcnow().replace(microsecond=0)
    with unavailable_as_crm_error(), sessions() as s:
        ids = list(s.scalars(select(CustomerRow.id).order_by(CustomerRow.id)))
    done = 0
    for start in range(0, len(ids), chunk):
        with unavailable_as_crm_error(), sessions() as s, s.begin():
            part = ids[start : start + chunk]
            values = {cid: value.compute(f, now) for cid, f in value_facts(s, now, part).items()}
            s.execute(
                update(CustomerRow),
                [
                    {"id": cid, "value_score": v.score, "value_tier": v.tier, "value_updated_at": now}
                    for cid, v in values.items()
                ],  # fmt: skip
            )
            done += len(values)
    return done


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
