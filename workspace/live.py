"""The conversations the bot is having now, as history ingestion records them, with a flag on those going badly, so
an agent can step in before the customer asks for a person.

A conversation is live while it has not ended, nobody was brought in, and something was said in the last
`window` (15 minutes). It is flagged when the bot is not understanding the customer: it did not understand their
latest message, or two of their last four (at two in a row the bot brings a person in itself, when one is
available); or when the customer's mood is falling: their latest message scores -0.5 or below, or -0.2 or below
after a drop of 0.4 from their first (VADER's compound score, recorded with each message).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from crm_adapter.domain import NotFound
from crm_adapter.rules import utcnow
from crm_adapter.sql.models import CustomerRow
from handoff.rows import HandoffRow
from history.rows import ConversationRow, MessageRow

WINDOW = timedelta(minutes=15)
FALLBACK_INTENT = "nlu_fallback"
LOW_MOOD, FALLING_TO, FALL = -0.5, -0.2, 0.4
RECENT_LINES = 6  # the last lines shown on the live list
FLAG_LABELS = {
    "fallbacks": "the bot is not understanding",
    "sentiment": "the customer's mood is falling",
}


@dataclass(frozen=True)
class Line:
    who: str  # customer | bot | agent
    text: str


@dataclass(frozen=True)
class LiveConversation:
    conversation_id: int
    sender_id: str
    channel: str
    customer_id: str | None
    customer_name: str | None
    started_at: datetime
    last_event_at: datetime
    customer_messages: int
    intents: tuple[str, ...]
    mood: float | None  # the customer's latest message's score
    flags: tuple[str, ...]  # fallbacks | sentiment
    recent: tuple[Line, ...]

    @property
    def flag_labels(self) -> tuple[str, ...]:
        return tuple(FLAG_LABELS[f] for f in self.flags)


def flags_of(customer_lines: list[MessageRow]) -> tuple[str, ...]:
    """The flags of a conversation from its customer's messages, oldest first."""
    found = []
    intents = [m.intent for m in customer_lines]
    if intents and (intents[-1] == FALLBACK_INTENT or intents[-4:].count(FALLBACK_INTENT) >= 2):
        found.append("fallbacks")
    moods = [m.sentiment for m in customer_lines if m.sentiment is not None]
    if moods and (moods[-1] <= LOW_MOOD or (moods[-1] <= FALLING_TO and moods[0] - moods[-1] >= FALL)):
        found.append("sentiment")
    return tuple(found)


class LiveConversations:
    def __init__(
        self, sessions: sessionmaker[Session], clock: Callable[[], datetime] = utcnow, window: timedelta = WINDOW
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._window = window

    def now(self, limit: int = 200) -> list[LiveConversation]:
        """Flagged first, then the most recently active."""
        since = self._clock() - self._window
        with self._sessions() as s:
            with_a_person = select(HandoffRow.sender_id).where(HandoffRow.status.in_(("waiting", "assigned")))
            rows = s.execute(
                select(ConversationRow, CustomerRow.first_name, CustomerRow.last_name)
                .outerjoin(CustomerRow, CustomerRow.id == ConversationRow.customer_id)
                .where(
                    ConversationRow.ended_at.is_(None),
                    ConversationRow.handed_off.is_(False),
                    ConversationRow.last_event_at >= since,
                    ConversationRow.sender_id.not_in(with_a_person),
                )
                .order_by(ConversationRow.last_event_at.desc())
                .limit(limit)
            ).all()
            lines = self._lines(s, [r[0].id for r in rows])
        live = [self._live(conv, first, last, lines[conv.id]) for conv, first, last in rows]
        return sorted(live, key=lambda c: (not c.flags, -c.last_event_at.timestamp()))

    def get(self, conversation_id: int) -> LiveConversation:
        """One live conversation (NotFound when it is not live any more, or never was)."""
        for conversation in self.now():
            if conversation.conversation_id == conversation_id:
                return conversation
        raise NotFound(f"conversation {conversation_id}")

    @staticmethod
    def _lines(s: Session, ids: list[int]) -> dict[int, list[MessageRow]]:
        found: dict[int, list[MessageRow]] = defaultdict(list)
        if ids:
            for message in s.scalars(
                select(MessageRow).where(MessageRow.conversation_id.in_(ids)).order_by(MessageRow.id)
            ):
                found[message.conversation_id].append(message)
        return found

    @staticmethod
    def _live(conv: ConversationRow, first: str | None, last: str | None, lines: list[MessageRow]) -> LiveConversation:
        said = [m for m in lines if m.sender == "customer"]
        moods = [m.sentiment for m in said if m.sentiment is not None]
        return LiveConversation(
            conversation_id=conv.id,
            sender_id=conv.sender_id,
            channel=conv.channel,
            customer_id=conv.customer_id,
            customer_name=f"{first} {last}".strip() if first is not None else None,
            started_at=conv.started_at,
            last_event_at=conv.last_event_at or conv.started_at,
            customer_messages=len(said),
            intents=tuple((conv.intents or {}).keys()),
            mood=moods[-1] if moods else None,
            flags=flags_of(said),
            recent=tuple(Line(m.sender, m.text) for m in lines[-RECENT_LINES:] if m.text),
        )
