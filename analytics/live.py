"""Figures counted live from the conversations and the ratings: the days not summarised yet, and what is
never summarised (ratings, medians, example conversations)."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, or_, select, true, tuple_
from sqlalchemy.orm import Session

from analytics.metrics import Cell, Figures, Filters
from analytics.queries import (
    NOT_INTENTS,
    cell_aggregates,
    conversation_where,
    customer_tier,
    day_of,
    intent_aggregates,
    is_postgresql,
    json_keys,
    ratings_per_intent,
    with_tier,
)
from crm_adapter.sql.models import CustomerRow
from history.rows import ConversationRow
from relationship.rows import FeedbackRow

EXAMPLE_DAYS = 14  # example conversations come from the last days of the range
EXAMPLES_PER_INTENT = 3


def count_cells(s: Session, filters: Filters, by_cell: dict[Cell, Figures], since: datetime) -> None:
    """The conversations' counts per day, channel and tier, from `since` to the end of the range."""
    day = func.date(ConversationRow.started_at)
    tier = customer_tier(ConversationRow.customer_id)
    rows = s.execute(
        with_tier(day, ConversationRow.channel, tier, *cell_aggregates())
        .where(*conversation_where(filters, since))
        .group_by(day, ConversationRow.channel, tier)
    ).all()
    for d, channel, t, n, ended, bot, handed, abandoned, fallback, s_sum, s_count in rows:
        by_cell[(day_of(d), channel, t)] = Figures(
            int(n), int(ended), int(bot), int(handed), int(abandoned), int(fallback), float(s_sum), int(s_count)
        )


def count_ratings(s: Session, filters: Filters, by_cell: dict[Cell, Figures]) -> None:
    """The CSAT and NPS ratings given in the range, each in the cell of the day and channel it was given on."""
    tier = customer_tier(FeedbackRow.customer_id)
    where = [
        FeedbackRow.created_at >= filters.since,
        FeedbackRow.created_at < filters.until,
        FeedbackRow.score.is_not(None),
    ]
    if filters.channel:
        where.append(FeedbackRow.channel == filters.channel)
    if filters.tier:
        where.append(tier == filters.tier)
    rows = s.execute(
        select(
            func.date(FeedbackRow.created_at),
            FeedbackRow.channel,
            tier,
            FeedbackRow.kind,
            FeedbackRow.resolution,
            FeedbackRow.score,
        )
        .select_from(FeedbackRow)
        .outerjoin(CustomerRow, CustomerRow.id == FeedbackRow.customer_id)
        .where(*where)
    )
    for d, channel, t, kind, resolution, score in rows:
        by_cell[(day_of(d), channel or "unknown", t)].rate(kind, resolution, int(score))


def medians(s: Session, filters: Filters) -> dict[tuple[str, Any], float]:
    """Median time to resolution of the bot-resolved conversations, overall and per day: in SQL on
    PostgreSQL (percentile_cont), in Python elsewhere."""
    day = func.date(ConversationRow.started_at)
    resolved = [*conversation_where(filters), ConversationRow.outcome == "resolved_by_bot"]
    found: dict[tuple[str, Any], float] = {}
    if is_postgresql(s):
        seconds = func.extract("epoch", ConversationRow.ended_at - ConversationRow.started_at)
        median = func.percentile_cont(0.5).within_group(seconds)
        rows = s.execute(
            with_tier(day, func.grouping(day), median)
            .where(*resolved)
            .group_by(func.grouping_sets(tuple_(day), tuple_()))
        )
        for d, no_day, value in rows:
            if value is not None:
                found[("day", day_of(d)) if not no_day else ("total", None)] = float(value)
        return found
    samples: dict[tuple[str, Any], list[float]] = defaultdict(list)
    rows = s.execute(with_tier(day, ConversationRow.started_at, ConversationRow.ended_at).where(*resolved))
    for d, started, ended in rows:
        took = (ended - started).total_seconds()
        for key in (("total", None), ("day", day_of(d))):
            samples[key].append(took)
    return {key: statistics.median(values) for key, values in samples.items()}


def _per_intent(s: Session, filters: Filters) -> tuple[Any, Callable[..., Any]]:
    """The intent column, and a select of that column and `columns` per (conversation, intent) pair of the range."""
    keys = json_keys(s, ConversationRow.intents, "i")
    intent = keys.c.key
    where = [*conversation_where(filters), ConversationRow.intents.is_not(None), intent.not_in(NOT_INTENTS)]

    def per_intent(*columns: Any) -> Any:
        return with_tier(intent, *columns).join(keys, true()).where(*where)

    return intent, per_intent


def intent_counts(s: Session, filters: Filters, since: datetime) -> Any:
    """Rows of (intent, conversations, with a fallback, handed off, in the second half of the range) for the
    conversations from `since` on."""
    intent, per_intent = _per_intent(s, filters)
    recent = func.sum(case((ConversationRow.started_at >= filters.middle, 1), else_=0))
    return s.execute(
        per_intent(*intent_aggregates(), recent).where(ConversationRow.started_at >= since).group_by(intent)
    )


def intent_ratings(s: Session, filters: Filters, since: datetime) -> Any:
    """Rows of (intent, sum of the CSAT ratings, ratings) for the conversations from `since` on."""
    return s.execute(ratings_per_intent(s, conversation_where(filters, since)))


def examples(s: Session, filters: Filters) -> dict[str, list[int]]:
    """Per intent, the latest conversations of the range's last days where it went wrong: a fallback, a
    handoff or a low rating."""
    low_rating = (
        select(FeedbackRow.id)
        .where(FeedbackRow.conversation_id == ConversationRow.id, FeedbackRow.kind == "csat")
        .where(FeedbackRow.score <= 2)
        .exists()
    )
    went_wrong = or_(ConversationRow.fallback_count > 0, ConversationRow.outcome == "handed_off", low_rating)
    newest_first = (ConversationRow.started_at.desc(), ConversationRow.id.desc())
    intent, per_intent = _per_intent(s, filters)
    ranked = (
        per_intent(
            ConversationRow.id.label("conversation_id"),
            func.row_number().over(partition_by=intent, order_by=newest_first).label("rank"),
        )
        .where(went_wrong, ConversationRow.started_at >= filters.until - timedelta(days=EXAMPLE_DAYS))
        .subquery()
    )
    found: dict[str, list[int]] = defaultdict(list)
    for name, conversation_id in s.execute(
        select(ranked.c.key, ranked.c.conversation_id)
        .where(ranked.c.rank <= EXAMPLES_PER_INTENT)
        .order_by(ranked.c.key, ranked.c.rank)
    ):
        found[name].append(int(conversation_id))
    return found
