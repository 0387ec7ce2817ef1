"""Live conversations and live updates, on real history ingestion (tests/history_events.py writes Rasa's event
log; `HistoryIngestion` projects it, sentiment and all): which conversations are live, the flags on those going
badly (on SQLite and PostgreSQL); then over HTTP the server-sent events that keep the navigation's counts and the
inbox up to date, and the live transcript of a taken conversation read from the tracker store."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from audit.log import AuditQuery
from console.deps import SESSION_COOKIE
from console.routes.live import TranscriptFeed
from crm_adapter.rasa_api import RasaConversations
from handoff.agents import SqlAgentService
from handoff.rows import HandoffRow
from handoff.service import NewHandoff, SqlHandoffService, build_packet
from history.sources import TRACKER_EVENTS
from history.tracker_events import TrackerEvents
from relationship.service import SqlRelationshipService
from tests.asgi_server import serve
from tests.conftest import SqlCrm
from tests.factories import add_customer
from tests.history_events import T0, Chat, ingest_chats, write_tracker_events
from tests.integration.test_console_auth import AGENT_PASSWORD, Console, build_app
from tests.workspace import workspace_audit
from workspace.live import LiveConversations, flags_of
from workspace.summary import ConversationSummaries

pytestmark = pytest.mark.integration
NOW = datetime.fromtimestamp(T0, tz=timezone.utc).replace(tzinfo=None) + timedelta(minutes=5)
PACKET = build_packet(reason="asked", verified=False, profile=None, orders=[], tickets=[], transcript=[],
                      intents=[], slots={}, sentiment_now=None)  # fmt: skip


def chats(customer: str | None = None) -> list[Chat]:
    calm = Chat("rest-calm").session_start()
    calm.turn("where is my sofa", "order_status", ("utter_ask_order", "Which order?"))
    lost = Chat("rest-lost").session_start()
    lost.turn("hi, lovely shop, thanks!", "greet", ("utter_greet", "Hello!"))
    lost.turn("qwzx blorp vrrk", "nlu_fallback", ("utter_default", "Sorry, I didn't get that."))
    cross = Chat("rest-cross").session_start()
    cross.turn("hi, lovely shop, thanks!", "greet", ("utter_greet", "Hello!"))
    cross.turn("terrible service, I am angry", "complain", ("utter_sorry", "I'm sorry."))
    if customer:
        cross.slot("customer_id", customer)
    waiting = Chat("rest-waiting").session_start()
    waiting.turn("terrible service, I am angry", "complain", ("utter_sorry", "I'm sorry."))
    old = Chat("rest-old").session_start()
    old.turn("where is my sofa", "order_status", ("utter_ask_order", "Which order?"))
    old.clock -= 3600  # its last word an hour before the others: not live
    old.events = [dict(e, timestamp=e["timestamp"] - 3600) for e in old.events]
    return [calm, lost, cross, waiting, old]


def test_live_conversations_are_the_recent_unfinished_ones_those_going_badly_first(sql_crm: SqlCrm, tmp_path) -> None:
    nora = add_customer(sql_crm.sessions, "Nora", "Quist")
    SqlHandoffService(sql_crm.sessions).request(NewHandoff("rest-waiting", "rest", None, "asked", None, PACKET))
    ingest_chats(
        sql_crm.sessions, tmp_path / "tracker.db", chats(nora), now=NOW.replace(tzinfo=timezone.utc).timestamp()
    )

    live = LiveConversations(sql_crm.sessions, clock=lambda: NOW).now()
    by_sender = {c.sender_id: c for c in live}
    assert set(by_sender) == {"rest-calm", "rest-lost", "rest-cross"}  # not the one with a person, nor the old one
    assert [c.sender_id for c in live][-1] == "rest-calm"  # flagged ones first
    assert by_sender["rest-lost"].flags == ("fallbacks",)
    assert by_sender["rest-cross"].flags == ("sentiment",)
    assert by_sender["rest-cross"].customer_name == "Nora Quist" and by_sender["rest-cross"].customer_id == nora
    assert by_sender["rest-cross"].mood is not None and by_sender["rest-cross"].mood <= -0.5
    assert by_sender["rest-calm"].flags == () and by_sender["rest-calm"].customer_name is None
    assert [(line.who, line.text) for line in by_sender["rest-calm"].recent] == [
        ("customer", "where is my sofa"),
        ("bot", "Which order?"),
    ]
    assert LiveConversations(sql_crm.sessions, clock=lambda: NOW + timedelta(hours=1)).now() == []


class Line:
    def __init__(self, intent: str | None, sentiment: float | None) -> None:
        self.intent, self.sentiment = intent, sentiment


@pytest.mark.parametrize(
    ("lines", "flags"),
    [
        ([("greet", 0.5), ("nlu_fallback", 0.0)], ("fallbacks",)),  # the latest not understood
        ([("nlu_fallback", 0.0), ("faq", 0.0), ("nlu_fallback", 0.0), ("faq", 0.0)], ("fallbacks",)),  # 2 of 4
        ([("nlu_fallback", 0.0), ("faq", 0.0), ("faq", 0.0), ("faq", 0.0), ("faq", 0.0)], ()),  # long ago
        ([("greet", 0.0), ("complain", -0.55)], ("sentiment",)),  # low
        ([("greet", 0.4), ("complain", -0.25)], ("sentiment",)),  # falling by 0.65 to below -0.2
        ([("greet", 0.1), ("complain", -0.25)], ()),  # a small drop to a mild mood
        ([("greet", None), ("nlu_fallback", -0.6)], ("fallbacks", "sentiment")),
        ([], ()),
    ],
)
def test_the_flags(lines, flags) -> None:
    assert flags_of([Line(i, s) for i, s in lines]) == flags  # type: ignore[arg-type]


# ---- server-sent events -------------------------------------------------------------------------


def read_events(response: requests.Response, until: float) -> Iterator[tuple[str, str]]:
    """(event, data) pairs as they arrive, until `until` (time.monotonic)."""
    event = None
    for raw in response.iter_lines(decode_unicode=True):
        if time.monotonic() > until:
            return
        if raw.startswith("event:"):
            event = raw.split(":", 1)[1].strip()
        elif raw.startswith("data:") and event:
            yield event, raw.split(":", 1)[1].strip()
            event = None


@pytest.fixture
def console(sqlite_crm: SqlCrm, tmp_path: Path) -> Iterator[Console]:
    agents = SqlAgentService(sqlite_crm.sessions)
    ids = {"agent": agents.create_agent("agent", "Sam Taylor", AGENT_PASSWORD, "agent").agent_id}
    tracker = TrackerEvents(f"sqlite:///{tmp_path / 'tracker.db'}")
    TRACKER_EVENTS.metadata.create_all(tracker.engine)
    app = build_app(sqlite_crm, agents, tracker=tracker)
    with serve(app) as url:
        yield Console(url, app, agents, ids)


def test_the_counts_and_the_inbox_update_themselves(console: Console, sqlite_crm: SqlCrm) -> None:
    cookies, _ = console.session("agent")
    with requests.get(f"{console.url}/events", cookies=cookies, stream=True, timeout=10) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        seen = read_events(stream, time.monotonic() + 8)
        first = dict(next(seen) for _ in range(7))  # everything once, on connecting
        assert first["count-waiting"] == "0" and first["count-open"] == "0" and first["count-live"] == "0"
        SqlHandoffService(sqlite_crm.sessions).request(NewHandoff("web-9", "socketio", None, "asked", None, PACKET))
        changed = {}
        for event, data in seen:
            changed[event] = data
            if "count-waiting" in changed and "inbox" in changed:
                break
        assert changed["count-waiting"] == "1" and changed["inbox"] != first["inbox"]
        assert "count-live" not in changed  # only what changed is sent


def test_a_signed_out_agent_gets_no_stream(console: Console) -> None:
    assert requests.get(f"{console.url}/events", timeout=10).status_code == 401
    cookies, _ = console.session("agent")
    console.agents.end_session(cookies[next(iter(cookies))])
    assert requests.get(f"{console.url}/events", cookies=cookies, timeout=10).status_code == 401


def test_a_taken_conversation_streams_each_new_line_once(console: Console, sqlite_crm: SqlCrm) -> None:
    desk = SqlHandoffService(sqlite_crm.sessions)
    handoff = desk.request(NewHandoff("web-7", "socketio", None, "asked", None, PACKET)).handoff
    desk.take(handoff.handoff_id, console.ids["agent"])
    tracker = console.app.state.services.tracker
    chat = Chat("web-7", channel="socketio").session_start()
    chat.user("<b>where</b> is my sofa?", "order_status")
    write_tracker_events(tracker.engine, [chat])
    cookies, _ = console.session("agent")
    url = f"{console.url}/handoffs/{handoff.handoff_id}/events"
    with requests.get(url, cookies=cookies, stream=True, timeout=10) as stream:
        seen = read_events(stream, time.monotonic() + 8)
        event, row = next(seen)
        assert event == "message" and "&lt;b&gt;where&lt;/b&gt; is my sofa?" in row and 'class="msg customer"' in row
        later = Chat("web-7", channel="socketio", clock=chat.clock).user("hello?", "greet")
        write_tracker_events(tracker.engine, [later])
        event, row = next(seen)
        assert event == "message" and "hello?" in row
        # a browser reconnecting sends the last id it had (Last-Event-ID) and gets only what came after it
        first_id = tracker.transcript("web-7")[0]["id"]
        again = requests.get(url, cookies=cookies, headers={"Last-Event-ID": str(first_id)}, stream=True, timeout=10)
        with again:
            resumed = read_events(again, time.monotonic() + 8)
            event, row = next(resumed)
            assert event == "message" and "hello?" in row and "sofa" not in row
            desk.close(handoff.handoff_id, console.ids["agent"], "resolved")
            assert next(resumed) == ("status", "resolved")
        assert next(seen) == ("status", "resolved")


def test_the_summary_of_a_taken_conversation_comes_from_what_was_recorded(sqlite_crm: SqlCrm, tmp_path) -> None:
    nora = add_customer(sqlite_crm.sessions, "Nora", "Quist")
    chat = Chat("rest-nora").session_start()
    chat.turn("hi, lovely shop, thanks!", "greet", ("utter_greet", "Hello!"))
    chat.slot("customer_id", nora).slot("order_number", "JH555001")
    chat.turn("where is my lamp JH555001", "order_status", ("utter_order_status", "It is on its way."))
    chat.turn("qwzx blorp vrrk", "nlu_fallback", ("utter_default", "Sorry, I didn't get that."))
    chat.turn("terrible service, I am angry", "complain", ("utter_sorry", "I'm sorry."))
    ingest_chats(sqlite_crm.sessions, tmp_path / "tracker.db", [chat], now=NOW.replace(tzinfo=timezone.utc).timestamp())
    profile = SqlRelationshipService(sqlite_crm.sessions, secret="test-secret").profile(nora)
    packet = build_packet(reason="negative_sentiment", verified=True, profile=profile, orders=[], tickets=[],
                          transcript=[], intents=["greet", "order_status"], slots={"order_number": "JH555001"},
                          sentiment_now=-0.75)  # fmt: skip
    desk = SqlHandoffService(sqlite_crm.sessions, clock=lambda: NOW)
    handoff = desk.request(NewHandoff("rest-nora", "rest", nora, "negative_sentiment", "standard", packet)).handoff

    summary = ConversationSummaries(sqlite_crm.sessions).for_handoff(handoff)
    text = summary.text
    assert summary.lines[0] == "Nora Quist (low, verified) on rest; strongly negative message after 4 messages."
    assert "Wanted: order status, complain." in text  # small talk and the fallback left out
    assert "The bot did not understand 1 of their messages." in text
    assert "Known: order number JH555001." in text
    assert "Mood: negative, falling (latest message -0.75)." in text

    anonymous = desk.request(NewHandoff("web-x", "socketio", None, "asked", None, PACKET)).handoff
    assert ConversationSummaries(sqlite_crm.sessions).for_handoff(anonymous).lines == (
        "An anonymous visitor on socketio; asked for a person after 0 messages.",
    )


class Counting(TrackerEvents):
    """The real tracker-store reader, counting its readings of new lines."""

    readings = 0

    def lines_since(self, after_id: int, limit: int = 2000):  # type: ignore[no-untyped-def]
        self.readings += 1
        return super().lines_since(after_id, limit)


def test_the_transcript_feed_reads_once_per_interval_for_every_conversation(tmp_path) -> None:
    tracker = Counting(f"sqlite:///{tmp_path / 'tracker.db'}")
    TRACKER_EVENTS.metadata.create_all(tracker.engine)
    old = Chat("web-a").session_start().user("before the feed started", "greet")
    write_tracker_events(tracker.engine, [old])
    now = {"t": 0.0}
    feed = TranscriptFeed(tracker, interval=0.1, keep=3, clock=lambda: now["t"])
    assert feed.lines("web-a", 0) is None  # from before the feed: the reader asks the log itself
    start = tracker.latest_id()
    write_tracker_events(tracker.engine, [Chat("web-a", clock=old.clock).user("one", "greet"),
                                          Chat("web-b", clock=old.clock).user("two", "greet")])  # fmt: skip
    assert feed.lines("web-a", start) == []  # read at t=0 before these were written: the next interval brings them
    now["t"] = 0.2
    a, b = feed.lines("web-a", start), feed.lines("web-b", start)
    assert [m["text"] for m in a or []] == ["one"] and [m["text"] for m in b or []] == ["two"]
    assert tracker.readings == 2  # one per interval, whatever the number of conversations asking
    assert feed.lines("web-a", (a or [])[0]["id"]) == []
    later = Chat("web-c", clock=old.clock + 5)
    for n in range(4):
        later.user(f"line {n}", "greet")
    write_tracker_events(tracker.engine, [later])
    now["t"] = 0.4
    first = tracker.transcript("web-c")[0]["id"]
    assert [m["text"] for m in feed.lines("web-c", first) or []] == ["line 1", "line 2", "line 3"]  # keeps 3
    assert feed.lines("web-a", start) is None  # fell out of what it keeps: ask the log


def test_stepping_in_when_the_bot_cannot_be_reached_changes_nothing(sqlite_crm: SqlCrm, tmp_path) -> None:
    ingest_chats(
        sqlite_crm.sessions, tmp_path / "tracker.db", chats(), now=NOW.replace(tzinfo=timezone.utc).timestamp()
    )
    live = LiveConversations(sqlite_crm.sessions, clock=lambda: NOW)
    lost = next(c for c in live.now() if c.sender_id == "rest-lost")
    agents = SqlAgentService(sqlite_crm.sessions)
    sam = agents.create_agent("sam", "Sam Taylor", AGENT_PASSWORD, "agent").agent_id
    closed_port = RasaConversations("http://127.0.0.1:9", "a-key-for-a-server-that-is-not-there-0123456789")
    app = build_app(sqlite_crm, agents, live=live, rasa=closed_port)
    with serve(app) as url:
        token, csrf = agents.start_session(sam)
        response = requests.post(f"{url}/live/{lost.conversation_id}/join", cookies={SESSION_COOKIE: token},
                                 headers={"X-CSRF-Token": csrf}, allow_redirects=False, timeout=30)  # fmt: skip
        assert response.status_code == 503 and "nothing was sent" in response.text
        gone = requests.post(f"{url}/live/999/join", cookies={SESSION_COOKIE: token}, headers={"X-CSRF-Token": csrf},
                             allow_redirects=False, timeout=30)  # fmt: skip
        assert gone.status_code == 404
    desk = SqlHandoffService(sqlite_crm.sessions)
    assert desk.open_for("rest-lost") is None  # the handoff made first was withdrawn
    with sqlite_crm.sessions() as s:
        assert s.execute(select(HandoffRow.status, HandoffRow.reason)).tuples().all() == [("cancelled", "agent_joined")]
    assert [e.action for e in workspace_audit(sqlite_crm).entries(AuditQuery()).entries] == []
    assert any(c.sender_id == "rest-lost" for c in live.now())  # still the bot's, still on the live list
