"""Response targets (SLAs): how soon a person first replies after a customer asked for one, and how soon the
conversation is resolved, both counted in opening hours only (a customer who asks at 19:55 on Friday is not late
at 08:00 on Monday). Each open conversation shows the time left; the team's figures count the breaches per agent
and for the team, next to each agent's CSAT.

A conversation an agent stepped into (nobody asked) is measured too: from the moment they stepped in.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import and_, select
from sqlalchemy.orm import Session, sessionmaker

from crm_adapter.domain import InvalidInput
from crm_adapter.rules import utcnow
from handoff.rows import AgentRow, HandoffRow
from handoff.service import Handoff, OpeningHours, handoff_of
from history.rows import ConversationRow
from relationship.rows import FeedbackRow
from workspace.rows import ResponseTargetsRow

DEFAULT_FIRST_RESPONSE, DEFAULT_RESOLUTION = 5, 60  # minutes of opening hours
MAX_MINUTES = 7 * 24 * 60


@dataclass(frozen=True)
class Targets:
    first_response_minutes: int = DEFAULT_FIRST_RESPONSE
    resolution_minutes: int = DEFAULT_RESOLUTION
    updated_by: str | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True)
class Clock:
    """One target on one conversation: minutes of opening hours left (negative: late by that much), or met."""

    label: str  # first reply | resolution
    minutes_left: float
    met: bool  # done within the target
    done: bool  # the reply was sent / the conversation was closed

    @property
    def breached(self) -> bool:
        return not self.met and (self.done or self.minutes_left < 0)


@dataclass(frozen=True)
class Due:
    first_reply: Clock
    resolution: Clock


@dataclass
class AgentFigures:
    agent_id: int | None
    name: str
    handled: int = 0
    first_reply_breaches: int = 0
    resolution_breaches: int = 0
    first_reply_minutes: list[float] = field(default_factory=list)
    csat: list[int] = field(default_factory=list)

    @property
    def median_first_reply(self) -> float | None:
        return statistics.median(self.first_reply_minutes) if self.first_reply_minutes else None

    @property
    def average_csat(self) -> float | None:
        return round(sum(self.csat) / len(self.csat), 2) if self.csat else None


class ResponseTargets:
    """The targets, kept in one row (defaults until an admin sets them), and each conversation's clocks."""

    def __init__(
        self, sessions: sessionmaker[Session], hours: OpeningHours, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self._sessions, self.hours, self._clock = sessions, hours, clock

    def get(self) -> Targets:
        with self._sessions() as s:
            row = s.get(ResponseTargetsRow, 1)
            if row is None:
                return Targets()
            return Targets(row.first_response_minutes, row.resolution_minutes, row.updated_by, row.updated_at)

    def set(self, first_response_minutes: int, resolution_minutes: int, by: str) -> Targets:
        for name, value in (("first_response", first_response_minutes), ("resolution", resolution_minutes)):
            if not 1 <= value <= MAX_MINUTES:
                raise InvalidInput(name, f"A target is between 1 minute and {MAX_MINUTES} minutes (a week).")
        if resolution_minutes < first_response_minutes:
            raise InvalidInput("resolution", "The resolution target cannot be shorter than the first reply's.")
        with self._sessions() as s, s.begin():
            row = s.get(ResponseTargetsRow, 1) or ResponseTargetsRow(id=1)
            row.first_response_minutes, row.resolution_minutes = first_response_minutes, resolution_minutes
            row.updated_by, row.updated_at = by, self._clock()
            s.add(row)
        return self.get()

    def _open_minutes(self, start: datetime, end: datetime) -> float:
        return self.hours.open_seconds(start, end) / 60

    def due(self, handoff: Handoff, first_response_at: datetime | None, targets: Targets | None = None) -> Due:
        """The two clocks of a conversation now (or as it ended)."""
        targets = targets or self.get()
        now = self._clock()
        start = handoff.requested_at
        replied = first_response_at
        first_used = self._open_minutes(start, replied or handoff.closed_at or now)
        closed = handoff.closed_at if handoff.status in ("resolved", "returned") else None
        resolution_used = self._open_minutes(start, closed or now)
        first = Clock(
            "first reply",
            targets.first_response_minutes - first_used,
            replied is not None and first_used <= targets.first_response_minutes,
            replied is not None,
        )
        resolution = Clock(
            "resolution",
            targets.resolution_minutes - resolution_used,
            closed is not None and resolution_used <= targets.resolution_minutes,
            closed is not None,
        )
        return Due(first, resolution)

    def open_clocks(self) -> dict[int, Due]:
        """The clocks of every open conversation, by handoff id."""
        targets = self.get()
        with self._sessions() as s:
            rows = list(s.scalars(select(HandoffRow).where(HandoffRow.status.in_(("waiting", "assigned")))))
            return {r.id: self.due(handoff_of(r), r.first_response_at, targets) for r in rows}

    def figures(self, start: date, end: date) -> tuple[list[AgentFigures], AgentFigures]:
        """Per agent and for the team: conversations closed between `start` and `end` (inclusive, UTC days) by a
        person, the breaches of each target, the median first reply (minutes of opening hours) and the CSAT the
        customers gave those conversations."""
        targets = self.get()
        since = datetime.combine(start, time.min)
        until = datetime.combine(end + timedelta(days=1), time.min)
        with self._sessions() as s:
            names = dict(s.execute(select(AgentRow.id, AgentRow.display_name)).tuples().all())
            rows = list(
                s.scalars(
                    select(HandoffRow).where(
                        HandoffRow.status.in_(("resolved", "returned")),
                        HandoffRow.closed_at >= since,
                        HandoffRow.closed_at < until,
                    )
                )
            )
            ratings = self._ratings(s, rows)
        per_agent: dict[int | None, AgentFigures] = {}
        team = AgentFigures(None, "Team")
        for row in rows:
            agent = per_agent.setdefault(row.agent_id, AgentFigures(row.agent_id, names.get(row.agent_id or -1, "?")))
            due = self.due(handoff_of(row), row.first_response_at, targets)
            for figures in (agent, team):
                figures.handled += 1
                figures.first_reply_breaches += due.first_reply.breached
                figures.resolution_breaches += due.resolution.breached
                if row.first_response_at is not None:
                    figures.first_reply_minutes.append(self._open_minutes(row.requested_at, row.first_response_at))
                figures.csat.extend(ratings.get(row.id, []))
        return sorted(per_agent.values(), key=lambda f: f.name), team

    @staticmethod
    def _ratings(s: Session, rows: Iterable[HandoffRow]) -> dict[int, list[int]]:
        """CSAT scores given for each handoff's conversation: the customer's rating of the conversation that had the
        handoff (same sender, started before it was asked for), given after it closed and resolved by a person."""
        found: dict[int, list[int]] = defaultdict(list)
        for row in rows:
            scores = s.execute(
                select(FeedbackRow.score)
                .join(ConversationRow, ConversationRow.id == FeedbackRow.conversation_id)
                .where(
                    and_(
                        FeedbackRow.kind == "csat",
                        FeedbackRow.resolution == "person",
                        FeedbackRow.score.is_not(None),
                        ConversationRow.sender_id == row.sender_id,
                        ConversationRow.started_at <= row.requested_at,
                        FeedbackRow.created_at >= row.closed_at,
                        FeedbackRow.created_at < (row.closed_at or row.requested_at) + timedelta(hours=24),
                    )
                )
            ).scalars()
            found[row.id].extend(int(score) for score in scores if score is not None)
        return found
