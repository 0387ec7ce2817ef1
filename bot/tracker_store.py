"""Rasa's SQL tracker store, with a reply cost that does not grow with the conversation.

Stock Rasa rebuilds the whole conversation for every message: it reads and parses every
event of the session from the database, replays them into a tracker, featurizes the whole
tracker for each policy prediction, and sends all of it to the action server with every
custom action. By turn 200 a reply costs several times what it did at turn 1.

This store keeps Rasa's table and writes every event to it exactly as Rasa does (the event
log stays complete: history ingestion, `rasa export` and the tracker API read it), but
hands the dialogue engine a *windowed* tracker: the current state (slot values, the
active form and whether a person has paused the bot, as SlotSet, ActiveLoop and
ConversationPaused events) followed by the events of the last
`window_turns` customer turns. The policies look back at most a few turns
(MemoizationPolicy max_history 4, rules of a few turns), so their predictions are the same.

The window is cached per conversation in the Rasa process, with the id of the newest stored
event it holds. Each read asks the database for the events from that id on, so several Rasa
servers sharing one database stay correct and cheap: events another server wrote in between
are read (only those) and added to the window. The window is rebuilt from Rasa's own read of
the session when it cannot be extended: its newest event is no longer stored (the
conversation was erased) or a new session started elsewhere. The tracker a read hands out is
the window's events replayed; while nothing but this server's own turns came since, it is a
copy of the tracker the last turn saved (the same state, without replaying every event).

On SQLite (the default on one machine) the store keeps its connections open (SQLAlchemy 1.4, which Rasa pins, opens
and closes a file database's connection for every statement) in WAL mode with `synchronous=NORMAL`: a commit is
written to the log without waiting for the disk each time. SQLite's documentation: the database stays consistent on a
power loss, and a committed turn survives any process crashing; a power cut or operating-system crash may lose the last
turns committed before it. A deployment that must not lose those runs on PostgreSQL (docs/operator-guide.md).
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    ConversationPaused,
    Event,
    SessionStarted,
    SlotSet,
    UserUttered,
    deserialise_events,
)
from rasa.shared.core.trackers import DialogueStateTracker

from bot import (
    rasa_patches,  # noqa: F401 - Rasa performance fixes, applied on import
)
from shared import log_redaction

log_redaction.install()  # also for Rasa commands that load the tracker store but no channel (rasa shell)

logger = logging.getLogger(__name__)

STORED_MARK = "_hearth_stored_events"  # attribute on a tracker: how many of its events are in the database
WINDOW_MARK = "_hearth_window"  # attribute on a tracker: the window (and its prefix) it was made from


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers (history ingestion, the console) do not block the writer
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


@dataclass
class _Window:
    last_id: int  # id of the newest stored event the window holds
    base: DialogueStateTracker  # the conversation's state just before the window
    events: list[Event]  # the events of the last turns
    prefix: list[Event] | None = None  # the base state as events, made once per base: the trackers handed out
    # share their event objects, which lets bot/rasa_patches.py continue the policies' replay of the last one
    state: DialogueStateTracker | None = None  # a copy of the tracker last saved, while it holds prefix + events


class WindowedSQLTrackerStore(SQLTrackerStore):
    """`tracker_store: {type: bot.tracker_store.WindowedSQLTrackerStore, url: ..., window_turns: 10}`."""

    def __init__(self, *args: Any, window_turns: int = 10, cache_size: int = 5000, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._keep_sqlite_connections()
        self.window_turns = max(5, int(window_turns))
        self.cache_size = int(cache_size)
        self._windows: OrderedDict[str, _Window] = OrderedDict()
        # The statements of every message, built once (building SQLAlchemy's expressions cost more than running them)
        table = self.SQLEvent.__table__
        sender = table.c.sender_id == sa.bindparam("sender")
        self._newer_query = (
            sa.select(table.c.id, table.c.type_name, table.c.data)
            .where(sender, table.c.id >= sa.bindparam("last_id"))
            .order_by(table.c.id)
        )
        self._newest_query = sa.select(sa.func.max(table.c.id)).where(sender)
        self._insert_rows = table.insert()

    def _keep_sqlite_connections(self) -> None:
        url = self.engine.url
        if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
            return
        self.engine.dispose()
        self.engine = sa.create_engine(
            url, poolclass=sa.pool.QueuePool, connect_args={"check_same_thread": False, "timeout": 15}
        )
        sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        self.sessionmaker = sa.orm.sessionmaker(bind=self.engine)

    # ---- reading ----------------------------------------------------------

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        window = self._windows.get(sender_id)
        if window is not None and self._catch_up(sender_id, window):
            self._windows.move_to_end(sender_id)
        else:
            self._windows.pop(sender_id, None)
            last_id = self._last_event_id(sender_id)
            if last_id is None:
                return None
            full = await super().retrieve(sender_id)  # Rasa's own read: the current session, replayed
            if full is None:
                return None
            window = self._make_window(full, last_id)
            self._remember(sender_id, window)
        tracker = self._materialize(sender_id, window)
        setattr(tracker, STORED_MARK, len(tracker.events))
        return tracker

    def _catch_up(self, sender_id: str, window: _Window) -> bool:
        """Adds to the cached window the events stored after its newest one (by another Rasa server); False when
        the window cannot be extended: its newest event is gone (erased) or a new session started since."""
        with self.engine.connect() as connection:
            rows = connection.execute(self._newer_query, {"sender": sender_id, "last_id": window.last_id}).all()
        if not rows or rows[0].id != window.last_id:
            return False
        newer = rows[1:]
        if not newer:
            return True
        if any(row.type_name == SessionStarted.type_name for row in newer):
            return False
        window.events.extend(deserialise_events([json.loads(row.data) for row in newer]))  # as Rasa's read does
        window.state = None
        window.last_id = int(newer[-1].id)
        self._slide(window)
        return True

    def _last_event_id(self, sender_id: str) -> int | None:
        with self.engine.connect() as connection:
            return self._newest_id(connection, sender_id)

    def _newest_id(self, connection: sa.engine.Connection, sender_id: str) -> int | None:
        value = connection.execute(self._newest_query, {"sender": sender_id}).scalar()
        return int(value) if value is not None else None

    def _make_window(self, tracker: DialogueStateTracker, last_id: int) -> _Window:
        events = list(tracker.events)
        cut = self._cut(events, self.window_turns)
        base = DialogueStateTracker.from_events(tracker.sender_id, events[:cut], slots=self.domain.slots)
        return _Window(last_id, base, events[cut:])

    @staticmethod
    def _cut(events: list[Event], turns: int) -> int:
        """Index where the last `turns` customer turns begin (at the action_listen before the message)."""
        users = [i for i, e in enumerate(events) if isinstance(e, UserUttered)]
        if len(users) <= turns:
            return 0
        start = users[-turns]
        previous = events[start - 1] if start > 0 else None
        if isinstance(previous, ActionExecuted) and previous.action_name == ACTION_LISTEN_NAME:
            start -= 1
        return start

    def _materialize(self, sender_id: str, window: _Window) -> DialogueStateTracker:
        if window.prefix is None:
            base, window.prefix = window.base, []
            if base.events:
                for name, slot in base.slots.items():
                    if slot.value != slot.initial_value:
                        window.prefix.append(SlotSet(name, slot.value))
                if base.active_loop_name:
                    window.prefix.append(ActiveLoop(base.active_loop_name))
                if base.is_paused():  # a person has the conversation (handoff): the bot stays silent
                    window.prefix.append(ConversationPaused())
        if window.state is not None:  # the state the last turn reached: copied, not replayed (the same tracker)
            tracker = window.state.copy()
        else:
            tracker = DialogueStateTracker.from_events(
                sender_id, window.prefix + window.events, slots=self.domain.slots
            )
        setattr(tracker, WINDOW_MARK, (window, window.prefix))
        return tracker

    # ---- writing ----------------------------------------------------------

    async def save(self, tracker: DialogueStateTracker) -> None:
        stored = getattr(tracker, STORED_MARK, None)
        if stored is None and self._last_event_id(tracker.sender_id) is not None:
            # A tracker this store did not hand out, for a conversation with stored events:
            # let Rasa work out what is new, and forget the cached window.
            self._windows.pop(tracker.sender_id, None)
            await super().save(tracker)
            return
        new_events = list(tracker.events)[stored or 0 :]
        if not new_events:
            return
        if self.event_broker is not None:
            await self._stream_new_events(self.event_broker, new_events, tracker.sender_id)
        last_id = self._insert(tracker.sender_id, new_events)
        setattr(tracker, STORED_MARK, len(tracker.events))
        window = self._windows.get(tracker.sender_id)
        if window is None:
            self._remember(tracker.sender_id, self._make_window(tracker, last_id))
            return
        window.events.extend(new_events)
        window.last_id = last_id
        self._slide(window)
        # kept while the saved tracker is this window's prefix + events: what replaying them would make (a copy,
        # bot/rasa_patches.py item 10)
        window_of_tracker, prefix_of_tracker = getattr(tracker, WINDOW_MARK, (None, None))
        holds_window = (
            window_of_tracker is window
            and window.prefix is not None
            and prefix_of_tracker is window.prefix
            and len(tracker.events) == len(window.prefix) + len(window.events)
        )
        window.state = tracker.copy() if holds_window else None

    def _insert(self, sender_id: str, events: Iterable[Event]) -> int:
        """Writes events exactly as Rasa's SQLTrackerStore.save does (the same columns and JSON), in one INSERT of
        all the turn's rows rather than SQLAlchemy's unit of work per event (which cost more than the writing);
        returns the newest id. The lock store keeps a conversation's turns one at a time, so the conversation's
        newest id after the INSERT, in the same transaction, is the last row written."""
        rows = []
        for event in events:
            data = event.as_dict()
            rows.append(
                {
                    "sender_id": sender_id,
                    "type_name": event.type_name,
                    "timestamp": data.get("timestamp"),
                    "intent_name": data.get("parse_data", {}).get("intent", {}).get("name"),
                    "action_name": data.get("name"),
                    "data": json.dumps(data),
                }
            )
        with self.engine.begin() as connection:
            connection.execute(self._insert_rows, rows)
            last_id = self._newest_id(connection, sender_id)
        assert last_id is not None  # the rows just written
        return last_id

    def _slide(self, window: _Window) -> None:
        """Once the window holds twice its turns, fold the oldest into the base state."""
        if sum(isinstance(e, UserUttered) for e in window.events) <= 2 * self.window_turns:
            return
        cut = self._cut(window.events, self.window_turns)
        for event in window.events[:cut]:
            window.base.update(event)
        del window.events[:cut]
        window.prefix = window.state = None

    def _remember(self, sender_id: str, window: _Window) -> None:
        self._windows[sender_id] = window
        self._windows.move_to_end(sender_id)
        while len(self._windows) > self.cache_size:
            self._windows.popitem(last=False)
