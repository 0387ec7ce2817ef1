"""Rasa 3.6 events in the shape Rasa stores and publishes them (`Event.as_dict()`), for history tests.

The shapes were taken from a real conversation with the running bot; the end-to-end
tests check the projection against the real servers as well.
"""

from __future__ import annotations

import itertools
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, insert
from sqlalchemy.orm import Session, sessionmaker

from history.ingest import HistoryIngestion
from history.sources import TRACKER_EVENTS, TrackerStoreSource

T0 = datetime(2026, 11, 20, 9, 0, 0, tzinfo=timezone.utc).timestamp()


@dataclass
class Chat:
    """Builds one sender's events in order; `.events` is what the tracker store would hold."""

    sender_id: str
    channel: str = "rest"
    clock: float = T0
    events: list[dict[str, Any]] = field(default_factory=list)
    _tick: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def _add(self, event: str, **data: Any) -> Chat:
        self.clock += 0.25
        self.events.append({"event": event, "timestamp": self.clock, **data})
        return self

    def wait(self, seconds: float) -> Chat:
        self.clock += seconds
        return self

    def session_start(self) -> Chat:
        self.action("action_session_start")
        self._add("session_started", metadata={"channel": self.channel})
        return self.action("action_listen")

    def user(self, text: str, intent: str, confidence: float = 0.93) -> Chat:
        return self._add(
            "user",
            text=text,
            parse_data={
                "intent": {"name": intent, "confidence": confidence},
                "entities": [],
                "text": text,
                "message_id": uuid.uuid4().hex,
                "metadata": {"channel": self.channel},
            },
            input_channel=self.channel,
            message_id=uuid.uuid4().hex,
            metadata={"channel": self.channel},
        )

    def bot(self, text: str, response: str) -> Chat:
        return self._add("bot", text=text, data={}, metadata={"utter_action": response})

    def action(self, name: str) -> Chat:
        return self._add(
            "action", name=name, policy="RulePolicy", confidence=1.0, action_text=None, hide_rule_turn=False
        )

    def slot(self, name: str, value: Any) -> Chat:
        return self._add("slot", name=name, value=value)

    def loop(self, name: str | None) -> Chat:
        return self._add("active_loop", name=name)

    def turn(self, text: str, intent: str, *replies: tuple[str, str]) -> Chat:
        """A customer message, the bot's replies (response name, text), then listening again."""
        self.user(text, intent)
        for response, reply in replies:
            self.action(response).bot(reply, response)
        return self.action("action_listen")


def write_tracker_events(engine: Engine, chats: list[Chat] | list[tuple[str, dict[str, Any]]]) -> None:
    """Inserts events into a table shaped like Rasa's SQL tracker store, in the order given."""
    TRACKER_EVENTS.metadata.create_all(engine)
    rows = []
    pairs = [(c.sender_id, e) for c in chats for e in c.events] if chats and isinstance(chats[0], Chat) else chats
    for sender, event in pairs:  # type: ignore[misc]
        rows.append(
            {
                "sender_id": sender,
                "type_name": event["event"],
                "timestamp": event["timestamp"],
                "intent_name": (event.get("parse_data") or {}).get("intent", {}).get("name"),
                "action_name": event.get("name"),
                "data": json.dumps(event),
            }
        )
    with engine.begin() as conn:
        conn.execute(insert(TRACKER_EVENTS), rows)


def ingest_chats(
    sessions: sessionmaker[Session], tracker_file: Path, chats: list[Chat], now: float = T0 + 86400
) -> None:
    """Writes the chats to a tracker-store file and lets history ingestion catch up on it at `now` (a day after
    they began by default: every conversation has ended by then)."""
    engine = create_engine(f"sqlite:///{tracker_file}")
    write_tracker_events(engine, chats)
    source = TrackerStoreSource(str(engine.url), clock=lambda: now)
    at = datetime.fromtimestamp(now, tz=timezone.utc).replace(tzinfo=None)
    HistoryIngestion(sessions, source, clock=lambda: at).catch_up()
    engine.dispose()
