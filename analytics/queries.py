"""The SQL building blocks analytics counts with, and where SQLite and PostgreSQL differ: the conversations a
range covers, each row's value tier, the aggregates of a group of conversations, intents out of JSON."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import case, func, select, text, true
from sqlalchemy.orm import Session

from analytics.metrics import Filters
from crm_adapter.sql.models import CustomerRow
from history.rows import ConversationRow
from relationship.rows import FeedbackRow

WORK_MEM = "64MB"
NOT_INTENTS = frozenset({"nlu_fallback"})


def is_postgresql(s: Session) -> bool:
    return s.get_bind().dialect.name == "postgresql"


def give_sorts_memory(s: Session) -> None:
    """The groupings and medians sort a few hundred thousand rows: on PostgreSQL, let them do it in memory
    (its default 4 MB sends them to disk), for the current transaction only."""
    if is_postgresql(s):
        s.execute(text(f"SET LOCAL work_mem = '{WORK_MEM}'"))


def day_of(value: Any) -> date:
    """SQLite's date() gives text, PostgreSQL's a date."""
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def json_keys(s: Session, column: Any, name: str) -> Any:
    """The keys of a JSON object column, as a table to join: json_each (SQLite) or json_each_text (PostgreSQL)."""
    each = func.json_each_text if is_postgresql(s) else func.json_each
    return each(column).table_valued("key").alias(name)


def customer_tier(customer_id: Any) -> Any:
    """The value tier of the customer the row belongs to (needs the customers outer join)."""
    return case(
        (customer_id.is_(None), "anonymous"),
        (CustomerRow.value_tier.is_(None), "unrated"),
        else_=CustomerRow.value_tier,
    )


def with_tier(*columns: Any) -> Any:
    """A select of `columns` from the conversations, joined to their customers (for the tier)."""
    return (
        select(*columns)
        .select_from(ConversationRow)
        .outerjoin(CustomerRow, CustomerRow.id == ConversationRow.customer_id)
    )


def conversation_where(filters: Filters, since: datetime | None = None) -> list[Any]:
    """The conversations the filters cover (from `since` on, if given), in which the customer said something."""
    where = [
        ConversationRow.started_at >= (since or filters.since),
        ConversationRow.started_at < filters.until,
        ConversationRow.customer_message_count > 0,
    ]
    if filters.channel:
        where.append(ConversationRow.channel == filters.channel)
    if filters.tier:
        where.append(customer_tier(ConversationRow.customer_id) == filters.tier)
    return where


def cell_aggregates() -> list[Any]:
    """The counts of a group of conversations, in the order of Figures' first eight fields."""
    outcome = ConversationRow.outcome
    return [
        func.count(),
        func.count(ConversationRow.ended_at),
        func.sum(case((outcome == "resolved_by_bot", 1), else_=0)),
        func.sum(case((outcome == "handed_off", 1), else_=0)),
        func.sum(case((outcome == "abandoned", 1), else_=0)),
        func.sum(case((ConversationRow.fallback_count > 0, 1), else_=0)),
        func.coalesce(func.sum(ConversationRow.sentiment_sum), 0.0),
        func.coalesce(func.sum(ConversationRow.sentiment_count), 0),
    ]


def intent_aggregates() -> list[Any]:
    """Per intent: conversations, those with a fallback, those handed off."""
    return [
        func.count(),
        func.sum(case((ConversationRow.fallback_count > 0, 1), else_=0)),
        func.sum(case((ConversationRow.outcome == "handed_off", 1), else_=0)),
    ]


def ratings_per_intent(s: Session, where: list[Any], *groups: Any) -> Any:
    """Per `groups` and intent: the sum and the count of the CSAT ratings of the conversations matching `where`.
    Ratings come first (far fewer than conversations), then the intents of just the rated conversations."""
    rated = (
        select(*(g.label(f"g{i}") for i, g in enumerate(groups)), ConversationRow.intents, FeedbackRow.score)
        .select_from(ConversationRow)
        .outerjoin(CustomerRow, CustomerRow.id == ConversationRow.customer_id)
        .join(FeedbackRow, FeedbackRow.conversation_id == ConversationRow.id)
        .where(*where, FeedbackRow.kind == "csat", FeedbackRow.score.is_not(None))
        .subquery()
    )
    keys = json_keys(s, rated.c.intents, "ri")
    grouped = [rated.c[f"g{i}"] for i in range(len(groups))]
    return (
        select(*grouped, keys.c.key, func.sum(rated.c.score), func.count())
        .select_from(rated)
        .join(keys, true())
        .where(keys.c.key.not_in(NOT_INTENTS))
        .group_by(*grouped, keys.c.key)
    )
