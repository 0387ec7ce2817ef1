"""Handing a conversation to a person: the queue, the packet an agent sees, opening hours and expected waits.

A handoff is asked for by the bot (the customer asked for a person; two fallbacks in a row; a strongly negative
message; a complaint from a high-value customer). It waits in the queue, ordered by the customer's value tier
and then by how long they have waited; an agent takes it, talks to the customer through the console, and
resolves it or hands it back to the bot with a note. When nobody is available (outside opening hours, or no
agent signed in) no handoff is made: the bot takes a message, which becomes a ticket.

The packet is what an agent needs the moment they take the conversation: who the customer is and whether
they are verified, their value tier and why, consents, contact preferences, sentiment trend, a summary of
this conversation with its intents and slots, the transcript, and open orders and tickets.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, is_dataclass
from datetime import datetime, time, timedelta, timezone
from enum import Enum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from crm_adapter.domain import InvalidInput, NotAllowed, NotFound
from handoff.rows import AgentRow, HandoffNoteRow, HandoffRow

log = logging.getLogger(__name__)

REASONS = ("asked", "fallbacks", "negative_sentiment", "vip_complaint", "agent_joined")
REASON_LABELS = {
    "asked": "asked for a person",
    "fallbacks": "the bot did not understand twice in a row",
    "negative_sentiment": "strongly negative message",
    "vip_complaint": "complaint from a high-value customer",
    "agent_joined": "an agent stepped in",
}
TIER_RANKS = {"vip": 3, "high": 2, "standard": 1}
OPEN = ("waiting", "assigned")
DEFAULT_HANDLING = timedelta(minutes=4)  # expected time per handoff until there is history to go by
MAX_TAGS, MAX_TAG_CHARS, MAX_NOTE_CHARS = 10, 30, 4000


@dataclass(frozen=True)
class NewHandoff:
    sender_id: str
    channel: str
    customer_id: str | None
    reason: str
    tier: str | None
    packet: dict[str, Any]


@dataclass(frozen=True)
class Handoff:
    handoff_id: int
    sender_id: str
    channel: str
    customer_id: str | None
    reason: str
    status: str
    tier: str | None
    requested_at: datetime
    assigned_at: datetime | None
    closed_at: datetime | None
    agent_id: int | None
    packet: dict[str, Any]
    tags: tuple[str, ...]
    close_note: str | None

    @property
    def reason_label(self) -> str:
        return REASON_LABELS.get(self.reason, self.reason)


@dataclass(frozen=True)
class QueuePlace:
    handoff: Handoff
    position: int  # 1 = next to be taken
    expected_wait: timedelta


@dataclass(frozen=True)
class InboxCounts:
    waiting: int  # for a person, not taken yet
    mine: int  # taken by the agent asking
    open: int  # waiting or taken by anyone


@dataclass(frozen=True)
class Note:
    note_id: int
    agent_id: int | None
    text: str
    created_at: datetime


# ---- opening hours ----------------------------------------------------------------------------

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class OpeningHours:
    """When people answer. Written like `mon-fri 08:00-20:00; sat 09:00-17:00` (in `zone`), or `always`."""

    windows: tuple[tuple[int, time, time], ...]  # (weekday 0=Monday, opens, closes); empty = always open
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Europe/London"))
    text: str = "always"

    @classmethod
    def parse(cls, text: str, zone: str = "Europe/London") -> OpeningHours:
        spec = " ".join(text.lower().split())
        if spec in ("", "always", "24/7"):
            return cls((), ZoneInfo(zone), "always")
        windows = []
        for part in spec.split(";"):
            match = re.fullmatch(r"\s*([a-z]{3})(?:-([a-z]{3}))?\s+(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})\s*", part)
            if not match or match.group(1) not in _DAYS or (match.group(2) and match.group(2) not in _DAYS):
                raise ValueError(f"HANDOFF_HOURS: cannot read {part.strip()!r} (write e.g. 'mon-fri 08:00-20:00')")
            first = _DAYS.index(match.group(1))
            last = _DAYS.index(match.group(2)) if match.group(2) else first
            opens = time(int(match.group(3)), int(match.group(4)))
            closes = (
                time(23, 59, 59)
                if match.group(5, 6) == ("24", "00")
                else time(int(match.group(5)), int(match.group(6)))
            )
            if closes <= opens or last < first:
                raise ValueError(f"HANDOFF_HOURS: {part.strip()!r} closes before it opens")
            windows += [(day, opens, closes) for day in range(first, last + 1)]
        return cls(tuple(windows), ZoneInfo(zone), text.strip())

    def is_open(self, at: datetime) -> bool:
        if not self.windows:
            return True
        local = _aware(at).astimezone(self.zone)
        return any(day == local.weekday() and opens <= local.time() < closes for day, opens, closes in self.windows)

    def open_seconds(self, start: datetime, end: datetime) -> float:
        """Seconds between `start` and `end` (naive UTC or aware) that fall within opening hours: the clock a
        response target runs on."""
        begin, finish = _aware(start), _aware(end)
        if finish <= begin:
            return 0.0
        if not self.windows:
            return (finish - begin).total_seconds()
        total = 0.0
        day = begin.astimezone(self.zone).date() - timedelta(days=1)
        while datetime.combine(day, time.min, self.zone) <= finish:
            for weekday, opens, closes in self.windows:
                if weekday == day.weekday():
                    window_start = datetime.combine(day, opens, self.zone)
                    window_end = datetime.combine(day, closes, self.zone)
                    overlap = (min(finish, window_end) - max(begin, window_start)).total_seconds()
                    total += max(overlap, 0.0)
            day += timedelta(days=1)
        return total

    def next_opening(self, at: datetime) -> datetime | None:
        """When people next answer, in the opening hours' zone (None when always open)."""
        if not self.windows:
            return None
        local = _aware(at).astimezone(self.zone)
        for ahead in range(8):
            day = (local + timedelta(days=ahead)).date()
            for weekday, opens, _ in sorted(self.windows, key=lambda w: w[1]):
                start = datetime.combine(day, opens, self.zone)
                if weekday == day.weekday() and start > local:
                    return start
        return None


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=timezone.utc)  # stored times are naive UTC


# ---- the packet -------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """JSON-ready: dataclasses to dicts, enums to values, datetimes to ISO text."""
    if is_dataclass(value) and not isinstance(value, type):
        return _plain(asdict(value))
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def build_packet(
    *,
    reason: str,
    verified: bool,
    profile: Any | None,  # crm_adapter.domain.CustomerProfile, or None for an anonymous visitor
    orders: list[Any],
    tickets: list[Any],
    transcript: list[dict[str, Any]],
    intents: list[str],
    slots: dict[str, Any],
    sentiment_now: float | None,
) -> dict[str, Any]:
    """The handoff packet as JSON-ready data (shown in the console, posted to an external helpdesk)."""
    customer = None
    if profile is not None:
        value = profile.value
        customer = {
            "customer_id": profile.customer.customer_id,
            "name": f"{profile.customer.first_name} {profile.customer.last_name}".strip(),
            "email": profile.customer.email,
            "phone": profile.customer.phone,
            "verified": verified,
            "value": {
                "score": value.score,
                "tier": value.tier,
                "explanation": value.explanation,
            },
            "consents": _plain(profile.consents),
            "preferences": dict(profile.preferences),
            "sentiment_trend": {"label": profile.sentiment.label, "direction": profile.sentiment.direction},
            "channels": list(profile.channels),
            "conversations": profile.conversations,
            "loyalty_points": profile.loyalty_points,
        }
    said = [t["text"] for t in transcript if t.get("who") == "customer" and t.get("text")]
    counts: dict[str, int] = {}
    for intent in intents:
        counts[intent] = counts.get(intent, 0) + 1
    summary = (
        f"{REASON_LABELS.get(reason, reason).capitalize()}. "
        f"{len(said)} customer message(s) so far"
        + (f"; topics: {', '.join(sorted(counts, key=lambda k: -counts[k]))}" if counts else "")
        + (f". Last said: \u201c{said[-1][:200]}\u201d" if said else "")
        + ("" if customer else ". The customer is not identified.")
    )
    return {
        "version": 1,
        "reason": reason,
        "reason_label": REASON_LABELS.get(reason, reason),
        "customer": customer,
        "conversation": {
            "summary": summary,
            "intents": counts,
            "slots": {k: v for k, v in slots.items() if v not in (None, "", [], {})},
            "sentiment_now": sentiment_now,
            "transcript": transcript,
        },
        "open_orders": _plain(orders),
        "open_tickets": _plain(tickets),
    }


# ---- the service ------------------------------------------------------------------------------


def handoff_of(row: HandoffRow) -> Handoff:
    return Handoff(
        handoff_id=row.id,
        sender_id=row.sender_id,
        channel=row.channel,
        customer_id=row.customer_id,
        reason=row.reason,
        status=row.status,
        tier=row.tier,
        requested_at=row.requested_at,
        assigned_at=row.assigned_at,
        closed_at=row.closed_at,
        agent_id=row.agent_id,
        packet=dict(row.packet or {}),
        tags=tuple(row.tags or ()),
        close_note=row.close_note,
    )


class SqlHandoffService:
    def __init__(
        self,
        session_factory: sessionmaker[Session],
        clock: Callable[[], datetime] | None = None,
        on_request: Callable[[Session, int, dict[str, Any], datetime], Any] | None = None,
    ) -> None:
        self._sessions = session_factory
        self._now = clock or (lambda: datetime.utcnow().replace(microsecond=0))
        self._on_request = on_request  # e.g. queue the packet for an external helpdesk, in the same transaction

    @contextmanager
    def _uow(self) -> Iterator[Session]:
        with self._sessions.begin() as s:
            yield s

    def _row(self, s: Session, handoff_id: int) -> HandoffRow:
        row = s.get(HandoffRow, handoff_id)
        if row is None:
            raise NotFound(f"handoff {handoff_id}")
        return row

    # -- the customer's side --

    def request(self, new: NewHandoff, agents_online: int = 1) -> QueuePlace:
        """Queue the conversation for a person (or return the open handoff it already has), with its place."""
        if new.reason not in REASONS:
            raise InvalidInput("reason", f"A handoff reason is one of {', '.join(REASONS)}.")
        with self._uow() as s:
            row = s.scalar(select(HandoffRow).where(HandoffRow.sender_id == new.sender_id, HandoffRow.status.in_(OPEN)))
            if row is None:
                now = self._now()
                row = HandoffRow(
                    sender_id=new.sender_id,
                    channel=new.channel[:40],
                    customer_id=new.customer_id,
                    reason=new.reason,
                    status="waiting",
                    tier=new.tier,
                    tier_rank=TIER_RANKS.get(new.tier or "", 0),
                    requested_at=now,
                    packet=new.packet,
                    tags=[],
                )
                s.add(row)
                s.flush()
                if self._on_request is not None:
                    self._on_request(s, row.id, {"handoff_id": row.id, **new.packet}, now)
            return self._place(s, row, agents_online)

    def open_for(self, sender_id: str) -> Handoff | None:
        with self._uow() as s:
            row = s.scalar(select(HandoffRow).where(HandoffRow.sender_id == sender_id, HandoffRow.status.in_(OPEN)))
            return handoff_of(row) if row else None

    def cancel(self, sender_id: str) -> bool:
        """The customer no longer waits (e.g. they left); only a handoff nobody has taken yet."""
        with self._uow() as s:
            done = s.execute(
                update(HandoffRow)
                .where(HandoffRow.sender_id == sender_id, HandoffRow.status == "waiting")
                .values(status="cancelled", closed_at=self._now())
            )
            return bool(getattr(done, "rowcount", 0))

    def withdraw(self, handoff_id: int) -> None:
        """An agent's step-in whose message could not reach the customer: cancelled, as the bot was not paused."""
        with self._uow() as s:
            s.execute(
                update(HandoffRow)
                .where(HandoffRow.id == handoff_id, HandoffRow.reason == "agent_joined")
                .values(status="cancelled", closed_at=self._now())
            )

    # -- the queue --

    def _waiting(self, s: Session) -> list[HandoffRow]:
        return list(
            s.scalars(
                select(HandoffRow)
                .where(HandoffRow.status == "waiting")
                .order_by(HandoffRow.tier_rank.desc(), HandoffRow.requested_at, HandoffRow.id)
            )
        )

    def _handling_time(self, s: Session) -> timedelta:
        """The median time from taken to closed over the last 50 handoffs (DEFAULT_HANDLING without any)."""
        rows = s.execute(
            select(HandoffRow.assigned_at, HandoffRow.closed_at)
            .where(HandoffRow.status.in_(("resolved", "returned")), HandoffRow.assigned_at.is_not(None))
            .order_by(HandoffRow.closed_at.desc())
            .limit(50)
        ).all()
        spans = sorted((closed - taken) for taken, closed in rows if taken and closed and closed > taken)
        return spans[len(spans) // 2] if spans else DEFAULT_HANDLING

    def _place(self, s: Session, row: HandoffRow, agents_online: int = 1) -> QueuePlace:
        if row.status != "waiting":
            return QueuePlace(handoff_of(row), 0, timedelta(0))
        ids = [r.id for r in self._waiting(s)]
        position = ids.index(row.id) + 1 if row.id in ids else len(ids)
        wait = self._handling_time(s) * position / max(agents_online, 1)
        return QueuePlace(handoff_of(row), position, wait)

    def place(self, handoff_id: int, agents_online: int = 1) -> QueuePlace:
        with self._uow() as s:
            return self._place(s, self._row(s, handoff_id), agents_online)

    def queue(self) -> list[QueuePlace]:
        """Waiting handoffs by priority (value tier, then waiting time), then those agents are on."""
        with self._uow() as s:
            waiting = self._waiting(s)
            handling = self._handling_time(s)
            places = [QueuePlace(handoff_of(r), i + 1, handling * (i + 1)) for i, r in enumerate(waiting)]
            assigned = s.scalars(
                select(HandoffRow).where(HandoffRow.status == "assigned").order_by(HandoffRow.assigned_at)
            )
            return places + [QueuePlace(handoff_of(r), 0, timedelta(0)) for r in assigned]

    def waiting_count(self) -> int:
        with self._uow() as s:
            return s.scalar(select(func.count()).select_from(HandoffRow).where(HandoffRow.status == "waiting")) or 0

    def counts(self, agent_id: int) -> InboxCounts:
        """What the console's navigation shows: waiting for a person, taken by this agent, open in all."""
        with self._uow() as s:
            rows = s.execute(
                select(HandoffRow.status, HandoffRow.agent_id, func.count())
                .where(HandoffRow.status.in_(OPEN))
                .group_by(HandoffRow.status, HandoffRow.agent_id)
            ).tuples()
            waiting = mine = total = 0
            for status, owner, count in rows:
                total += count
                waiting += count if status == "waiting" else 0
                mine += count if status == "assigned" and owner == agent_id else 0
            return InboxCounts(waiting, mine, total)

    # -- the agent's side --

    def get(self, handoff_id: int) -> Handoff:
        with self._uow() as s:
            return handoff_of(self._row(s, handoff_id))

    def take(self, handoff_id: int, agent_id: int) -> Handoff:
        """The agent takes a waiting conversation; NotAllowed when someone else has it or it is closed."""
        with self._uow() as s:
            taken = s.execute(
                update(HandoffRow)
                .where(HandoffRow.id == handoff_id, HandoffRow.status == "waiting")
                .values(status="assigned", agent_id=agent_id, assigned_at=self._now())
            )
            row = self._row(s, handoff_id)
            if not getattr(taken, "rowcount", 0) and not (row.status == "assigned" and row.agent_id == agent_id):
                raise NotAllowed(f"handoff {handoff_id} is {row.status}" + (" by someone else" if row.agent_id else ""))
            return handoff_of(row)

    def _owned(self, s: Session, handoff_id: int, agent_id: int) -> HandoffRow:
        row = self._row(s, handoff_id)
        if row.status != "assigned" or row.agent_id != agent_id:
            raise NotAllowed(f"handoff {handoff_id} is not yours to work on (it is {row.status})")
        return row

    def check_owner(self, handoff_id: int, agent_id: int) -> Handoff:
        with self._uow() as s:
            return handoff_of(self._owned(s, handoff_id, agent_id))

    def first_response_at(self, handoff_id: int) -> datetime | None:
        with self._uow() as s:
            return self._row(s, handoff_id).first_response_at

    def record_reply(self, handoff_id: int) -> None:
        """The agent replied: the first reply's time is kept (the first-response target stops there)."""
        with self._uow() as s:
            s.execute(
                update(HandoffRow)
                .where(HandoffRow.id == handoff_id, HandoffRow.first_response_at.is_(None))
                .values(first_response_at=self._now())
            )

    def reassign(self, handoff_id: int, to_agent: int) -> Handoff:
        """An open conversation goes to another agent (or a waiting one to its first); NotAllowed once closed."""
        with self._uow() as s:
            row = self._row(s, handoff_id)
            if row.status not in OPEN:
                raise NotAllowed(f"handoff {handoff_id} is {row.status}")
            row.status, row.agent_id = "assigned", to_agent
            row.assigned_at = row.assigned_at or self._now()
            return handoff_of(row)

    def auto_assign(self, online: Sequence[int]) -> list[Handoff]:
        """Round robin with capacity: each waiting conversation, highest priority first, goes to the online agent
        (of `online`, by id) with room (fewer open conversations than their capacity) who was given one least
        recently. Returns what was assigned."""
        if not online:
            return []
        assigned: list[Handoff] = []
        with self._uow() as s:
            capacity = dict(
                s.execute(
                    select(AgentRow.id, AgentRow.capacity).where(AgentRow.id.in_(online), AgentRow.active.is_(True))
                )
                .tuples()
                .all()
            )
            load = dict(
                s.execute(
                    select(HandoffRow.agent_id, func.count())
                    .where(HandoffRow.status == "assigned", HandoffRow.agent_id.in_(capacity))
                    .group_by(HandoffRow.agent_id)
                )
                .tuples()
                .all()
            )
            last = dict(
                s.execute(
                    select(HandoffRow.agent_id, func.max(HandoffRow.assigned_at))
                    .where(HandoffRow.agent_id.in_(capacity), HandoffRow.assigned_at.is_not(None))
                    .group_by(HandoffRow.agent_id)
                )
                .tuples()
                .all()
            )
            never = datetime.min
            waiting = s.scalars(
                select(HandoffRow)
                .where(HandoffRow.status == "waiting")
                .order_by(HandoffRow.tier_rank.desc(), HandoffRow.requested_at, HandoffRow.id)
                .with_for_update(skip_locked=True)
            )
            for row in waiting:
                room = [a for a, cap in capacity.items() if load.get(a, 0) < cap]
                if not room:
                    break
                agent = min(room, key=lambda a: (last.get(a) or never, a))
                now = self._now()
                row.status, row.agent_id, row.assigned_at = "assigned", agent, now
                load[agent] = load.get(agent, 0) + 1
                last[agent] = now
                assigned.append(handoff_of(row))
        return assigned

    def add_note(self, handoff_id: int, agent_id: int, text: str) -> Note:
        clean = text.strip()
        if not clean or len(clean) > MAX_NOTE_CHARS:
            raise InvalidInput("note", f"A note has 1 to {MAX_NOTE_CHARS} characters.")
        with self._uow() as s:
            self._row(s, handoff_id)
            row = HandoffNoteRow(handoff_id=handoff_id, agent_id=agent_id, text=clean, created_at=self._now())
            s.add(row)
            s.flush()
            return Note(row.id, agent_id, clean, row.created_at)

    def notes(self, handoff_id: int) -> list[Note]:
        with self._uow() as s:
            rows = s.scalars(
                select(HandoffNoteRow).where(HandoffNoteRow.handoff_id == handoff_id).order_by(HandoffNoteRow.id)
            )
            return [Note(r.id, r.agent_id, r.text, r.created_at) for r in rows]

    def set_tags(self, handoff_id: int, tags: list[str]) -> Handoff:
        clean: list[str] = []
        for tag in tags:
            t = " ".join(tag.strip().lower().split())
            if t and t not in clean:
                if len(t) > MAX_TAG_CHARS:
                    raise InvalidInput("tags", f"A tag has at most {MAX_TAG_CHARS} characters.")
                clean.append(t)
        if len(clean) > MAX_TAGS:
            raise InvalidInput("tags", f"At most {MAX_TAGS} tags.")
        with self._uow() as s:
            row = self._row(s, handoff_id)
            row.tags = clean
            return handoff_of(row)

    def close(self, handoff_id: int, agent_id: int, outcome: str, note: str | None = None) -> Handoff:
        """`resolved` (the agent dealt with it) or `returned` (back to the bot, with a note for the record)."""
        if outcome not in ("resolved", "returned"):
            raise InvalidInput("outcome", "A handoff closes as 'resolved' or 'returned'.")
        clean = (note or "").strip()[:MAX_NOTE_CHARS] or None
        with self._uow() as s:
            row = self._owned(s, handoff_id, agent_id)
            row.status, row.closed_at, row.close_note = outcome, self._now(), clean
            return handoff_of(row)
