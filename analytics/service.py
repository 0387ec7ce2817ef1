"""SqlAnalytics: the analytics report of a date range, from the daily summaries and the live counts."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta
from typing import Any, TypeVar

from sqlalchemy.orm import Session, sessionmaker

from analytics import live, summaries
from analytics.metrics import (
    Cell,
    Figures,
    Filters,
    IntentFigures,
    IntentTally,
    Report,
    Rising,
    fold,
    intent_figures,
    tally_counts,
    tally_ratings,
)
from analytics.queries import give_sorts_memory
from crm_adapter.sql.db import unavailable_as_crm_error

T = TypeVar("T")


class SqlAnalytics:
    """Closed days (up to `summaries.OPEN_DAYS` before today) are read from the daily summaries in
    `analytics_days` and `analytics_intent_days`, which `refresh_summaries()` writes (and `report()` brings up
    to date first); the days after them are counted live from the conversations. Ratings, medians and example
    conversations are always read live. A summarised day keeps the tiers customers had when it was
    summarised."""

    def __init__(self, sessions: sessionmaker[Session], today: Callable[[], date] | None = None) -> None:
        self._sessions = sessions
        self._today = today or (lambda: datetime.utcnow().date())

    def summarised_until(self) -> date | None:
        with self._uow() as s:
            return summaries.summarised_until(s)

    def refresh_summaries(self) -> int:
        """Summarises every closed day not summarised yet; returns how many days it wrote."""
        with self._uow() as s, s.begin():
            return summaries.refresh(s, self._today())

    @contextmanager
    def _uow(self) -> Iterator[Session]:
        with unavailable_as_crm_error(), self._sessions() as s:
            yield s

    def report(self, filters: Filters) -> Report:
        done = self.summarised_until()
        if (done or date.min) < self._today() - timedelta(days=summaries.OPEN_DAYS):
            self.refresh_summaries()
            done = self.summarised_until()
        # The first day counted live: the day after the last summarised one.
        live_from = max(filters.start, done + timedelta(days=1)) if done else filters.start
        # Two independent halves on two connections at once: the database uses both cores.
        with ThreadPoolExecutor(max_workers=2) as pool:
            per_intent = pool.submit(self._in_transaction, self._intents, filters, live_from)
            cells, medians = self._in_transaction(self._cells, filters, live_from)
            intents, rising = per_intent.result()
        return fold(filters, cells, medians, intents, rising)

    def _in_transaction(self, work: Callable[[Session, Filters, date], T], filters: Filters, live_from: date) -> T:
        with self._uow() as s:
            give_sorts_memory(s)
            return work(s, filters, live_from)

    @staticmethod
    def _cells(
        s: Session, filters: Filters, live_from: date
    ) -> tuple[dict[Cell, Figures], dict[tuple[str, Any], float]]:
        by_cell: dict[Cell, Figures] = defaultdict(Figures)
        if live_from > filters.start:
            summaries.read_cells(s, filters, live_from, by_cell)
        if live_from <= filters.end:
            live.count_cells(s, filters, by_cell, since=datetime.combine(live_from, time()))
        live.count_ratings(s, filters, by_cell)
        return by_cell, live.medians(s, filters)

    @staticmethod
    def _intents(s: Session, filters: Filters, live_from: date) -> tuple[tuple[IntentFigures, ...], tuple[Rising, ...]]:
        """Per intent, in SQL: each conversation's intents come out of its JSON, joined to the conversation."""
        tallies: defaultdict[str, IntentTally] = defaultdict(IntentTally)
        live_since = datetime.combine(live_from, time())
        if live_from > filters.start:
            tally_counts(tallies, summaries.intent_counts(s, filters, live_from))
        if live_from <= filters.end:
            tally_counts(tallies, live.intent_counts(s, filters, live_since))
        if live_from > filters.start:
            tally_ratings(tallies, summaries.intent_ratings(s, filters, live_from))
        if live_from <= filters.end:
            tally_ratings(tallies, live.intent_ratings(s, filters, live_since))
        return intent_figures(tallies, live.examples(s, filters))
