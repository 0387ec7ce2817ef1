"""Projects Rasa's event log into the relationship history (conversations and messages).

One `project()` call applies one batch of events inside the caller's unit of work, so
the rows it writes and the ingestion checkpoint commit together or not at all. Every
message row carries the key of the event it came from (unique), so a batch that is
read twice never doubles a message.

A conversation is a Rasa session: it starts at `session_started` (or `restart`), and
ends when the next one starts or when it has been idle longer than the session
expiry. Its customer is whoever the bot identified in it (the `customer_id` slot), and
nothing else: an earlier anonymous conversation on the same sender id stays anonymous,
because a sender id proves nothing about who typed in an earlier session (a shared
device, a REST caller's id, a session id named by someone else).

Each customer message gets a sentiment score (shared/sentiment.py), summed up per
conversation.

Consent: for a customer who has said "do not remember my conversations", messages are
kept without their text, slot values or review rows. When such a conversation ends it is
de-identified (no customer, a pseudonymous sender id), and a redaction job is filed so
history ingestion also removes the text from Rasa's tracker store
(relationship/privacy.py).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_adapter.sql.models import CustomerRow
from history.rows import ConversationRow, MessageRow
from nlu_review.rows import NluReviewRow
from relationship.rows import ConsentRow
from shared import sentiment

log = logging.getLogger(__name__)

UNKNOWN_CHANNEL = "unknown"
# Actions that hand the conversation to a person, and responses (and Rasa's fallback action) that mean
# the bot did not understand; a fallback is counted on the bot message that says so.
HANDOFF_ACTIONS = frozenset({"action_request_human"})
FALLBACK_ACTIONS = frozenset(
    {"action_default_fallback", "utter_default", "utter_fallback_offer_human", "utter_knowledge_unknown"}
)
# Out of scope is a question for the help centre now: only its "I don't know" (a fallback action) counts.
FALLBACK_INTENTS = frozenset({"nlu_fallback"})
SILENT_ACTIONS = frozenset({"action_listen", "action_session_start"})
IDLE_CLOSE_BATCH = 1000
# Customer messages the bot fell back on, or understood with less confidence than this, go to
# the review queue (nlu_review/queue.py) for a person to label.
REVIEW_BELOW = 0.5
SECRET_SLOTS = frozenset({"identity_proof", "otp_code"})  # never copied into the history
# Orders are what the customer named; tickets and returns are what the bot created and quoted.
CUSTOMER_REFERENCES = {"orders": re.compile(r"\bJH\d{6}\b", re.IGNORECASE)}
BOT_REFERENCES = {"tickets": re.compile(r"\bTK-[A-Z0-9]{6}\b"), "returns": re.compile(r"\bRMA-[A-Z0-9]{6}\b")}
OUTCOME_LABELS = {
    "resolved_by_bot": "resolved by the bot",
    "handed_off": "handed to a person",
    "abandoned": "abandoned",
}


@dataclass(frozen=True)
class SourceEvent:
    """One event of Rasa's log, as read from the tracker store or the event broker."""

    sender_id: str
    data: Mapping[str, Any]
    key: str

    @classmethod
    def of(cls, sender_id: str, data: Mapping[str, Any]) -> SourceEvent:
        return cls(sender_id, data, event_key(sender_id, data))

    @property
    def type(self) -> str:
        return str(self.data.get("event") or "")

    @property
    def at(self) -> datetime:
        return datetime.utcfromtimestamp(float(self.data.get("timestamp") or 0))


def event_key(sender_id: str, data: Mapping[str, Any]) -> str:
    """A stable identity for an event: the same event read from either source gets the same key."""
    body = {k: v for k, v in data.items() if k != "sender_id"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{sender_id}\n{canonical}".encode()).hexdigest()


@dataclass
class _Open:
    """A conversation touched by this batch, with its newest customer message."""

    row: ConversationRow
    last_user: MessageRow | None = None
    changed: bool = False


@dataclass
class BatchResult:
    events: int = 0
    messages: int = 0
    skipped: int = 0


class HistoryProjector:
    def __init__(self, session: Session) -> None:
        self._s = session
        self._open: dict[str, _Open] = {}
        self._remembers: dict[str, bool] = {}  # customer id -> may we keep their conversations' content?

    def _load_consents(self, batch: list[SourceEvent]) -> None:
        """The history consent of every customer the batch can touch, in one query (instead of one each)."""
        ids = {state.row.customer_id for state in self._open.values() if state.row.customer_id}
        ids |= {
            str(e.data["value"])
            for e in batch
            if e.type == "slot" and e.data.get("name") == "customer_id" and e.data.get("value")
        }
        ids -= self._remembers.keys()
        if not ids:
            return
        refusing = set(
            self._s.scalars(
                select(ConsentRow.customer_id).where(
                    ConsentRow.customer_id.in_(ids), ConsentRow.purpose == "history", ConsentRow.granted.is_(False)
                )
            )
        )
        self._remembers.update({customer_id: customer_id not in refusing for customer_id in ids})

    def remembers(self, customer_id: str | None) -> bool:
        """False when the customer refused the history purpose; anonymous conversations are kept in full
        (the first conversation asks, and a later refusal removes what was kept)."""
        if customer_id is None:
            return True
        if customer_id not in self._remembers:
            self._remembers[customer_id] = remembers(self._s, customer_id)
        return self._remembers[customer_id]

    def project(self, events: Iterable[SourceEvent]) -> BatchResult:
        batch = list(events)
        result = BatchResult(events=len(batch))
        message_keys = [e.key for e in batch if e.type in ("user", "bot")]
        seen: set[str] = set()
        if message_keys:
            query = select(MessageRow.event_key).where(MessageRow.event_key.in_(message_keys))
            seen.update(key for key in self._s.scalars(query) if key is not None)
        self._preload({e.sender_id for e in batch})
        self._load_consents(batch)
        replaying: set[str] = set()  # senders whose newest message was projected before
        with self._s.no_autoflush:  # one flush per batch, not one per lookup
            for event in batch:
                self._one(event, seen, replaying, result)
        self._s.flush()
        for state in self._open.values():
            if state.last_user is not None:
                state.row.last_user_message_id = state.last_user.id
            if state.changed:
                state.row.summary = summarize(state.row)
        return result

    def _one(self, event: SourceEvent, seen: set[str], replaying: set[str], result: BatchResult) -> None:
        try:
            if event.type in ("user", "bot"):
                if event.key in seen:
                    replaying.add(event.sender_id)
                else:
                    replaying.discard(event.sender_id)
            if event.key in seen or (event.sender_id in replaying and event.type not in ("session_started", "restart")):
                result.skipped += 1  # already in the history, with what followed it
                return
            if self._apply(event):
                result.messages += 1
                seen.add(event.key)
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            # A malformed event must not stop the history; it is logged with its key so it can be found.
            result.skipped += 1
            log.error("history: could not project event %s of %s: %s", event.key, event.sender_id, exc)

    # ---- one event ------------------------------------------------------

    def _apply(self, event: SourceEvent) -> bool:
        """Applies one event; True when it became a message."""
        kind = event.type
        if kind in ("session_started", "restart"):
            self._start(event)
            return False
        state = self._current(event)
        conv = state.row
        data = event.data
        if not (kind == "action" and data.get("name") in SILENT_ACTIONS):
            conv.last_event_at = max(conv.last_event_at or event.at, event.at)
        if conv.ended_at is not None and kind in ("user", "bot"):
            conv.ended_at, conv.outcome = None, None  # the customer came back before a new session began
        state.changed = True
        if kind == "user":
            self._user(state, event)
            return True
        if kind == "bot":
            self._bot(state, event)
            return True
        if kind == "action":
            self._action(state, str(data.get("name") or ""))
        elif kind == "slot":
            self._slot(state, str(data.get("name") or ""), data.get("value"))
        elif kind == "active_loop":
            conv.active_loop = data.get("name") or None
        return False

    def _user(self, state: _Open, event: SourceEvent) -> None:
        conv, data = state.row, event.data
        parse = data.get("parse_data") or {}
        intent = parse.get("intent") or {}
        name = intent.get("name")
        metadata = data.get("metadata") or {}
        if conv.channel == UNKNOWN_CHANNEL:
            channel = metadata.get("channel") if isinstance(metadata, dict) else None
            conv.channel = str(channel or data.get("input_channel") or UNKNOWN_CHANNEL)[:40]
        text = data.get("text")
        mood = sentiment.score(text) if isinstance(text, str) else None
        keep = self.remembers(conv.customer_id)
        row = MessageRow(
            conversation_id=conv.id,
            sender="customer",
            text=text if keep else None,
            intent=str(name)[:80] if name else None,
            confidence=float(intent["confidence"]) if intent.get("confidence") is not None else None,
            created_at=event.at,
            event_key=event.key,
            actions=[],
            slots={},
            sentiment=mood,
        )
        self._s.add(row)
        if mood is not None:
            conv.sentiment_sum = (conv.sentiment_sum or 0.0) + mood
            conv.sentiment_count = (conv.sentiment_count or 0) + 1
            conv.sentiment_min = mood if conv.sentiment_min is None else min(conv.sentiment_min, mood)
        if not keep:
            text = None
        if text and (name == "nlu_fallback" or (row.confidence is not None and row.confidence < REVIEW_BELOW)):
            guess = _best_guess(parse)
            self._s.add(
                NluReviewRow(
                    message=row,
                    text=str(text)[:2000],
                    predicted_intent=guess[0],
                    confidence=guess[1],
                    status="pending",
                    created_at=event.at,
                )
            )
        state.last_user = row
        conv.message_count += 1
        conv.customer_message_count += 1
        if name:
            intents = dict(conv.intents or {})
            intents[str(name)] = intents.get(str(name), 0) + 1
            conv.intents = intents
            if name in FALLBACK_INTENTS:
                conv.fallback_count += 1
        _collect_refs(conv, text, CUSTOMER_REFERENCES)

    def _bot(self, state: _Open, event: SourceEvent) -> None:
        conv, data = state.row, event.data
        metadata = data.get("metadata") or {}
        response = metadata.get("utter_action") if isinstance(metadata, dict) else None
        keep = self.remembers(conv.customer_id)
        self._s.add(
            MessageRow(
                conversation_id=conv.id,
                sender="agent" if isinstance(metadata, dict) and metadata.get("agent") else "bot",  # console replies
                text=data.get("text") if keep else None,
                created_at=event.at,
                event_key=event.key,
                response=str(response)[:80] if response else None,
            )
        )
        conv.message_count += 1
        if response in FALLBACK_ACTIONS:  # "I didn't understand", whichever action said it
            conv.fallback_count += 1
            conv.last_action = str(response)
        _collect_refs(conv, data.get("text"), BOT_REFERENCES)

    def _action(self, state: _Open, name: str) -> None:
        if not name or name in SILENT_ACTIONS:
            return
        conv = state.row
        conv.last_action = name[:80]
        if name in HANDOFF_ACTIONS:
            conv.handed_off = True
        last = self._last_user(state)
        if last is not None:
            last.actions = [*(last.actions or []), name]

    def _slot(self, state: _Open, name: str, value: Any) -> None:
        conv = state.row
        if name == "customer_id":
            if value:
                self._identify(conv, str(value))
        if name == "order_number" and isinstance(value, str):
            _collect_refs(conv, value, CUSTOMER_REFERENCES)
        if name in ("knowledge_article", "knowledge_feedback") and isinstance(value, str) and value:
            _help_article(conv, value)
        last = self._last_user(state)
        if last is not None and name:
            hidden = name in SECRET_SLOTS or not self.remembers(conv.customer_id)
            last.slots = {**(last.slots or {}), name: "***" if hidden and value else value}

    # ---- conversations --------------------------------------------------

    def _start(self, event: SourceEvent) -> None:
        started = self._s.scalar(select(ConversationRow).where(ConversationRow.session_key == event.key))
        if started is not None:  # read before: that conversation is the current one again
            self._open[event.sender_id] = _Open(started)
            return
        state = self._open.get(event.sender_id)
        if state is not None and state.row.message_count == 0 and state.row.ended_at is None:
            # The events just before a session's start (action_session_start) opened this one already.
            state.row.session_key = event.key
            return
        if state is not None:
            self.close(state.row)
            state.changed = True
            self._s.flush()
        self._new(event)

    def _current(self, event: SourceEvent) -> _Open:
        state = self._open.get(event.sender_id)
        return state if state is not None else self._new(event)

    def _preload(self, senders: set[str]) -> None:
        """The current conversation of every sender in the batch, and its newest customer message,
        in two queries (instead of two per sender)."""
        senders -= self._open.keys()
        if not senders:
            return
        newest = (
            select(func.max(ConversationRow.id))
            .where(ConversationRow.sender_id.in_(senders), ConversationRow.session_key.is_not(None))
            .group_by(ConversationRow.sender_id)
        )
        rows = self._s.scalars(select(ConversationRow).where(ConversationRow.id.in_(newest))).all()
        for row in rows:
            self._open[row.sender_id] = _Open(row)
        last_ids = [row.last_user_message_id for row in rows if row.last_user_message_id is not None]
        if last_ids:
            messages = {m.id: m for m in self._s.scalars(select(MessageRow).where(MessageRow.id.in_(last_ids)))}
            for row in rows:
                if row.last_user_message_id is not None:
                    self._open[row.sender_id].last_user = messages.get(row.last_user_message_id)

    def _new(self, event: SourceEvent) -> _Open:
        row = ConversationRow(
            sender_id=event.sender_id[:255],
            channel=UNKNOWN_CHANNEL,
            started_at=event.at,
            last_event_at=event.at,
            session_key=event.key,
            message_count=0,
            customer_message_count=0,
            fallback_count=0,
            handed_off=False,
        )
        self._s.add(row)
        self._s.flush()
        state = _Open(row, changed=True)
        self._open[event.sender_id] = state
        return state

    def _last_user(self, state: _Open) -> MessageRow | None:
        if state.last_user is None and state.row.last_user_message_id is not None:
            state.last_user = self._s.get(MessageRow, state.row.last_user_message_id)
        return state.last_user

    def _identify(self, conv: ConversationRow, customer_id: str) -> None:
        if conv.customer_id == customer_id:
            return
        if self._s.get(CustomerRow, customer_id) is None:
            log.warning("history: conversation %s names customer %s, who is not in the CRM", conv.id, customer_id)
            return
        conv.customer_id = customer_id
        if not self.remembers(customer_id):
            # What was said before they were identified in this conversation is theirs too: keep none of it.
            self._s.flush()
            forget_content(self._s, [conv.id])

    def close(self, conv: ConversationRow) -> None:
        close(conv)
        if conv.customer_id is not None and not self.remembers(conv.customer_id):
            from relationship.privacy import deidentify

            deidentify(self._s, conv)


def close(conv: ConversationRow) -> None:
    conv.ended_at = conv.last_event_at or conv.started_at
    conv.outcome = outcome(conv)
    conv.summary = summarize(conv)


def close_idle(session: Session, now: datetime, idle: timedelta) -> int:
    """Ends conversations nobody has written to for longer than the session expiry."""
    rows = session.scalars(
        select(ConversationRow)
        .where(
            ConversationRow.ended_at.is_(None),
            ConversationRow.session_key.is_not(None),
            ConversationRow.last_event_at < now - idle,
        )
        .limit(IDLE_CLOSE_BATCH)
    ).all()
    projector = HistoryProjector(session)
    for row in rows:
        projector.close(row)
    return len(rows)


def remembers(session: Session, customer_id: str) -> bool:
    """Whether the customer lets us keep the content of their conversations (not refused = yes)."""
    granted = session.scalar(
        select(ConsentRow.granted).where(ConsentRow.customer_id == customer_id, ConsentRow.purpose == "history")
    )
    return granted is not False


def forget_content(session: Session, conversation_ids: list[int]) -> int:
    """Removes what was said from these conversations: message text, slot values, review rows.
    Keeps when, which intents, how it felt and how it ended. Returns the messages touched."""
    if not conversation_ids:
        return 0
    message_ids = select(MessageRow.id).where(MessageRow.conversation_id.in_(conversation_ids))
    session.execute(
        NluReviewRow.__table__.delete().where(NluReviewRow.message_id.in_(message_ids))  # type: ignore[attr-defined]
    )
    touched = 0
    for message in session.scalars(select(MessageRow).where(MessageRow.conversation_id.in_(conversation_ids))):
        message.text = None
        if message.slots:
            message.slots = {name: ("***" if value else value) for name, value in message.slots.items()}
        touched += 1
    return touched


def outcome(conv: ConversationRow) -> str:
    """handed_off if a person was asked for; abandoned if the customer left mid-request, not
    understood, or never spoke; otherwise the bot resolved it."""
    if conv.handed_off:
        return "handed_off"
    if conv.customer_message_count == 0 or conv.active_loop or conv.last_action in FALLBACK_ACTIONS:
        return "abandoned"
    return "resolved_by_bot"


def summarize(conv: ConversationRow) -> str:
    start = conv.started_at
    end = conv.ended_at or conv.last_event_at or start
    span = f"{start:%Y-%m-%d %H:%M}" + (
        f" to {end:%H:%M}" if end.date() == start.date() else f" to {end:%Y-%m-%d %H:%M}"
    )
    parts = [
        f"{conv.channel} conversation, {span}, {conv.customer_message_count} customer "
        f"message{'s' if conv.customer_message_count != 1 else ''}."
    ]
    if conv.intents:
        parts.append(
            "Intents: " + ", ".join(name if n == 1 else f"{name} x{n}" for name, n in conv.intents.items()) + "."
        )
    parts.append("Outcome: " + OUTCOME_LABELS[conv.outcome] + "." if conv.outcome in OUTCOME_LABELS else "Still open.")
    for label, refs in (conv.refs or {}).items():
        if refs:
            parts.append(f"{label.capitalize()}: {', '.join(refs)}.")
    return " ".join(parts)


def _best_guess(parse: Mapping[str, Any]) -> tuple[str | None, float | None]:
    """The intent the classifier leaned to, even when the fallback overruled it."""
    for candidate in parse.get("intent_ranking") or [parse.get("intent") or {}]:
        name = candidate.get("name")
        if name and name != "nlu_fallback":
            confidence = candidate.get("confidence")
            return str(name)[:80], float(confidence) if confidence is not None else None
    return None, None


def _help_article(conv: ConversationRow, value: str) -> None:
    """The help articles the bot answered from, and what the customer said of each ("slug: helpful")."""
    slug, _, verdict = value.partition(": ")
    refs = {k: list(v) for k, v in (conv.refs or {}).items()}
    articles = refs.setdefault("help articles", [])
    mine = [i for i, ref in enumerate(articles) if ref.split(" (")[0] == slug]
    entry = f"{slug} ({verdict})" if verdict else slug
    if mine:
        if verdict:
            articles[mine[-1]] = entry
    else:
        articles.append(entry)
    conv.refs = refs


def _collect_refs(conv: ConversationRow, text: object, patterns: Mapping[str, re.Pattern[str]]) -> None:
    if not isinstance(text, str) or not text:
        return
    refs = {k: list(v) for k, v in (conv.refs or {}).items()}
    changed = False
    for label, pattern in patterns.items():
        for found in pattern.findall(text):
            ref = found.upper()
            bucket = refs.setdefault(label, [])
            if ref not in bucket:
                bucket.append(ref)
                changed = True
    if changed:
        conv.refs = refs
