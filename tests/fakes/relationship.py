"""`RelationshipService` in memory: the SQL service's observable behaviour (relationship/service.py) on plain
records, next to a `MemoryCrmStore` whose customers, orders, returns, tickets and channel identities it reads.

The rules come from the relationship package (preferences, sentiment, surveys, value) as the SQL service's do;
this module only stores and finds records the way the SQL queries do. Conversations and their sentiment are
written by history ingestion in production; tests put them in with `RelationshipArrange.add_conversation`.
The contract suite (tests/integration/test_relationship_contract.py) holds it to the same tests as the SQL
service.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from crm_adapter.domain import (
    PURPOSES,
    Consents,
    CustomerProfile,
    ErasureReceipt,
    InvalidInput,
    NewFeedback,
    NotFound,
    PreferenceProposal,
    SentimentTrend,
    SurveyPlan,
    TicketStatus,
)
from crm_adapter.rules import utcnow
from crm_adapter.sql.models import CustomerRow
from history.rows import ConversationRow
from relationship import preferences as prefs
from relationship import sentiment, surveys, value
from relationship.data_rights import EXPORT_FORMAT, reviews_export, service_export
from relationship.preference_store import PROPOSAL_INTERVAL
from relationship.privacy import DEIDENTIFIED
from relationship.survey_store import CSAT_MIN_INTERVAL, NPS_PERIOD
from relationship.value_store import SPEND_STATUSES
from tests.fakes.crm import MemoryCrmStore, _customer

# ---- records: the relationship's rows, as plain objects (fields named as the columns) -------------


@dataclass
class ConversationRecord:
    id: int
    customer_id: str | None
    channel: str
    sender_id: str
    started_at: datetime
    ended_at: datetime | None
    customer_message_count: int
    sentiment_sum: float = 0.0
    sentiment_count: int = 0


@dataclass
class ConsentRecord:
    customer_id: str
    purpose: str
    granted: bool
    source: str
    updated_at: datetime


@dataclass
class PreferenceRecord:
    customer_id: str
    key: str
    value: str
    confirmed: bool
    source: str
    updated_at: datetime


@dataclass
class FeedbackRecord:
    id: int
    customer_id: str | None
    conversation_id: int | None
    kind: str
    score: int
    comment: str | None
    created_at: datetime
    resolution: str | None
    channel: str | None
    sender_id: str | None


@dataclass
class PrivacyJobRecord:
    id: int
    kind: str  # erase | redact
    customer_id: str
    sender_ids: list[str]
    requested_at: datetime


@dataclass
class Marks:
    """When a customer was last asked a survey or offered a preference proposal (columns of `customers`)."""

    csat_asked_at: datetime | None = None
    nps_asked_at: datetime | None = None
    preferences_proposed_at: datetime | None = None


@dataclass
class MemoryRelationshipStore:
    """Everything a `MemoryRelationship` keeps, beside the CRM store it reads customers and orders from."""

    crm: MemoryCrmStore
    conversations: list[ConversationRecord] = field(default_factory=list)
    consents: list[ConsentRecord] = field(default_factory=list)
    preferences: list[PreferenceRecord] = field(default_factory=list)
    feedback: list[FeedbackRecord] = field(default_factory=list)
    privacy_jobs: list[PrivacyJobRecord] = field(default_factory=list)
    marks: dict[str, Marks] = field(default_factory=dict)
    referred_by: dict[str, str] = field(default_factory=dict)  # customer -> the customer who referred them


# ---- arranging what only history ingestion (or the shop) writes ------------------------------------


class RelationshipArrange:
    """Puts conversations and referrals straight into a store, as history ingestion and the shop would."""

    def add_conversation(
        self,
        customer_id: str | None,
        channel: str,
        sender_id: str,
        started_at: datetime,
        ended: bool = True,
        customer_messages: int = 2,
        sentiments: tuple[float, ...] = (),
    ) -> None:
        raise NotImplementedError

    def refer(self, customer_id: str, referred_by: str) -> None:
        raise NotImplementedError


class SqlRelationshipArrange(RelationshipArrange):
    """Writes conversations and referrals as rows of the CRM database behind `sessions`."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def add_conversation(
        self,
        customer_id: str | None,
        channel: str,
        sender_id: str,
        started_at: datetime,
        ended: bool = True,
        customer_messages: int = 2,
        sentiments: tuple[float, ...] = (),
    ) -> None:
        with self.sessions.begin() as s:
            s.add(
                ConversationRow(
                    customer_id=customer_id,
                    channel=channel,
                    sender_id=sender_id,
                    started_at=started_at,
                    ended_at=started_at if ended else None,
                    customer_message_count=customer_messages,
                    sentiment_sum=sum(sentiments),
                    sentiment_count=len(sentiments),
                )
            )

    def refer(self, customer_id: str, referred_by: str) -> None:
        with self.sessions.begin() as s:
            row = s.get(CustomerRow, customer_id)
            assert row is not None
            row.referred_by = referred_by


class MemoryRelationshipArrange(RelationshipArrange):
    def __init__(self, store: MemoryRelationshipStore) -> None:
        self.store = store

    def add_conversation(
        self,
        customer_id: str | None,
        channel: str,
        sender_id: str,
        started_at: datetime,
        ended: bool = True,
        customer_messages: int = 2,
        sentiments: tuple[float, ...] = (),
    ) -> None:
        if customer_id is not None and customer_id not in self.store.crm.customers:
            raise ValueError(f"no customer {customer_id}")
        self.store.conversations.append(
            ConversationRecord(
                id=self.store.crm.next_id(),
                customer_id=customer_id,
                channel=channel,
                sender_id=sender_id,
                started_at=started_at,
                ended_at=started_at if ended else None,
                customer_message_count=customer_messages,
                sentiment_sum=sum(sentiments),
                sentiment_count=len(sentiments),
            )
        )

    def refer(self, customer_id: str, referred_by: str) -> None:
        if {customer_id, referred_by} - set(self.store.crm.customers):
            raise ValueError("no such customer")
        self.store.referred_by[customer_id] = referred_by


# ---- the service --------------------------------------------------------------------------------


def _no_outbox(email: str) -> int:
    return 0


class MemoryRelationship:
    """Implements `crm_adapter.ports.RelationshipService` on a `MemoryRelationshipStore`; raises
    `CrmUnavailable` from every method while the CRM store is down (`MemoryCrmStore.down`)."""

    def __init__(
        self,
        store: MemoryRelationshipStore,
        clock: Callable[[], datetime] = utcnow,
        csat_min_interval: timedelta = CSAT_MIN_INTERVAL,
        nps_period: timedelta = NPS_PERIOD,
        proposal_interval: timedelta = PROPOSAL_INTERVAL,
        remove_outbox: Callable[[str], int] = _no_outbox,
    ) -> None:
        self.store = store
        self._now = clock
        self.csat_min_interval = csat_min_interval
        self.nps_period = nps_period
        self.proposal_interval = proposal_interval
        self._remove_outbox = remove_outbox

    def _known(self, customer_id: str) -> None:
        self.store.crm.reach()
        if not customer_id or customer_id not in self.store.crm.customers:
            raise NotFound(f"customer {customer_id}")

    def _marks(self, customer_id: str) -> Marks:
        return self.store.marks.setdefault(customer_id, Marks())

    # ---- consent ----------------------------------------------------------

    def consents(self, customer_id: str) -> Consents:
        self._known(customer_id)
        return self._consents(customer_id)

    def set_consent(self, customer_id: str, purpose: str, granted: bool, source: str = "chat") -> Consents:
        if purpose not in PURPOSES:
            raise InvalidInput("purpose", f"Purpose must be one of {', '.join(PURPOSES)}.")
        self._known(customer_id)
        now = self._now()
        record = next((c for c in self.store.consents if c.customer_id == customer_id and c.purpose == purpose), None)
        if record is None:
            record = ConsentRecord(customer_id, purpose, bool(granted), source[:40], now)
            self.store.consents.append(record)
        record.granted, record.source, record.updated_at = bool(granted), source[:40], now
        if purpose == "history" and not granted:
            self._forget_history(customer_id, now)
        return self._consents(customer_id)

    def _consents(self, customer_id: str) -> Consents:
        return Consents(**{c.purpose: c.granted for c in self.store.consents if c.customer_id == customer_id})

    def _forget_history(self, customer_id: str, now: datetime) -> None:
        """Ended conversations lose the link to the customer (no message text is kept here to clear)."""
        senders = self._sender_ids(customer_id)
        for conv in self.store.conversations:
            if conv.customer_id == customer_id and conv.ended_at is not None:
                if not conv.sender_id.startswith(DEIDENTIFIED):
                    self._file_job("redact", customer_id, [conv.sender_id], now)
                conv.customer_id, conv.sender_id = None, f"{DEIDENTIFIED}{conv.id}"
        if senders:
            self._file_job("redact", customer_id, senders, now)

    # ---- preferences ------------------------------------------------------

    def preferences(self, customer_id: str) -> dict[str, str]:
        self._known(customer_id)
        return self._preferences(customer_id)

    def set_preferences(self, customer_id: str, values: dict[str, str], source: str = "customer") -> dict[str, str]:
        for key, val in values.items():
            if not prefs.valid(key, val):
                raise InvalidInput(key, f"{val!r} is not a {prefs.LABELS.get(key, key)} we can use.")
        self._known(customer_id)
        now = self._now()
        for key, val in values.items():
            record = next((p for p in self.store.preferences if p.customer_id == customer_id and p.key == key), None)
            if record is None:
                record = PreferenceRecord(customer_id, key, val, True, source, now)
                self.store.preferences.append(record)
            record.value, record.confirmed, record.source, record.updated_at = val, True, source, now
        return self._preferences(customer_id)

    def _preferences(self, customer_id: str) -> dict[str, str]:
        mine = [p for p in self.store.preferences if p.customer_id == customer_id and p.confirmed]
        return {p.key: p.value for p in sorted(mine, key=lambda p: p.key)}

    def propose_preferences(self, customer_id: str) -> PreferenceProposal | None:
        self._known(customer_id)
        marks, now = self._marks(customer_id), self._now()
        if marks.preferences_proposed_at and now - marks.preferences_proposed_at < self.proposal_interval:
            return None
        talked = sorted(
            (c for c in self.store.conversations if c.customer_id == customer_id and c.customer_message_count > 0),
            key=lambda c: c.started_at,
            reverse=True,
        )[:50]
        known = self._preferences(customer_id)
        evidence = [(c.channel, c.sender_id, c.started_at) for c in talked]
        observed = [o for o in prefs.observe(evidence) if known.get(o.key) != o.value]
        if not observed:
            return None
        marks.preferences_proposed_at = now
        return PreferenceProposal({o.key: o.value for o in observed}, prefs.describe(observed))

    # ---- surveys ----------------------------------------------------------

    def plan_survey(self, customer_id: str | None) -> SurveyPlan:
        if not customer_id:
            return SurveyPlan(csat=True, nps=False)
        self.store.crm.reach()
        if customer_id not in self.store.crm.customers:
            return SurveyPlan(csat=True, nps=False)
        marks, now = self._marks(customer_id), self._now()
        plan = surveys.due(marks.csat_asked_at, marks.nps_asked_at, now, self.csat_min_interval, self.nps_period)
        if plan.csat:
            marks.csat_asked_at = now
        if plan.nps:
            marks.nps_asked_at = now
        return plan

    def record_feedback(self, feedback: NewFeedback) -> int:
        comment = surveys.checked_comment(feedback)
        self.store.crm.reach()
        known = feedback.customer_id and feedback.customer_id in self.store.crm.customers
        conversation_id = None
        if feedback.sender_id:
            conversation_id = max(
                (c.id for c in self.store.conversations if c.sender_id == feedback.sender_id), default=None
            )
        record = FeedbackRecord(
            id=self.store.crm.next_id(),
            customer_id=feedback.customer_id if known else None,
            conversation_id=conversation_id,
            kind=feedback.kind,
            score=int(feedback.score),
            comment=comment,
            created_at=self._now(),
            resolution=feedback.resolution if feedback.kind == "csat" else None,
            channel=(feedback.channel or None) and feedback.channel[:40],
            sender_id=(feedback.sender_id or None) and feedback.sender_id[:255],
        )
        self.store.feedback.append(record)
        return record.id

    # ---- sentiment and value ---------------------------------------------

    def sentiment_trend(self, customer_id: str, last: int = 10) -> SentimentTrend:
        self._known(customer_id)
        return self._trend(customer_id, last)

    def _trend(self, customer_id: str, last: int) -> SentimentTrend:
        scored = sorted(
            (c for c in self.store.conversations if c.customer_id == customer_id and c.sentiment_count > 0),
            key=lambda c: (c.started_at, c.id),
            reverse=True,
        )[:last]
        found = sentiment.trend([c.sentiment_sum / c.sentiment_count for c in reversed(scored)])
        return SentimentTrend(found.points, found.average, found.label, found.direction)

    def value(self, customer_id: str) -> value.CustomerValue:
        self._known(customer_id)
        return self._value(customer_id, self._now())

    def _value(self, customer_id: str, now: datetime) -> value.CustomerValue:
        crm = self.store.crm
        two_years, one_year = now - timedelta(days=730), now - timedelta(days=365)
        spending = [
            o
            for o in crm.orders.values()
            if o.customer_id == customer_id and o.status in SPEND_STATUSES and o.placed_at >= two_years
        ]
        refunded = sum(
            r.refund_cents
            for r in crm.returns
            if r.customer_id == customer_id and r.status == "refunded" and r.created_at >= two_years
        )
        talks = [c.started_at for c in self.store.conversations if c.customer_id == customer_id]
        mine = sorted(
            (f for f in self.store.feedback if f.customer_id == customer_id), key=lambda f: (f.created_at, f.id)
        )
        nps = [f.score for f in mine if f.kind == "nps"]
        csat = [f.score for f in mine if f.kind == "csat"]
        facts = value.ValueFacts(
            net_spend_cents=sum(o.total_cents for o in spending) - refunded,
            orders=len(spending),
            conversations=sum(1 for at in talks if at >= one_year),
            last_contact_at=max(talks, default=None),
            latest_nps=nps[-1] if nps else None,
            average_csat=round(sum(csat) / len(csat), 2) if csat else None,
            referrals=sum(1 for by in self.store.referred_by.values() if by == customer_id),
            published_reviews=sum(1 for r in crm.reviews if r.customer_id == customer_id and r.published),
        )
        return value.compute(facts, now)

    def profile(self, customer_id: str) -> CustomerProfile:
        self._known(customer_id)
        crm, record = self.store.crm, self.store.crm.customers[customer_id]
        linked = {i.channel for i in crm.identities.values() if i.customer_id == customer_id}
        used = {c.channel for c in self.store.conversations if c.customer_id == customer_id}
        return CustomerProfile(
            customer=_customer(record),
            value=self._value(customer_id, self._now()),
            consents=self._consents(customer_id),
            preferences=self._preferences(customer_id),
            sentiment=self._trend(customer_id, 10),
            channels=tuple(sorted(linked | used)),
            conversations=sum(1 for c in self.store.conversations if c.customer_id == customer_id),
            orders=sum(1 for o in crm.orders.values() if o.customer_id == customer_id),
            open_tickets=sum(
                1 for t in crm.tickets if t.customer_id == customer_id and t.status != TicketStatus.RESOLVED.value
            ),
            loyalty_points=record.loyalty_points,
        )

    # ---- data rights ------------------------------------------------------

    def export(self, customer_id: str) -> dict[str, Any]:
        self._known(customer_id)
        crm, record, now = self.store.crm, self.store.crm.customers[customer_id], self._now()
        customer_value = self._value(customer_id, now)
        conversations = sorted(
            (c for c in self.store.conversations if c.customer_id == customer_id), key=lambda c: (c.started_at, c.id)
        )
        orders = sorted((o for o in crm.orders.values() if o.customer_id == customer_id), key=lambda o: o.placed_at)
        return _jsonable(
            {
                "format": EXPORT_FORMAT,
                "exported_at": now,
                "profile": asdict(_customer(record)) | {"created_at": record.created_at},
                "consents": asdict(self._consents(customer_id)),
                "preferences": self._preferences(customer_id),
                "value": {
                    "score": customer_value.score,
                    "tier": customer_value.tier,
                    "parts": [asdict(p) for p in customer_value.parts],
                },
                "channel_identities": [
                    {"channel": i.channel, "sender_id": i.sender_id, "verified_at": i.verified_at}
                    for i in crm.identities.values()
                    if i.customer_id == customer_id
                ],
                "orders": [
                    {
                        "order_number": o.order_number,
                        "status": o.status,
                        "placed_at": o.placed_at,
                        "total_cents": o.total_cents,
                        "currency": o.currency,
                        "items": [{"sku": i.sku, "name": i.name, "quantity": i.quantity} for i in o.lines],
                    }
                    for o in orders
                ],
                **service_export(
                    (r for r in crm.returns if r.customer_id == customer_id),
                    (t for t in crm.tickets if t.customer_id == customer_id),
                    (f for f in self.store.feedback if f.customer_id == customer_id),
                ),
                "reviews": reviews_export(
                    (r, crm.orders[r.order_id].order_number)
                    for r in sorted(crm.reviews, key=lambda r: (r.created_at, r.id))
                    if r.customer_id == customer_id
                ),
                "help_centre_questions": [],  # the help centre is a table of the SQL store only (knowledge/)
                "conversations": [
                    {
                        "channel": c.channel,
                        "started_at": c.started_at,
                        "ended_at": c.ended_at,
                        "outcome": None,
                        "summary": None,
                        "sentiment": round(c.sentiment_sum / c.sentiment_count, 3) if c.sentiment_count else None,
                        "messages": [],
                    }
                    for c in conversations
                ],
            }
        )

    def request_erasure(self, customer_id: str, current_sender: str | None = None) -> ErasureReceipt:
        """Removes the customer and everything of theirs and of their sender ids, and files the erase job."""
        self._known(customer_id)
        senders = set(self._sender_ids(customer_id))
        if current_sender:
            senders.add(current_sender)
        crm = self.store.crm
        self._remove_outbox(crm.customers[customer_id].email)
        self._erase(customer_id, senders)
        job = self._file_job("erase", customer_id, sorted(senders), self._now())
        return ErasureReceipt(job_id=job.id, sender_ids=len(senders))

    def _sender_ids(self, customer_id: str) -> list[str]:
        senders = {i.sender_id for i in self.store.crm.identities.values() if i.customer_id == customer_id}
        senders |= {c.sender_id for c in self.store.conversations if c.customer_id == customer_id}
        return sorted(x for x in senders if not x.startswith(DEIDENTIFIED))

    def _erase(self, customer_id: str, senders: set[str]) -> None:
        crm, store = self.store.crm, self.store

        def gone(owner: str | None, sender: str | None = None) -> bool:
            return owner == customer_id or (sender is not None and sender in senders)

        store.conversations[:] = [c for c in store.conversations if not gone(c.customer_id, c.sender_id)]
        store.feedback[:] = [f for f in store.feedback if not gone(f.customer_id, f.sender_id)]
        store.consents[:] = [c for c in store.consents if c.customer_id != customer_id]
        store.preferences[:] = [p for p in store.preferences if p.customer_id != customer_id]
        store.marks.pop(customer_id, None)
        store.referred_by = {k: v for k, v in store.referred_by.items() if customer_id not in (k, v)}
        crm.tickets[:] = [t for t in crm.tickets if not gone(t.customer_id, t.sender_id)]
        crm.identities = {k: i for k, i in crm.identities.items() if not gone(i.customer_id, i.sender_id)}
        crm.orders = {k: o for k, o in crm.orders.items() if o.customer_id != customer_id}
        crm.returns[:] = [r for r in crm.returns if r.customer_id != customer_id]
        crm.reviews[:] = [r for r in crm.reviews if r.customer_id != customer_id]
        crm.codes[:] = [c for c in crm.codes if c.customer_id != customer_id]
        crm.failures[:] = [f for f in crm.failures if f.customer_id != customer_id]
        del crm.customers[customer_id]

    def _file_job(self, kind: str, customer_id: str, senders: list[str], now: datetime) -> PrivacyJobRecord:
        job = PrivacyJobRecord(self.store.crm.next_id(), kind, customer_id, senders, now)
        self.store.privacy_jobs.append(job)
        return job


def _jsonable(value_: Any) -> Any:
    if isinstance(value_, datetime):
        return value_.isoformat() + "Z"
    if isinstance(value_, dict):
        return {str(k): _jsonable(v) for k, v in value_.items()}
    if isinstance(value_, (list, tuple)):
        return [_jsonable(v) for v in value_]
    return value_
