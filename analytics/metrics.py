"""The figures of conversation analytics and their formulas: how the assistant is doing, per day, channel and
intent, over a date range. Plain dataclasses and pure functions; the SQL that counts lives elsewhere.

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

import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from crm_adapter.domain import InvalidInput
from relationship import value

MAX_DAYS = 731
TIERS = (*(name for name, _ in value.TIERS), "unrated", "anonymous")
RISING_SHOWN = 5

Cell = tuple[date, str, str]  # day, channel, tier: the finest grouping the figures are counted in


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

    @property
    def middle(self) -> datetime:
        """Where the second half of the range starts (for the rising intents)."""
        return datetime.combine(self.start + (self.end - self.start + timedelta(days=1)) / 2, time())


def days_of(filters: Filters) -> list[date]:
    return [filters.start + timedelta(days=i) for i in range((filters.end - filters.start).days + 1)]


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

    def rate(self, kind: str, resolution: str | None, score: int) -> None:
        """Counts a rating: an NPS score, or a CSAT one for the bot or (resolution "person") a person."""
        if kind == "nps":
            self.nps.append(score)
        elif kind == "csat":
            (self.csat_person if resolution == "person" else self.csat_bot).append(score)

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


@dataclass
class IntentTally:
    """What is counted per intent before it becomes IntentFigures: the counts and the CSAT ratings."""

    conversations: int = 0
    with_fallback: int = 0
    handed_off: int = 0
    recent: int = 0  # conversations in the second half of the range
    csat_sum: float = 0.0
    csat_count: int = 0


def tally_counts(tallies: defaultdict[str, IntentTally], rows: Iterable[Any]) -> None:
    """Adds rows of (intent, conversations, with a fallback, handed off, in the second half)."""
    for name, n, fallbacks, handoffs, recent in rows:
        t = tallies[name]
        t.conversations += int(n or 0)
        t.with_fallback += int(fallbacks or 0)
        t.handed_off += int(handoffs or 0)
        t.recent += int(recent or 0)


def tally_ratings(tallies: defaultdict[str, IntentTally], rows: Iterable[Any]) -> None:
    """Adds rows of (intent, sum of the CSAT ratings, ratings)."""
    for name, total, n in rows:
        tallies[name].csat_sum += float(total or 0)
        tallies[name].csat_count += int(n or 0)


def intent_figures(
    tallies: dict[str, IntentTally], examples: dict[str, list[int]]
) -> tuple[tuple[IntentFigures, ...], tuple[Rising, ...]]:
    """The intents used in the range, most used first, and the fastest-rising ones."""
    used = sorted(
        ((name, t) for name, t in tallies.items() if t.conversations), key=lambda i: (-i[1].conversations, i[0])
    )
    figures = tuple(
        IntentFigures(
            intent=name,
            conversations=t.conversations,
            fallback_rate=round(t.with_fallback / t.conversations, 4),
            handoff_rate=round(t.handed_off / t.conversations, 4),
            csat=round(t.csat_sum / t.csat_count, 3) if t.csat_count else None,
            csat_ratings=t.csat_count,
            examples=tuple(examples.get(name, ())),
        )
        for name, t in used
    )
    rising = sorted(
        (Rising(name, t.conversations - t.recent, t.recent) for name, t in used if 2 * t.recent > t.conversations),
        key=lambda r: (-r.change, r.intent),
    )
    return figures, tuple(rising[:RISING_SHOWN])


@dataclass(frozen=True)
class Report:
    filters: Filters
    total: Figures
    by_day: dict[date, Figures]
    by_channel: dict[str, Figures]
    by_tier: dict[str, Figures]
    intents: tuple[IntentFigures, ...]  # most used first
    rising: tuple[Rising, ...]

    def per_day(self) -> list[tuple[date, Figures]]:
        """Every day of the range with its figures (empty ones on days without conversations)."""
        return [(d, self.by_day.get(d, Figures())) for d in days_of(self.filters)]

    def worst(self, by: str, top: int = 5) -> list[IntentFigures]:
        """The worst intents by "fallbacks", "handoffs" or "csat" (intents with at least one rating)."""
        if by == "fallbacks":
            return sorted(self.intents, key=lambda i: (-i.fallback_rate, -i.conversations))[:top]
        if by == "handoffs":
            return sorted(self.intents, key=lambda i: (-i.handoff_rate, -i.conversations))[:top]
        rated = [i for i in self.intents if i.csat is not None]
        return sorted(rated, key=lambda i: (i.csat, -i.csat_ratings))[:top]


def fold(
    filters: Filters,
    cells: dict[Cell, Figures],
    medians: dict[tuple[str, Any], float],
    intents: tuple[IntentFigures, ...],
    rising: tuple[Rising, ...],
) -> Report:
    """The report from the figures per cell: added up overall, per day, per channel and per tier."""
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
