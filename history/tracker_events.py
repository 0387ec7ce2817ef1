"""Privacy work on Rasa's tracker store: deleting a customer's conversations, or removing what was said.

Rasa's tracker store is the event log of every conversation, so "forget me" and "erase
me" are not done until it has been cleaned too. Rasa itself only needs the current
session of a conversation (and only its intents, entities and slots, not the text), so
redaction leaves the current session alone unless asked to go further (`up_to`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from history.sources import TRACKER_EVENTS, SourceUnavailable, tracker_engine

log = logging.getLogger(__name__)

REDACTED_TYPES = ("user", "bot", "slot")
KEPT_SLOTS = frozenset({"requested_slot", "verified", "session_started_metadata"})


def redact_event(data: dict[str, Any]) -> dict[str, Any]:
    """The event without what the customer said or was told: texts, entity values, slot values."""
    kind = data.get("event")
    data = dict(data)
    if kind in ("user", "bot"):
        data["text"] = None
        if isinstance(data.get("parse_data"), dict):
            parse = dict(data["parse_data"])
            parse["text"] = None
            parse["entities"] = [{**e, "value": None} for e in parse.get("entities") or [] if isinstance(e, dict)]
            parse.pop("response_selector", None)
            data["parse_data"] = parse
        if isinstance(data.get("metadata"), dict):
            data["metadata"] = {k: v for k, v in data["metadata"].items() if k in ("channel", "utter_action")}
        if kind == "bot" and isinstance(data.get("data"), dict):
            data["data"] = {}
    elif kind == "slot" and data.get("name") not in KEPT_SLOTS:
        data["value"] = None
    return data


def _line(row_id: int, raw: str) -> dict[str, Any] | None:
    """A user or bot event as a line of the transcript: {id, who, text, at, agent}; None when it has no text."""
    data = json.loads(raw)
    agent = (data.get("metadata") or {}).get("agent") if data.get("event") == "bot" else None
    who = "customer" if data.get("event") == "user" else "agent" if agent else "bot"
    if not data.get("text"):
        return None
    return {"id": row_id, "who": who, "text": data["text"], "at": data.get("timestamp"), "agent": agent}


class TrackerEvents:
    def __init__(self, url: str, engine: Engine | None = None) -> None:
        self.url = url
        self.engine = engine or tracker_engine(url)

    def latest_id(self) -> int:
        """The newest event's id (0 when there is none): where a reader of new lines starts."""
        try:
            with self.engine.connect() as conn:
                return int(conn.execute(select(func.max(TRACKER_EVENTS.c.id))).scalar() or 0)
        except SQLAlchemyError as exc:
            raise SourceUnavailable(f"tracker store unreachable: {type(exc).__name__}") from exc

    def lines_since(self, after_id: int, limit: int = 2000) -> list[tuple[str, dict[str, Any]]]:
        """Every conversation's lines after event `after_id`, oldest first, as (sender id, line) with the line as
        `transcript` gives it: one query for all the conversations the console is showing."""
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(
                    select(TRACKER_EVENTS.c.id, TRACKER_EVENTS.c.sender_id, TRACKER_EVENTS.c.data)
                    .where(TRACKER_EVENTS.c.id > after_id, TRACKER_EVENTS.c.type_name.in_(("user", "bot")))
                    .order_by(TRACKER_EVENTS.c.id)
                    .limit(limit)
                ).all()
        except SQLAlchemyError as exc:
            raise SourceUnavailable(f"tracker store unreachable: {type(exc).__name__}") from exc
        return [(sender, line) for row_id, sender, raw in rows if (line := _line(row_id, raw)) is not None]

    def transcript(self, sender_id: str, after_id: int = 0, limit: int = 500) -> list[dict[str, Any]]:
        """What was said in the conversation's current session, oldest first: {id, who, text, at, agent}
        (`who` is customer, bot or agent). With `after_id`, only what came after that event (live updates)."""
        try:
            with self.engine.connect() as conn:
                start = conn.execute(
                    select(func.max(TRACKER_EVENTS.c.id)).where(
                        TRACKER_EVENTS.c.sender_id == sender_id, TRACKER_EVENTS.c.type_name == "session_started"
                    )
                ).scalar()
                rows = conn.execute(
                    select(TRACKER_EVENTS.c.id, TRACKER_EVENTS.c.data)
                    .where(
                        TRACKER_EVENTS.c.sender_id == sender_id,
                        TRACKER_EVENTS.c.type_name.in_(("user", "bot")),
                        TRACKER_EVENTS.c.id > max(after_id, start or 0),
                    )
                    .order_by(TRACKER_EVENTS.c.id)
                    .limit(limit)
                ).all()
        except SQLAlchemyError as exc:
            raise SourceUnavailable(f"tracker store unreachable: {type(exc).__name__}") from exc
        return [line for row_id, raw in rows if (line := _line(row_id, raw)) is not None]

    def delete(self, sender_ids: Iterable[str]) -> int:
        senders = sorted(set(sender_ids))
        if not senders:
            return 0
        try:
            with self.engine.begin() as conn:
                return int(conn.execute(delete(TRACKER_EVENTS).where(TRACKER_EVENTS.c.sender_id.in_(senders))).rowcount)
        except SQLAlchemyError as exc:
            return self._missing_table(exc)

    def redact(self, sender_ids: Iterable[str], up_to: datetime | None = None) -> int:
        """Redacts the senders' events up to `up_to` (UTC), or, without it, those before their current session."""
        total = 0
        try:
            with self.engine.begin() as conn:
                for sender in sorted(set(sender_ids)):
                    where = [TRACKER_EVENTS.c.sender_id == sender, TRACKER_EVENTS.c.type_name.in_(REDACTED_TYPES)]
                    if up_to is not None:
                        where.append(TRACKER_EVENTS.c.timestamp <= (up_to - datetime(1970, 1, 1)).total_seconds())
                    else:
                        current = conn.scalar(
                            select(func.max(TRACKER_EVENTS.c.id)).where(
                                TRACKER_EVENTS.c.sender_id == sender, TRACKER_EVENTS.c.type_name == "session_started"
                            )
                        )
                        if current is None:
                            continue
                        where.append(TRACKER_EVENTS.c.id < current)
                    rows = conn.execute(select(TRACKER_EVENTS.c.id, TRACKER_EVENTS.c.data).where(and_(*where))).all()
                    for row in rows:
                        try:
                            data = json.loads(row.data)
                        except ValueError:
                            data = {"event": "unreadable"}
                        redacted = redact_event(data) if isinstance(data, dict) else {"event": "unreadable"}
                        if redacted != data:
                            conn.execute(
                                update(TRACKER_EVENTS)
                                .where(TRACKER_EVENTS.c.id == row.id)
                                .values(data=json.dumps(redacted))
                            )
                            total += 1
        except SQLAlchemyError as exc:
            return self._missing_table(exc)
        return total

    @staticmethod
    def _missing_table(exc: SQLAlchemyError) -> int:
        if "no such table" in str(exc) or "does not exist" in str(exc):
            return 0  # Rasa has not written anything yet
        raise SourceUnavailable(f"tracker store unavailable: {exc}") from exc

    def close(self) -> None:
        self.engine.dispose()
