"""The daily summaries of closed days (`analytics_days`, `analytics_intent_days`): counts per day, channel, tier
and intent, with the CSAT ratings per intent; writing them, and reading them back for a range."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import case, delete, func, insert, select, true
from sqlalchemy.orm import Session

from analytics.metrics import Cell, Figures, Filters
from analytics.queries import (
    NOT_INTENTS,
    cell_aggregates,
    customer_tier,
    day_of,
    intent_aggregates,
    json_keys,
    ratings_per_intent,
    with_tier,
)
from analytics.rows import AnalyticsDayRow, AnalyticsIntentDayRow
from history.rows import ConversationRow, HistoryCheckpointRow

SUMMARY_SOURCE = "analytics:daily-summaries"  # its history_checkpoints row holds the last summarised day
OPEN_DAYS = 2  # a day is summarised once this many days have passed: its conversations have ended


def summarised_until(s: Session) -> date | None:
    position = s.scalar(select(HistoryCheckpointRow.position).where(HistoryCheckpointRow.source == SUMMARY_SOURCE))
    return date.fromisoformat(position) if position else None


def _mark_summarised(s: Session, day: date) -> None:
    row = s.get(HistoryCheckpointRow, SUMMARY_SOURCE)
    if row is None:
        row = HistoryCheckpointRow(source=SUMMARY_SOURCE, events_ingested=0)
        s.add(row)
    row.position, row.updated_at = day.isoformat(), datetime.utcnow()


def refresh(s: Session, today: date) -> int:
    """Summarises every closed day not summarised yet; returns how many days it wrote."""
    last_closed = today - timedelta(days=OPEN_DAYS)
    done = summarised_until(s)
    first = s.scalar(select(func.min(ConversationRow.started_at)))
    if first is None:
        return 0
    start = max(first.date(), done + timedelta(days=1)) if done else first.date()
    if start > last_closed:
        return 0
    days = summarise(s, start, last_closed)
    _mark_summarised(s, last_closed)
    return days


def summarise(s: Session, start: date, end: date) -> int:
    """Writes the summaries of the days from `start` to `end` (replacing any there are)."""
    since, until = datetime.combine(start, time()), datetime.combine(end + timedelta(days=1), time())
    for model in (AnalyticsDayRow, AnalyticsIntentDayRow):
        s.execute(delete(model).where(model.day >= start, model.day <= end))
    where = [
        ConversationRow.started_at >= since,
        ConversationRow.started_at < until,
        ConversationRow.customer_message_count > 0,
    ]
    _summarise_days(s, where)
    _summarise_intents(s, where)
    return (end - start).days + 1


def _groups() -> tuple[Any, Any, Any]:
    """What a summary row is per: the day a conversation started, its channel and its customer's tier."""
    return func.date(ConversationRow.started_at), ConversationRow.channel, customer_tier(ConversationRow.customer_id)


def _summarise_days(s: Session, where: list[Any]) -> None:
    groups = _groups()
    rows = s.execute(with_tier(*groups, *cell_aggregates()).where(*where).group_by(*groups)).all()
    if rows:
        s.execute(
            insert(AnalyticsDayRow),
            [
                {"day": day_of(d), "channel": channel, "tier": t, "conversations": n, "ended": ended,
                 "resolved_by_bot": bot, "handed_off": handed, "abandoned": abandoned, "with_fallback": fallback,
                 "sentiment_sum": float(s_sum), "sentiment_count": int(s_count)}
                for d, channel, t, n, ended, bot, handed, abandoned, fallback, s_sum, s_count in rows
            ],
        )  # fmt: skip


def _summarise_intents(s: Session, where: list[Any]) -> None:
    groups = _groups()
    keys = json_keys(s, ConversationRow.intents, "i")
    intent_rows = s.execute(
        with_tier(*groups, keys.c.key, *intent_aggregates())
        .join(keys, true())
        .where(*where, ConversationRow.intents.is_not(None), keys.c.key.not_in(NOT_INTENTS))
        .group_by(*groups, keys.c.key)
    ).all()
    ratings = {
        (day_of(d), channel, t, name): (float(total), int(n))
        for d, channel, t, name, total, n in s.execute(ratings_per_intent(s, where, *groups))
    }
    if intent_rows:
        s.execute(
            insert(AnalyticsIntentDayRow),
            [
                {"day": day_of(d), "channel": channel, "tier": t, "intent": name, "conversations": n,
                 "with_fallback": fallback, "handed_off": handed,
                 "csat_sum": ratings.get((day_of(d), channel, t, name), (0.0, 0))[0],
                 "csat_count": ratings.get((day_of(d), channel, t, name), (0, 0))[1]}
                for d, channel, t, name, n, fallback, handed in intent_rows
            ],
        )  # fmt: skip


def _summary_where(model: Any, filters: Filters, live_from: date) -> list[Any]:
    """The summary rows of the range's days before `live_from`, in the filters' channel and tier."""
    where = [model.day >= filters.start, model.day < live_from]
    if filters.channel:
        where.append(model.channel == filters.channel)
    if filters.tier:
        where.append(model.tier == filters.tier)
    return where


def read_cells(s: Session, filters: Filters, live_from: date, by_cell: dict[Cell, Figures]) -> None:
    """The summarised counts per day, channel and tier, up to the day before `live_from`."""
    d = AnalyticsDayRow
    rows = s.execute(
        select(d.day, d.channel, d.tier, d.conversations, d.ended, d.resolved_by_bot, d.handed_off, d.abandoned,
               d.with_fallback, d.sentiment_sum, d.sentiment_count)
        .where(*_summary_where(d, filters, live_from))
    )  # fmt: skip
    for day, channel, tier, *counts in rows:
        by_cell[(day_of(day), channel, tier)] = Figures(*counts)


def intent_counts(s: Session, filters: Filters, live_from: date) -> Any:
    """Rows of (intent, conversations, with a fallback, handed off, in the second half of the range) for the
    summarised days before `live_from`."""
    summary = AnalyticsIntentDayRow
    return s.execute(
        select(
            summary.intent,
            func.sum(summary.conversations),
            func.sum(summary.with_fallback),
            func.sum(summary.handed_off),
            func.sum(case((summary.day >= filters.middle.date(), summary.conversations), else_=0)),
        )
        .where(*_summary_where(summary, filters, live_from))
        .group_by(summary.intent)
    )


def intent_ratings(s: Session, filters: Filters, live_from: date) -> Any:
    """Rows of (intent, sum of the CSAT ratings, ratings) for the summarised days before `live_from`."""
    summary = AnalyticsIntentDayRow
    return s.execute(
        select(summary.intent, func.sum(summary.csat_sum), func.sum(summary.csat_count))
        .where(*_summary_where(summary, filters, live_from))
        .group_by(summary.intent)
    )
