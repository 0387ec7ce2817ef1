"""Customer value on the CRM database: the facts the score is computed from (relationship/value.py computes it),
for one customer or everyone, and the refresh that stores everyone's score and tier in `customers` (run by the
worker, read by analytics and by lists that filter by tier)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from crm_adapter.domain import OPEN_ORDER_STATUSES, OrderStatus
from crm_adapter.sql.db import unavailable_as_crm_error
from crm_adapter.sql.models import CustomerRow, OrderRow, ReturnRow
from history.rows import ConversationRow
from relationship import value
from relationship.rows import FeedbackRow
from relationship.store import utcnow
from reviews.rows import ReviewRow

SPEND_STATUSES = tuple(s.value for s in OPEN_ORDER_STATUSES | {OrderStatus.DELIVERED, OrderStatus.RETURNED})

Ids = list[str] | None  # some customers, or everyone


def value_of(s: Session, customer_id: str, now: datetime) -> value.CustomerValue:
    return value.compute(value_facts(s, now, [customer_id])[customer_id], now)


def value_facts(s: Session, now: datetime, customer_ids: Ids = None) -> dict[str, value.ValueFacts]:
    """What the value score is computed from, for these customers (all when None), in one query per source."""
    two_years, one_year = now - timedelta(days=730), now - timedelta(days=365)
    ids = customer_ids if customer_ids is not None else list(s.scalars(select(CustomerRow.id)))
    spend = _spend(s, two_years, customer_ids)
    refunded = _refunded(s, two_years, customer_ids)
    contact = _contact(s, one_year, customer_ids)
    latest_nps = _latest_nps(s, customer_ids)
    csat = _average_csat(s, customer_ids)
    referrals = _referrals(s, customer_ids)
    reviews = _published_reviews(s, customer_ids)
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
            published_reviews=reviews.get(cid, 0),
        )
    return facts


def refresh_values(sessions: sessionmaker[Session], now: datetime | None = None, chunk: int = 5000) -> int:
    """Recomputes every customer's value score and tier into `customers` (read by analytics and lists that
    filter by tier). Returns the customers refreshed."""
    now = now or utcnow()
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


# ---- one query per source ----------------------------------------------------------------------------------


def _only(column: Any, customer_ids: Ids) -> list[Any]:
    return [column.in_(customer_ids)] if customer_ids is not None else []


def _spend(s: Session, since: datetime, customer_ids: Ids) -> dict[str, tuple[int, int]]:
    """Spend and order count since `since`, of orders delivered, returned or on their way."""
    return {
        cid: (int(total), int(n))
        for cid, total, n in s.execute(
            select(OrderRow.customer_id, func.sum(OrderRow.total_cents), func.count(OrderRow.id))
            .where(
                OrderRow.status.in_(SPEND_STATUSES),
                OrderRow.placed_at >= since,
                *_only(OrderRow.customer_id, customer_ids),
            )
            .group_by(OrderRow.customer_id)
        )
    }


def _refunded(s: Session, since: datetime, customer_ids: Ids) -> dict[str, int]:
    return {
        cid: int(total)
        for cid, total in s.execute(
            select(ReturnRow.customer_id, func.sum(ReturnRow.refund_cents))
            .where(
                ReturnRow.status == "refunded",
                ReturnRow.created_at >= since,
                *_only(ReturnRow.customer_id, customer_ids),
            )
            .group_by(ReturnRow.customer_id)
        )
    }


def _contact(s: Session, recent_since: datetime, customer_ids: Ids) -> dict[str, tuple[int, datetime]]:
    """Conversations since `recent_since`, and when the last one started."""
    return {
        cid: (int(recent or 0), last)
        for cid, recent, last in s.execute(
            select(
                ConversationRow.customer_id,
                func.sum(case((ConversationRow.started_at >= recent_since, 1), else_=0)),
                func.max(ConversationRow.started_at),
            )
            .where(ConversationRow.customer_id.is_not(None), *_only(ConversationRow.customer_id, customer_ids))
            .group_by(ConversationRow.customer_id)
        )
    }


def _latest_nps(s: Session, customer_ids: Ids) -> dict[str, int]:
    latest: dict[str, int] = {}
    for cid, score in s.execute(
        select(FeedbackRow.customer_id, FeedbackRow.score)
        .where(FeedbackRow.kind == "nps", FeedbackRow.score.is_not(None), *_only(FeedbackRow.customer_id, customer_ids))
        .order_by(FeedbackRow.customer_id, FeedbackRow.created_at, FeedbackRow.id)
    ):
        latest[cid] = int(score)  # ordered oldest first: the last one wins
    return latest


def _average_csat(s: Session, customer_ids: Ids) -> dict[str, float]:
    return {
        cid: round(float(mean), 2)
        for cid, mean in s.execute(
            select(FeedbackRow.customer_id, func.avg(FeedbackRow.score))
            .where(
                FeedbackRow.kind == "csat",
                FeedbackRow.score.is_not(None),
                *_only(FeedbackRow.customer_id, customer_ids),
            )
            .group_by(FeedbackRow.customer_id)
        )
    }


def _referrals(s: Session, customer_ids: Ids) -> dict[str, int]:
    return {
        cid: int(n)
        for cid, n in s.execute(
            select(CustomerRow.referred_by, func.count())
            .where(CustomerRow.referred_by.is_not(None), *_only(CustomerRow.referred_by, customer_ids))
            .group_by(CustomerRow.referred_by)
        )
    }


def _published_reviews(s: Session, customer_ids: Ids) -> dict[str, int]:
    return {
        cid: int(n)
        for cid, n in s.execute(
            select(ReviewRow.customer_id, func.count())
            .where(ReviewRow.published.is_(True), *_only(ReviewRow.customer_id, customer_ids))
            .group_by(ReviewRow.customer_id)
        )
    }
