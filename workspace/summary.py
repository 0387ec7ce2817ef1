"""A short summary of a conversation so far, at the top of a taken conversation: made from what is already recorded
(the handoff's packet, and what history ingestion projected: intents, actions, slots, sentiment, references, the
form the bot was in). No external service, nothing sent anywhere."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from handoff.service import Handoff
from history.rows import ConversationRow, MessageRow

SMALL_TALK = {  # left out of "Wanted": greetings, yes and no, not understood, asking for a person
    "greet", "goodbye", "affirm", "deny", "thank", "thanks", "nlu_fallback", "out_of_scope", "chitchat",
    "request_human",
}  # fmt: skip
HIDDEN_SLOTS = {"requested_slot", "customer_id", "verified", "session_started_metadata"}
REF_LABELS = {"orders": "orders", "tickets": "tickets", "returns": "returns", "help articles": "help articles"}


@dataclass(frozen=True)
class Summary:
    lines: tuple[str, ...]

    @property
    def text(self) -> str:
        return " ".join(self.lines)


def _words(name: str) -> str:
    return name.replace("_", " ")


def _mood(scores: Sequence[float]) -> str | None:
    if not scores:
        return None
    latest = scores[-1]
    label = "negative" if latest <= -0.3 else "positive" if latest >= 0.3 else "neutral"
    trend = ""
    if len(scores) >= 2:
        drift = latest - scores[0]
        trend = ", falling" if drift <= -0.3 else ", rising" if drift >= 0.3 else ", steady"
    return f"Mood: {label}{trend} (latest message {latest:+.2f})."


def summarize(handoff: Handoff, conversation: ConversationRow | None, messages: Sequence[MessageRow]) -> Summary:
    packet: Mapping[str, Any] = handoff.packet
    customer = packet.get("customer") or {}
    said = [m for m in messages if m.sender == "customer"]
    count = len(said) or len(
        [t for t in (packet.get("conversation") or {}).get("transcript") or [] if t.get("who") == "customer"]
    )
    if customer:
        tier = (customer.get("value") or {}).get("tier")
        proof = "verified" if customer.get("verified") else "not verified"
        who = f"{customer.get('name')} ({tier + ', ' if tier else ''}{proof})"
    else:
        who = "An anonymous visitor"
    reason = handoff.reason_label
    lines = [f"{who} on {handoff.channel}; {reason} after {count} message{'s' if count != 1 else ''}."]

    intents = list((conversation.intents or {}).keys()) if conversation is not None else []
    intents = intents or list(((packet.get("conversation") or {}).get("intents") or {}).keys())
    wanted = [_words(i) for i in intents if i not in SMALL_TALK]
    if wanted:
        lines.append(f"Wanted: {', '.join(wanted)}.")
    not_understood = sum(1 for m in said if m.intent == "nlu_fallback")
    if not_understood:
        lines.append(f"The bot did not understand {not_understood} of their messages.")
    if conversation is not None and conversation.active_loop:
        lines.append(f"The bot was in the middle of: {_words(conversation.active_loop.removesuffix('_form'))}.")
    refs = (conversation.refs or {}) if conversation is not None else {}
    done = [f"{REF_LABELS.get(k, k)} {', '.join(v)}" for k, v in refs.items() if v]
    if done:
        lines.append(f"Came up: {'; '.join(done)}.")
    slots = {k: v for k, v in ((packet.get("conversation") or {}).get("slots") or {}).items()}
    for m in said:  # what the bot learnt since the packet was made
        slots.update({k: v for k, v in (m.slots or {}).items() if v not in (None, "", [], {})})
    known = [f"{_words(k)} {v}" for k, v in slots.items() if k not in HIDDEN_SLOTS and not k.startswith("handoff")]
    if known:
        lines.append(f"Known: {'; '.join(known[:6])}.")
    mood = _mood([m.sentiment for m in said if m.sentiment is not None])
    if mood is None and (packet.get("conversation") or {}).get("sentiment_now") is not None:
        mood = _mood([float(packet["conversation"]["sentiment_now"])])
    if mood:
        lines.append(mood)
    return Summary(tuple(lines))


class ConversationSummaries:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def for_handoff(self, handoff: Handoff) -> Summary:
        """The summary of the conversation the handoff came from (its latest session that began before it)."""
        with self._sessions() as s:
            conversation = s.scalar(
                select(ConversationRow)
                .where(
                    ConversationRow.sender_id == handoff.sender_id, ConversationRow.started_at <= handoff.requested_at
                )
                .order_by(ConversationRow.started_at.desc())
                .limit(1)
            )
            messages = (
                list(
                    s.scalars(
                        select(MessageRow).where(MessageRow.conversation_id == conversation.id).order_by(MessageRow.id)
                    )
                )
                if conversation is not None
                else []
            )
            return summarize(handoff, conversation, messages)
