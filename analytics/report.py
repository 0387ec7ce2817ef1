"""Conversation analytics from the relationship history: how the assistant is doing, per day, channel and
intent, over a date range.

Definitions (a conversation counts on the day it started; only conversations in which the customer
said something count):
- containment: ended conversations the bot resolved, out of ended conversations;
- handoff rate, abandonment: ended conversations handed to a person / abandoned, out of ended ones;
- fallback rate: conversations in which the bot said at least once that it did not understand;
- CSAT: mean 1-5 rating, separately for conversations the bot resolved and those a person resolved;
- NPS: % of scores 9-10 minus % of scores 0-6, from -100 to 100;
- sentiment: mean VADER score of the customers' messages;
- time to resolution: median duration of the conversations the bot resolved;
- intents: conversations using each intent; the fastest-rising compare the second half of the range
  with the first.
Ratings count on the day they were given, on the channel they were given on.
"""

from __future__ import annotations

import csv
import io
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import case, delete, func, insert, or_, select, text, true, tuple_
from sqlalchemy.orm import Session, sessionmaker

from crm_adapter.domain import InvalidInput
from crm_adapter.sql.db import unavailable_as_crm_error
from crm_adapter.sql.models import (
    AnalyticsDayRow,
    AnalyticsIntentDayRow,
    ConversationRow,
    CustomerRow,
    FeedbackRow,
    HistoryCheckpointRow,
)
from relationship import value

T = TypeVar("T")
MAX_DAYS = 731
WORK_MEM = "64MB"
EXAMPLE_DAYS = 14  # example conversations come from the last days of the range
TIERS = (*(name for name, _ in value.TIERS), "unrated", "anonymous")
EXAMPLES_PER_INTENT = 3
NOT_INTENTS = frozenset({"nlu_fallback"})


@dataclass(frozen=True)
class Filters:
    start: date
    end: date  # inclusive
    channel: str | None = None
    tier: str | None = None  # a value tier (vip | high | standard | low), "unrated" or "anonymous"

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise InvalidInput("end", "The end date is before the start date.")
        if (self.end - self.start).days >= MAX_DAYS:
            raise InvalidInput("end", f"A range covers at most {MAX_DAYS} days.")
        if self.tier is not None and self.tier not in TIERS:
            raise InvalidInput("tier", f"Tier must be one of {', '.join(TIERS)}.")

    @property
    def since(self) -> datetime:
        return datetime.combine(self.start, time())

    @property
    def until(self) -> datetime:
        return datetime.combine(self.end + timedelta(days=1), time())


@dataclass
class Figures:
    conversations: int = 0
    ended: int = 0
    resolved_by_bot: int = 0
    handed_off: int = 0
    abandoned: int = 0
    with_fallback: int = 0
    sentiment_sum: float = 0.0
    sentiment_count: int = 0
    csat_bot: list[int] = field(default_factory=list)
    csat_person: list[int] = field(default_factory=list)
    nps: list[int] = field(default_factory=list)
    median_resolution: float | None = None  # set per group by the report (medians do not add up)

    def add(self, other: Figures) -> None:
        for name in ("conversations", "ended", "resolved_by_bot", "handed_off", "abandoned", "with_fallback",
                     "sentiment_sum", "sentiment_count"):  # fmt: skip
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.csat_bot += other.csat_bot
        self.csat_person += other.csat_person
        self.nps += other.nps

    @staticmethod
    def _share(part: int, whole: int) -> float | None:
        return round(part / whole, 4) if whole else None

    @property
    def containment(self) -> float | None:
        return self._share(self.resolved_by_bot, self.ended)

    @property
    def handoff_rate(self) -> float | None:
        return self._share(self.handed_off, self.ended)

    @property
    def abandonment(self) -> float | None:
        return self._share(self.abandoned, self.ended)

    @property
    def fallback_rate(self) -> float | None:
        return self._share(self.with_fallback, self.conversations)

    @property
    def average_sentiment(self) -> float | None:
        return round(self.sentiment_sum / self.sentiment_count, 4) if self.sentiment_count else None

    @property
    def csat_bot_mean(self) -> float | None:
        return round(statistics.fmean(self.csat_bot), 3) if self.csat_bot else None

    @property
    def csat_person_mean(self) -> float | None:
        return round(statistics.fmean(self.csat_person), 3) if self.csat_person else None

    @property
    def nps_score(self) -> float | None:
        if not self.nps:
            return None
        promoters = sum(s >= 9 for s in self.nps)
        detractors = sum(s <= 6 for s in self.nps)
        return round(100 * (promoters - detractors) / len(self.nps), 1)

    @property
    def median_resolution_seconds(self) -> float | None:
        return round(self.median_resolution, 1) if self.median_resolution is not None else None

    def summary(self) -> dict[str, Any]:
        return {
            "conversations": self.conversations,
            "containment": self.containment,
            "handoff_rate": self.handoff_rate,
            "fallback_rate": self.fallback_rate,
            "abandonment": self.abandonment,
            "csat_bot": self.csat_bot_mean,
            "csat_bot_ratings": len(self.csat_bot),
            "csat_person": self.csat_person_mean,
            "csat_person_ratings": len(self.csat_person),
            "nps": self.nps_score,
            "nps_ratings": len(self.nps),
            "average_sentiment": self.average_sentiment,
            "median_resolution_seconds": self.median_resolution_seconds,
        }


@dataclass(frozen=True)
class IntentFigures:
    intent: str
    conversations: int
    fallback_rate: float
    handoff_rate: float
    csat: float | None
    csat_ratings: int
    examples: tuple[int, ...]  # conversation ids where it went wrong (fallback, handoff or a low rating)


@dataclass(frozen=True)
class Rising:
    intent: str
    earlier: int
    recent: int

    @property
    def change(self) -> int:
        return self.recent - self.earlier


@dataclass(frozen=True)
class Report:
    filters: Filters
    total: Figures
    by_day: dict[date, Figures]
    by_channel: dict[str, Figures]
    by_tier: dict[str, Figures]
    intents: tuple[IntentFigures, ...]  # most used first
    rising: tuple[Rising, ...]

    def to_csv(self) -> str:
        """One row per day of the range (days without conversations included), then the total."""
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["day", *COLUMNS])
        rows = [(d.isoformat(), self.by_day.get(d, Figures())) for d in days_of(self.filters)]
        for label, figures in [*rows, ("total", self.total)]:
            summary = figures.summary()
            writer.writerow([label, *("" if summary[c] is None else summary[c] for c in COLUMNS)])
        return out.getvalue()

    def write_charts(self, folder: Path) -> list[Path]:
        """PNG charts of the figures per day (matplotlib, drawn without a screen)."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        folder.mkdir(parents=True, exist_ok=True)
        days = days_of(self.filters)
        per_day = [self.by_day.get(d, Figures()) for d in days]
        charts: dict[str, tuple[str, dict[str, list[Any]]]] = {
            "conversations": ("Conversations per day", {"conversations": [f.conversations for f in per_day]}),
            "outcomes": ("Outcomes (%)", {
                name: [None if (v := getattr(f, attr)) is None else 100 * v for f in per_day]
                for name, attr in (("containment", "containment"), ("handoff", "handoff_rate"),
                                   ("fallback", "fallback_rate"), ("abandoned", "abandonment"))
            }),
            "satisfaction": ("CSAT (1-5)", {"bot resolved": [f.csat_bot_mean for f in per_day],
                                            "person resolved": [f.csat_person_mean for f in per_day]}),
            "nps": ("NPS", {"NPS": [f.nps_score for f in per_day]}),
            "sentiment": ("Average sentiment", {"sentiment": [f.average_sentiment for f in per_day]}),
        }  # fmt: skip
        written = []
        for name, (title, series) in charts.items():
            fig, ax = plt.subplots(figsize=(8, 3.2), dpi=100)
            for label, values in series.items():
                ys = [float("nan") if v is None else v for v in values]
                ax.plot(days, ys, marker="o", markersize=3, label=label)  # type: ignore[arg-type]
            ax.set_title(title)
            ax.legend(loc="best", fontsize=8)
            fig.autofmt_xdate()
            fig.tight_layout()
            path = folder / f"{name}.png"
            fig.savefig(path)
            plt.close(fig)
            written.append(path)
        return written

    def worst(self, by: str, top: int = 5) -> list[IntentFigures]:
        """The worst intents by "fallbacks", "handoffs" or "csat" (intents with at least one rating)."""
        if by == "fallbacks":
            return sorted(self.intents, key=lambda i: (-i.fallback_rate, -i.conversations))[:top]
        if by == "handoffs":
            return sorted(self.intents, key=lambda i: (-i.handoff_rate, -i.conversations))[:top]
        rated = [i for i in self.intents if i.csat is not None]
        return sorted(rated, key=lambda i: (i.csat, -i.csat_ratings))[:top]


class SqlAnalytics:
    """Closed days (up to `OPEN_DAYS` before today) are read from the daily summaries in `analytics_days` and
    `analytics_intent_days`, which `refresh_summaries()` writes (and `report()` brings up to date first);
    the days after them are counted live from the conversations. Ratings, medians and example
    conversations are always read live. A summarised day keeps the tiers customers had when it was
    summarised."""

    def __init__(self, sessions: sessionmaker[Session], today: Callable[[], date] | None = None) -> None:
        self._sessions = sessions
        self._today = today or (lambda: datetime.utcnow().date())

    def summarised_until(self) -> date | None:
        with self._uow() as s:
            return _summarised_until(s)

    def refresh_summaries(self) -> int:
        """Summarises every closed day not summarised yet; returns how many days it wrote."""
        last_closed = self._today() - timedelta(days=OPEN_DAYS)
        with self._uow() as s, s.begin():
            done = _summarised_until(s)
            first = s.scalar(select(func.min(ConversationRow.started_at)))
            if first is None:
                return 0
            start = max(first.date(), done + timedelta(days=1)) if done else first.date()
            if start > last_closed:
                return 0
            days = _summarise(s, start, last_closed)
            _mark_summarised(s, last_closed)
            return days

    @contextmanager
    def _uow(self) -> Iterator[Session]:
        with unavailable_as_crm_error(), self._sessions() as s:
            yield s

    def report(self, filters: Filters) -> Report:
        done = self.summarised_until()
        if (done or date.min) < self._today() - timedelta(days=OPEN_DAYS):
            self.refresh_summaries()
            done = self.summarised_until()
        # The first day counted live: the day after the last summarised one.
        live_from = max(filters.start, done + timedelta(days=1)) if done else filters.start
        # Two independent halves on two connections at once: the database uses both cores.
        with ThreadPoolExecutor(max_workers=2) as pool:
            per_intent = pool.submit(self._in_transaction, self._intents, filters, live_from)
            cells, medians = self._in_transaction(self._cells, filters, live_from)
            intents, rising = per_intent.result()
        total = Figures()
        by_day: defaultdict[date, Figures] = defaultdict(Figures)
        by_channel: defaultdict[str, Figures] = defaultdict(Figures)
        by_tier: defaultdict[str, Figures] = defaultdict(Figures)
        for (day, channel, tier), figures in sorted(cells.items()):
            total.add(figures)
            by_day[day].add(figures)
            by_channel[channel].add(figures)
            by_tier[tier].add(figures)
        total.median_resolution = medians.get(("total", None))
        for key, figures in by_day.items():
            figures.median_resolution = medians.get(("day", key))
        return Report(filters, total, dict(by_day), dict(by_channel), dict(by_tier), intents, rising)

    def _in_transaction(self, work: Callable[[Session, Filters, date], T], filters: Filters, live_from: date) -> T:
        with self._uow() as s:
            if s.get_bind().dialect.name == "postgresql":
                # The groupings and medians sort a few hundred thousand rows: let them do it in memory
                # (PostgreSQL's default 4 MB sends them to disk), for this transaction only.
                s.execute(text(f"SET LOCAL work_mem = '{WORK_MEM}'"))
            return work(s, filters, live_from)

    def _cells(
        self, s: Session, filters: Filters, live_from: date
    ) -> tuple[dict[tuple[date, str, str], Figures], dict[tuple[str, Any], float]]:
        by_cell: dict[tuple[date, str, str], Figures] = defaultdict(Figures)
        if live_from > filters.start:
            self._summarised_cells(s, filters, live_from, by_cell)
        if live_from <= filters.end:
            self._conversations(s, filters, by_cell, since=datetime.combine(live_from, time()))
        self._feedback(s, filters, by_cell)
        return by_cell, self._medians(s, filters)

    @staticmethod
    def _summary_where(model: Any, filters: Filters, live_from: date) -> list[Any]:
        where = [model.day >= filters.start, model.day < live_from]
        if filters.channel:
            where.append(model.channel == filters.channel)
        if filters.tier:
            where.append(model.tier == filters.tier)
        return where

    def _summarised_cells(
        self, s: Session, filters: Filters, live_from: date, by_cell: dict[tuple[date, str, str], Figures]
    ) -> None:
        d = AnalyticsDayRow
        rows = s.execute(
            select(d.day, d.channel, d.tier, d.conversations, d.ended, d.resolved_by_bot, d.handed_off, d.abandoned,
                   d.with_fallback, d.sentiment_sum, d.sentiment_count)
            .where(*self._summary_where(d, filters, live_from))
        )  # fmt: skip
        for day, channel, tier, *counts in rows:
            by_cell[(_day(day), channel, tier)] = Figures(*counts)

    @staticmethod
    def _where(filters: Filters, since: datetime | None = None) -> list[Any]:
        where = [
            ConversationRow.started_at >= (since or filters.since),
            ConversationRow.started_at < filters.until,
            ConversationRow.customer_message_count > 0,
        ]
        if filters.channel:
            where.append(ConversationRow.channel == filters.channel)
        if filters.tier:
            where.append(_tier(ConversationRow.customer_id) == filters.tier)
        return where

    @staticmethod
    def _conversations_with_tier(*columns: Any) -> Any:
        return (
            select(*columns)
            .select_from(ConversationRow)
            .outerjoin(CustomerRow, CustomerRow.id == ConversationRow.customer_id)
        )

    def _conversations(
        self,
        s: Session,
        filters: Filters,
        by_cell: dict[tuple[date, str, str], Figures],
        since: datetime | None = None,
    ) -> None:
        day = func.date(ConversationRow.started_at)
        tier = _tier(ConversationRow.customer_id)
        rows = s.execute(
            self._conversations_with_tier(day, ConversationRow.channel, tier, *_cell_aggregates())
            .where(*self._where(filters, since))
            .group_by(day, ConversationRow.channel, tier)
        ).all()
        for d, channel, t, n, ended, bot, handed, abandoned, fallback, s_sum, s_count in rows:
            by_cell[(_day(d), channel, t)] = Figures(
                int(n), int(ended), int(bot), int(handed), int(abandoned), int(fallback), float(s_sum), int(s_count)
            )

    def _medians(self, s: Session, filters: Filters) -> dict[tuple[str, Any], float]:
        """Median time to resolution of the bot-resolved conversations, overall and per day: in SQL on
        PostgreSQL (percentile_cont), in Python elsewhere."""
        day = func.date(ConversationRow.started_at)
        resolved = [*self._where(filters), ConversationRow.outcome == "resolved_by_bot"]
        medians: dict[tuple[str, Any], float] = {}
        if s.get_bind().dialect.name == "postgresql":
            seconds = func.extract("epoch", ConversationRow.ended_at - ConversationRow.started_at)
            median = func.percentile_cont(0.5).within_group(seconds)
            rows = s.execute(
                self._conversations_with_tier(day, func.grouping(day), median)
                .where(*resolved)
                .group_by(func.grouping_sets(tuple_(day), tuple_()))
            )
            for d, no_day, value in rows:
                if value is not None:
                    medians[("day", _day(d)) if not no_day else ("total", None)] = float(value)
            return medians
        samples: dict[tuple[str, Any], list[float]] = defaultdict(list)
        rows = s.execute(
            self._conversations_with_tier(day, ConversationRow.started_at, ConversationRow.ended_at).where(*resolved)
        )
        for d, started, ended in rows:
            took = (ended - started).total_seconds()
            for key in (("total", None), ("day", _day(d))):
                samples[key].append(took)
        return {key: statistics.median(values) for key, values in samples.items()}

    def _feedback(self, s: Session, filters: Filters, by_cell: dict[tuple[date, str, str], Figures]) -> None:
        tier = _tier(FeedbackRow.customer_id)
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
            cell = by_cell[(_day(d), channel or "unknown", t)]
            if kind == "nps":
                cell.nps.append(int(score))
            elif kind == "csat":
                (cell.csat_person if resolution == "person" else cell.csat_bot).append(int(score))

    def _intents(
        self, s: Session, filters: Filters, live_from: date
    ) -> tuple[tuple[IntentFigures, ...], tuple[Rising, ...]]:
        """Per intent, in SQL: each conversation's intents come out of its JSON with json_each (SQLite) or
        json_each_text (PostgreSQL), joined to the conversation."""
        keys = _json_keys(s, ConversationRow.intents, "i")
        intent = keys.c.key
        middle = datetime.combine(filters.start + (filters.end - filters.start + timedelta(days=1)) / 2, time())
        where = [*self._where(filters), ConversationRow.intents.is_not(None), intent.not_in(NOT_INTENTS)]

        def per_intent(*columns: Any) -> Any:
            return self._conversations_with_tier(intent, *columns).join(keys, true()).where(*where)

        live_since = datetime.combine(live_from, time())
        totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])  # conversations, fallbacks, handoffs, recent
        if live_from > filters.start:
            summary = AnalyticsIntentDayRow
            for name, n, fallbacks, handoffs, recent in s.execute(
                select(
                    summary.intent,
                    func.sum(summary.conversations),
                    func.sum(summary.with_fallback),
                    func.sum(summary.handed_off),
                    func.sum(case((summary.day >= middle.date(), summary.conversations), else_=0)),
                )
                .where(*self._summary_where(summary, filters, live_from))
                .group_by(summary.intent)
            ):
                for k, v in enumerate((n, fallbacks, handoffs, recent)):
                    totals[name][k] += int(v or 0)
        if live_from <= filters.end:
            for name, n, fallbacks, handoffs, recent in s.execute(
                per_intent(*_intent_aggregates(), func.sum(case((ConversationRow.started_at >= middle, 1), else_=0)))
                .where(ConversationRow.started_at >= live_since)
                .group_by(intent)
            ):
                for k, v in enumerate((n, fallbacks, handoffs, recent)):
                    totals[name][k] += int(v or 0)
        counts = [(name, v[0], v[1], v[2], v[3]) for name, v in totals.items()]
        csat: dict[str, list[float]] = defaultdict(lambda: [0.0, 0])  # sum of ratings, ratings
        if live_from > filters.start:
            summary = AnalyticsIntentDayRow
            for name, total, n in s.execute(
                select(summary.intent, func.sum(summary.csat_sum), func.sum(summary.csat_count))
                .where(*self._summary_where(summary, filters, live_from))
                .group_by(summary.intent)
            ):
                csat[name][0] += float(total or 0)
                csat[name][1] += int(n or 0)
        if live_from <= filters.end:
            for name, total, n in s.execute(_ratings_per_intent(s, self._where(filters, live_since))):
                csat[name][0] += float(total or 0)
                csat[name][1] += int(n or 0)
        low_rating = (
            select(FeedbackRow.id)
            .where(FeedbackRow.conversation_id == ConversationRow.id, FeedbackRow.kind == "csat")
            .where(FeedbackRow.score <= 2)
            .exists()
        )
        went_wrong = or_(ConversationRow.fallback_count > 0, ConversationRow.outcome == "handed_off", low_rating)
        ranked = (
            per_intent(
                ConversationRow.id.label("conversation_id"),
                func.row_number()
                .over(partition_by=intent, order_by=(ConversationRow.started_at.desc(), ConversationRow.id.desc()))
                .label("rank"),
            )
            .where(went_wrong, ConversationRow.started_at >= filters.until - timedelta(days=EXAMPLE_DAYS))
            .subquery()
        )
        examples: dict[str, list[int]] = defaultdict(list)
        for name, conversation_id in s.execute(
            select(ranked.c.key, ranked.c.conversation_id)
            .where(ranked.c.rank <= EXAMPLES_PER_INTENT)
            .order_by(ranked.c.key, ranked.c.rank)
        ):
            examples[name].append(int(conversation_id))
        figures = tuple(
            IntentFigures(
                intent=name,
                conversations=int(n),
                fallback_rate=round(int(fallbacks) / n, 4),
                handoff_rate=round(int(handoffs) / n, 4),
                csat=round(csat[name][0] / csat[name][1], 3) if csat.get(name, (0, 0))[1] else None,
                csat_ratings=int(csat[name][1]) if name in csat else 0,
                examples=tuple(examples[name]),
            )
            for name, n, fallbacks, handoffs, _ in sorted(counts, key=lambda row: (-row[1], row[0]))
        )
        rising = sorted(
            (Rising(name, int(n) - int(recent), int(recent)) for name, n, _, _, recent in counts if 2 * recent > n),
            key=lambda r: (-r.change, r.intent),
        )
        return figures, tuple(rising[:5])


COLUMNS = ("conversations", "containment", "handoff_rate", "fallback_rate", "abandonment", "csat_bot",
           "csat_bot_ratings", "csat_person", "csat_person_ratings", "nps", "nps_ratings", "average_sentiment",
           "median_resolution_seconds")  # fmt: skip


SUMMARY_SOURCE = "analytics:daily-summaries"  # its history_checkpoints row holds the last summarised day
OPEN_DAYS = 2  # a day is summarised once this many days have passed: its conversations have ended


def _summarised_until(s: Session) -> date | None:
    position = s.scalar(select(HistoryCheckpointRow.position).where(HistoryCheckpointRow.source == SUMMARY_SOURCE))
    return date.fromisoformat(position) if position else None


def _mark_summarised(s: Session, day: date) -> None:
    row = s.get(HistoryCheckpointRow, SUMMARY_SOURCE)
    if row is None:
        row = HistoryCheckpointRow(source=SUMMARY_SOURCE, events_ingested=0)
        s.add(row)
    row.position, row.updated_at = day.isoformat(), datetime.utcnow()


def _json_keys(s: Session, column: Any, name: str) -> Any:
    """The keys of a JSON object column, as a table to join: json_each (SQLite) or json_each_text (PostgreSQL)."""
    each = func.json_each_text if s.get_bind().dialect.name == "postgresql" else func.json_each
    return each(column).table_valued("key").alias(name)


def _cell_aggregates() -> list[Any]:
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


def _intent_aggregates() -> list[Any]:
    """Per intent: conversations, those with a fallback, those handed off."""
    return [
        func.count(),
        func.sum(case((ConversationRow.fallback_count > 0, 1), else_=0)),
        func.sum(case((ConversationRow.outcome == "handed_off", 1), else_=0)),
    ]


def _ratings_per_intent(s: Session, where: list[Any], *groups: Any) -> Any:
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
    keys = _json_keys(s, rated.c.intents, "ri")
    grouped = [rated.c[f"g{i}"] for i in range(len(groups))]
    return (
        select(*grouped, keys.c.key, func.sum(rated.c.score), func.count())
        .select_from(rated)
        .join(keys, true())
        .where(keys.c.key.not_in(NOT_INTENTS))
        .group_by(*grouped, keys.c.key)
    )


def _summarise(s: Session, start: date, end: date) -> int:
    """Writes the summaries of the days from `start` to `end` (replacing any there are)."""
    since, until = datetime.combine(start, time()), datetime.combine(end + timedelta(days=1), time())
    for model in (AnalyticsDayRow, AnalyticsIntentDayRow):
        s.execute(delete(model).where(model.day >= start, model.day <= end))
    day = func.date(ConversationRow.started_at)
    tier = _tier(ConversationRow.customer_id)
    where = [
        ConversationRow.started_at >= since,
        ConversationRow.started_at < until,
        ConversationRow.customer_message_count > 0,
    ]
    joined = (
        select(day, ConversationRow.channel, tier)
        .select_from(ConversationRow)
        .outerjoin(CustomerRow, CustomerRow.id == ConversationRow.customer_id)
    )
    rows = s.execute(
        joined.add_columns(*_cell_aggregates()).where(*where).group_by(day, ConversationRow.channel, tier)
    ).all()
    if rows:
        s.execute(
            insert(AnalyticsDayRow),
            [
                {"day": _day(d), "channel": channel, "tier": t, "conversations": n, "ended": ended,
                 "resolved_by_bot": bot, "handed_off": handed, "abandoned": abandoned, "with_fallback": fallback,
                 "sentiment_sum": float(s_sum), "sentiment_count": int(s_count)}
                for d, channel, t, n, ended, bot, handed, abandoned, fallback, s_sum, s_count in rows
            ],
        )  # fmt: skip
    keys = _json_keys(s, ConversationRow.intents, "i")
    intent_rows = s.execute(
        joined.add_columns(keys.c.key, *_intent_aggregates())
        .join(keys, true())
        .where(*where, ConversationRow.intents.is_not(None), keys.c.key.not_in(NOT_INTENTS))
        .group_by(day, ConversationRow.channel, tier, keys.c.key)
    ).all()
    ratings = {
        (_day(d), channel, t, name): (float(total), int(n))
        for d, channel, t, name, total, n in s.execute(
            _ratings_per_intent(s, where, day, ConversationRow.channel, tier)
        )
    }
    if intent_rows:
        s.execute(
            insert(AnalyticsIntentDayRow),
            [
                {"day": _day(d), "channel": channel, "tier": t, "intent": name, "conversations": n,
                 "with_fallback": fallback, "handed_off": handed,
                 "csat_sum": ratings.get((_day(d), channel, t, name), (0.0, 0))[0],
                 "csat_count": ratings.get((_day(d), channel, t, name), (0, 0))[1]}
                for d, channel, t, name, n, fallback, handed in intent_rows
            ],
        )  # fmt: skip
    return (end - start).days + 1


def days_of(filters: Filters) -> list[date]:
    return [filters.start + timedelta(days=i) for i in range((filters.end - filters.start).days + 1)]


def _tier(customer_id: Any) -> Any:
    """The value tier of the customer the row belongs to (needs the customers outer join)."""
    return case(
        (customer_id.is_(None), "anonymous"),
        (CustomerRow.value_tier.is_(None), "unrated"),
        else_=CustomerRow.value_tier,
    )


def _day(value: Any) -> date:
    """SQLite's date() gives text, PostgreSQL's a date."""
    return value if isinstance(value, date) else date.fromisoformat(str(value))
