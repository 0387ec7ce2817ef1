"""What updates itself in the workspace (any signed-in agent or admin), and the conversations the bot is having now.

GET  /events                                                    server-sent events for every page: the navigation's
                                                                counts, and "inbox" / "live" when those lists change
GET  /live                                                      live conversations, those going badly first
POST /live/{conversation_id}/join                               step in: the bot pauses, the customer is told a
                                                                person has joined, the conversation is the agent's

The events are read from the database every `pulse` seconds by whichever stream asks first; the streams of every
agent share that reading (`Pulse`), so twenty agents cost one reading a second, not twenty. A stream ends after
STREAM_LIFETIME (the browser reconnects at once) and when its session has ended.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sse_starlette import EventSourceResponse
from starlette.concurrency import run_in_threadpool

from console.deps import SESSION_COOKIE, TEMPLATES, RowId, Services, SignedIn, actor
from handoff.desk import Conversation, Said
from history.tracker_events import TrackerEvents

router = APIRouter()
STREAM_LIFETIME = 300.0  # seconds; EventSource reconnects by itself
SESSION_CHECK = 30.0  # seconds between checks that the stream's session is still valid


def _version(*parts: object) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Reading:
    """One reading of what every agent's page shows: open handoffs (id, status, agent) and live conversations."""

    handoffs: tuple[tuple[int, str, int | None], ...]
    live: int
    flagged: int
    live_version: str

    def events(self, agent_id: int) -> dict[str, str]:
        waiting = sum(1 for _, status, _ in self.handoffs if status == "waiting")
        mine = sum(1 for _, status, owner in self.handoffs if status == "assigned" and owner == agent_id)
        return {
            "count-waiting": str(waiting),
            "count-mine": str(mine),
            "count-open": str(len(self.handoffs)),
            "count-live": str(self.live),
            "count-flagged": str(self.flagged),
            "inbox": _version(self.handoffs),
            "live": self.live_version,
        }


class Pulse:
    """The latest reading, made again when it is older than `interval` seconds (one reading per interval for
    every stream of this process)."""

    def __init__(self, read: Callable[[], Reading], interval: float, clock: Callable[[], float] = time.monotonic):
        self._read, self.interval, self._clock = read, interval, clock
        self._lock = threading.Lock()
        self._at = float("-inf")
        self._last: Reading | None = None

    def reading(self) -> Reading:
        with self._lock:
            if self._last is None or self._clock() - self._at >= self.interval:
                self._last = self._read()
                self._at = self._clock()
            return self._last


class TranscriptFeed:
    """The new lines of every conversation, read from Rasa's event log once per `interval` for all the transcript
    streams of this process (one query, however many agents are watching), and kept for the streams to pick theirs
    from: the last `keep` lines. A stream further behind than that asks the event log itself."""

    def __init__(
        self, tracker: TrackerEvents, interval: float, keep: int = 5000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._tracker, self.interval, self._clock = tracker, interval, clock
        self._lock = threading.Lock()
        self._lines: deque[tuple[str, dict[str, Any]]] = deque(maxlen=keep)
        self._cursor: int | None = None  # the newest event read
        self._oldest = 0  # every line after this event id is in `_lines`
        self._at = float("-inf")

    def lines(self, sender_id: str, after: int) -> list[dict[str, Any]] | None:
        """The conversation's lines after event `after`; None when the feed does not reach back that far."""
        with self._lock:
            if self._cursor is None:
                self._cursor = self._oldest = self._tracker.latest_id()
            if self._clock() - self._at >= self.interval:
                for sender, line in self._tracker.lines_since(self._cursor):
                    if len(self._lines) == self._lines.maxlen:
                        self._oldest = self._lines[0][1]["id"]
                    self._lines.append((sender, line))
                    self._cursor = line["id"]
                self._at = self._clock()
            if after < self._oldest:
                return None
            return [line for sender, line in self._lines if sender == sender_id and line["id"] > after]


def read_workspace(services: Any) -> Reading:
    places = services.desk().queue()
    handoffs = tuple((p.handoff.handoff_id, p.handoff.status, p.handoff.agent_id) for p in places)
    live = services.live_conversations().now() if services.live is not None else []
    version = _version(tuple((c.conversation_id, c.last_event_at, c.flags) for c in live))
    return Reading(handoffs, len(live), sum(1 for c in live if c.flags), version)


@router.get("/events", response_class=EventSourceResponse)
async def events(request: Request, me: SignedIn, services: Services) -> EventSourceResponse:
    pulse = services.pulse()
    token = request.cookies.get(SESSION_COOKIE, "")

    async def stream() -> AsyncIterator[dict[str, str]]:
        sent: dict[str, str] = {}
        started = checked = time.monotonic()
        while time.monotonic() - started < STREAM_LIFETIME:
            reading = await run_in_threadpool(pulse.reading)
            for name, value in reading.events(me.agent.agent_id).items():
                if sent.get(name) != value:
                    sent[name] = value
                    yield {"event": name, "data": value}
            await anyio.sleep(pulse.interval)
            if time.monotonic() - checked >= SESSION_CHECK:
                checked = time.monotonic()
                if await run_in_threadpool(services.agents.session_agent, token) is None:
                    return  # signed out: the stream ends, and reconnecting is refused

    return EventSourceResponse(stream(), ping=15)


@router.get("/live", response_class=HTMLResponse)
def live_page(request: Request, me: SignedIn, services: Services) -> Response:
    conversations = services.live_conversations().now()
    template = "live_list.html" if request.headers.get("HX-Request") else "live.html"
    return TEMPLATES.TemplateResponse(request, template, {"conversations": conversations})


@router.post("/live/{conversation_id}/join", response_class=HTMLResponse)
def join(request: Request, me: SignedIn, services: Services, conversation_id: RowId) -> Response:
    """The agent steps in. The handoff is made first (so nobody else steps in), then the bot is paused and the
    customer told; if the bot cannot be reached, the handoff is cancelled and nothing has changed."""
    log, desk, bot = services.audit_log(), services.bring_in(), services.bot()
    live = services.live_conversations().get(conversation_id)
    lines = tuple(Said(line.who, line.text) for line in live.recent if line.who in ("customer", "bot"))
    conversation = Conversation(
        live.sender_id, live.channel, live.customer_id, verified=live.customer_id is not None, transcript=lines,
        intents=live.intents, sentiment_now=live.mood,
    )  # fmt: skip
    handoff = desk.step_in(conversation, me.agent.agent_id)
    try:
        bot.join(live.sender_id, live.channel, me.agent.display_name, me.agent.agent_id)
    except Exception:
        services.desk().withdraw(handoff.handoff_id)
        raise
    who = actor(request, me)
    log.record(who, "handoff.joined", "handoff", handoff.handoff_id, customer_id=live.customer_id,
               detail=f"conversation {conversation_id}: {', '.join(live.flags) or 'no flag'}")  # fmt: skip
    return RedirectResponse(f"/handoffs/{handoff.handoff_id}", status_code=303)
