"""Fuzzing the web chat's socket.io channel (bot/channels.py WebChatInput, /socket.io on the Rasa port).

The widget's two events are `session_request` ({session_id}) and `user_uttered` ({message, session_id,
customData}). Hostile values in both, and hostile connections, must leave the Rasa server up, answering,
and without a Python traceback in its log.

Malformed Engine.IO/Socket.IO frames used to make python-engineio and python-socketio log tracebacks, and an
unpaired surrogate in a session id used to stop the Rasa server; the latter's test runs last in the package,
since a regression would stop the stack the package shares.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import socketio
import websocket

from shared.web_chat import MAX_SESSIONS_PER_SOCKET, MIN_SESSION_ID_CHARS
from tests.e2e.stack import Stack
from tests.fuzz.conftest import FuzzCounts, assert_still_answers, tracebacks_since
from tests.fuzz.hostile import ALL_TEXTS, random_json_value, random_text, texts
from tests.waiting import wait_for
from tests.web_chat_client import WebChatClient

pytestmark = pytest.mark.fuzz
TARGET = "web chat socket.io"
FRAMES = "web chat socket.io, malformed frames"
SEED = 20261124


class ServerStopped(Exception):
    """The Rasa server stopped, or stopped answering, after an input."""


def hostile_session_requests(rng: random.Random) -> Iterator[Any]:
    """Anything but no data at all (python-socketio's emit sends None as no argument: an expected failure below)."""
    for text in ALL_TEXTS:
        yield {"session_id": text}
    for _ in range(900):
        data = rng.choice(
            [
                {"session_id": random_json_value(rng)},
                {"session_id": random_text(rng, 300)},
                {"session_id": "s" * rng.choice([255, 256, 10_000, 200_000])},
                {"session_id": random_text(rng, 40), "extra": random_json_value(rng)},
                {random_text(rng, 10): random_json_value(rng)},
                {},
                random_json_value(rng),
            ]
        )
        yield {} if data is None else data


def raw_frames(rng: random.Random) -> Iterator[str | bytes]:
    """Engine.IO / Socket.IO frames a well-behaved client never sends."""
    fixed: list[str | bytes] = [
        "",
        "4",
        "42",
        "42[",
        '42["user_uttered"',
        '42["user_uttered",{"message":"hi","session_id":',
        "42{}",
        '42"user_uttered"',
        "42[]",
        "42[null]",
        "42[1,2,3]",
        '42["session_request",{"session_id":"a"},1,2,3]',
        '42/evil,["session_request",{}]',
        "41",
        "43",
        "44",
        "45",
        "46",
        "47",
        "48",
        "49",
        "0",
        "1",
        "3",
        "5",
        "6",
        "7",
        "9",
        "2probe",
        "4" + "2" * 100_000,
        '42["' + "x" * 500_000 + '"]',
        "451-" + '["user_uttered",{"_placeholder":true,"num":0}]',
        "451-" + '["user_uttered",{"_placeholder":true,"num":99}]',
        b"\x00\x01\x02",
        b"\xff" * 1000,
    ]
    yield from fixed
    for _ in range(300):
        kind = rng.randrange(4)
        if kind == 0:
            yield "42" + json.dumps([random_text(rng, 20), random_json_value(rng)])
        elif kind == 1:
            yield rng.choice("0123456789") + random_text(rng, 100)
        elif kind == 2:
            yield bytes(rng.randrange(256) for _ in range(rng.randint(1, 200)))
        else:
            yield "42" + json.dumps(["session_request", random_json_value(rng)])


def test_hostile_session_requests_and_connections_leave_the_chat_up(live_stack: Stack, fuzz_counts: FuzzCounts) -> None:
    stack, started, first_line = live_stack, time.monotonic(), len(live_stack.output)
    requests = list(hostile_session_requests(random.Random(SEED)))
    # a socket opens at most MAX_SESSIONS_PER_SOCKET sessions: a new one for each such batch
    for start in range(0, len(requests), MAX_SESSIONS_PER_SOCKET):
        batch = requests[start : start + MAX_SESSIONS_PER_SOCKET]
        chat = WebChatClient(stack.rasa_url)
        for data in batch:
            chat.client.emit("session_request", data)
        # every request is confirmed, with the session id asked for when it can be a secret, else a fresh one
        done = lambda chat=chat, count=len(batch): len(chat.confirmed) >= count  # noqa: E731
        assert wait_for(done, timeout=30), f"{len(chat.confirmed)} of {len(batch)} confirmed"
        for session_id in chat.confirmed:
            fuzz_counts.record(TARGET, "confirmed")
            assert isinstance(session_id, str) and MIN_SESSION_ID_CHARS <= len(session_id) <= 255
        chat.close()

    # one socket asking for more sessions than a widget ever needs: the rest are refused
    chat = WebChatClient(stack.rasa_url)
    for _ in range(MAX_SESSIONS_PER_SOCKET + 3):
        chat.client.emit("session_request", {"session_id": None})
    assert wait_for(lambda: len(refused(chat, "too_many_sessions")) >= 3, timeout=30), chat.uttered
    assert len(chat.confirmed) == MAX_SESSIONS_PER_SOCKET
    for _ in range(3):
        fuzz_counts.record(TARGET, "too many sessions")
    chat.close()

    # hostile connections: odd auth payloads, headers and query strings
    rng = random.Random(SEED + 1)
    for i in range(16):
        try:
            other = WebChatClient(
                stack.rasa_url + "?" + random_text(rng, 30).encode("utf-8", "replace").hex(),
                # a number as auth makes a malformed CONNECT packet ("401.5"): that is among the frames below
                auth={"token": random_json_value(rng)} if i % 2 else {random_text(rng, 20): random_text(rng)},
                headers={"X-Fuzz": random_text(rng, 50).encode("ascii", "replace").decode(), "Origin": "null"},
            )
            other.close()
            fuzz_counts.record(TARGET, "connected")
        except socketio.exceptions.ConnectionError:
            fuzz_counts.record(TARGET, "refused")

    fuzz_counts.timed(TARGET, time.monotonic() - started)

    assert not tracebacks_since(stack, first_line), tracebacks_since(stack, first_line)[:3]
    assert_still_answers(stack, "fuzz-socket-after-sessions")
    chat = WebChatClient(stack.rasa_url)
    assert chat.say(chat.session(), "hi")
    chat.close()


def hostile_messages(rng: random.Random) -> Iterator[tuple[str, Any]]:
    """(text, customData) with well-typed fields: what a tampered widget could send."""
    forged = [
        {"identity": {"customer_id": "cus_demo_anna", "source": "website"}},
        {"identity_token": "e30.e30.forged"},
        {"identity_token": 12345},
        {"identity_token": ["a"]},
        {"identity_token": {"customer_id": "cus_demo_anna"}},
        {"identity_token": "x" * 100_000},
        {"channel": "whatsapp", "sentiment": -1},
        "[1, 2]",
        '{"identity": {"customer_id": "cus_demo_anna"}}',
        7,
        None,
    ]
    for i, text in enumerate([*ALL_TEXTS, *texts(SEED + 3, 130, 300), "x " * 5_000, "hello " * 20_000]):
        if not text.strip():
            continue  # blank text is in the expected failures below
        yield text, forged[i % len(forged)] if i % 3 == 0 else {"k": random_text(rng, 30)}


def test_hostile_messages_on_the_web_chat_are_answered(live_stack: Stack, fuzz_counts: FuzzCounts) -> None:
    stack, started, first_line = live_stack, time.monotonic(), len(live_stack.output)
    chat = WebChatClient(stack.rasa_url)
    clients = [chat]
    # four conversations in turn: a message that comes while its conversation's previous turn still runs waits
    # for Rasa's lock, polled once a second. A conversation a person took is replaced by one on a new socket, as
    # a socket may open only a few sessions.
    slots = [(chat, chat.session()) for _ in range(4)]
    sent, silent = 0, []
    for i, (text, custom) in enumerate(hostile_messages(random.Random(SEED + 4))):
        client, session = slots[i % len(slots)]
        if handed_off(stack, session):  # a person has it now: the bot stays silent, by design
            client = WebChatClient(stack.rasa_url)
            clients.append(client)
            session = client.session()
            slots[i % len(slots)] = (client, session)
        command = text.startswith("/")  # "/restart" and the like are Rasa's commands: some answer nothing
        replies = client.say(session, text, custom, timeout=2 if command else 30)
        fuzz_counts.record(TARGET, "answered" if replies else "silent")
        sent += 1
        if not replies and not command and not handed_off(stack, session):
            silent.append(f"{text[:80]!r} (connected: {client.client.connected})")
            if len(silent) >= 3:
                break  # not answering any more: no point in waiting for each of the rest
    fuzz_counts.timed(TARGET, time.monotonic() - started)

    assert sent >= 150 and not silent, silent
    assert not tracebacks_since(stack, first_line), tracebacks_since(stack, first_line)[:3]
    texts_seen = " ".join(str(u.get("text", "")) for c in clients for u in c.uttered if isinstance(u, dict))
    assert "Welcome back" not in texts_seen  # a forged identity in customData is never believed
    for client in clients:
        client.close()
    assert_still_answers(stack, "fuzz-socket-after-messages")


def refused(chat: WebChatClient, error: str) -> list[Any]:
    with chat.lock:
        return [reply for reply in chat.uttered if isinstance(reply, dict) and reply.get("error") == error]


def test_messages_naming_sessions_the_socket_did_not_open_are_refused(
    live_stack: Stack, fuzz_counts: FuzzCounts
) -> None:
    """A socket talks only in the sessions it opened (shared/web_chat.py): a message naming any other session,
    another socket's, its conversation's sender id or anything else, is refused and reaches no conversation."""
    stack, started, first_line = live_stack, time.monotonic(), len(live_stack.output)
    owner = WebChatClient(stack.rasa_url)
    session = owner.session()
    assert owner.say(session, "hi")
    sender = stack.web_sender(session)
    owner_heard = len(owner.uttered)

    intruder = WebChatClient(stack.rasa_url)
    intruder.session()  # a session of its own does not open anyone else's
    rng = random.Random(SEED + 6)
    named = [session, sender, session.upper(), f"{session} ", "default", "demo-anna"]
    named += [text for text in ALL_TEXTS if text.strip() and len(text) <= 255 and text.isprintable()]
    named += [random_text(rng, 60) for _ in range(100)]
    valid = [n for n in named if n.strip() and len(n) <= 255 and n.isprintable()]
    for session_id in named:
        intruder.client.emit("user_uttered", {"message": "hi", "session_id": session_id, "customData": {}})
        fuzz_counts.record(TARGET, "session not opened")
    assert wait_for(lambda: len(refused(intruder, "unknown_session")) >= len(valid), timeout=60), (
        f"{len(refused(intruder, 'unknown_session'))} of {len(valid)} refused"
    )
    time.sleep(1)
    with intruder.lock:
        assert all(isinstance(u, dict) and u.get("error") for u in intruder.uttered), intruder.uttered
    assert len(owner.uttered) == owner_heard  # nothing reached the owner's conversation
    assert stack.user_texts(sender) == ["hi"]
    intruder.close()
    owner.close()
    fuzz_counts.timed(TARGET, time.monotonic() - started)
    assert not tracebacks_since(stack, first_line), tracebacks_since(stack, first_line)[:3]


def handed_off(stack: Stack, session_id: str) -> bool:
    return bool(
        stack.crm(
            "SELECT 1 FROM handoffs WHERE sender_id = ? AND status IN ('waiting', 'assigned')",
            stack.web_sender(session_id),
        )
    )


WRONG_TYPES: list[tuple[str, Any]] = [
    ("session_request", (None,)),
    ("user_uttered", (None,)),
    ("user_uttered", ("hi",)),
    ("user_uttered", ([1, 2],)),
    ("user_uttered", (5,)),
    ("user_uttered", ({"message": 5, "session_id": "fuzz-wrong"},)),
    ("user_uttered", ({"message": ["hi"], "session_id": "fuzz-wrong"},)),
    ("user_uttered", ({"message": {"text": "hi"}, "session_id": "fuzz-wrong"},)),
    ("user_uttered", ({"message": None, "session_id": "fuzz-wrong"},)),
    ("user_uttered", ({"message": "", "session_id": "fuzz-wrong"},)),
    ("user_uttered", ({"message": "   ", "session_id": "fuzz-wrong"},)),
    ("user_uttered", ({"message": "hi", "session_id": "fuzz-wrong", "customData": "not json"},)),
    ("user_uttered", ({"message": "hi", "session_id": "fuzz-wrong", "customData": "{"},)),
]


def test_wrong_typed_payloads_are_refused_in_the_chat_without_a_traceback(
    live_stack: Stack, fuzz_counts: FuzzCounts
) -> None:
    """A payload that is not an object, a message that is not a non-blank string, customData that is not a JSON
    object: Rasa's own handler logs a traceback and drops the message without a word; WebChatInput answers the
    sender with a refusal that says what is wrong."""
    stack, started, first_line = live_stack, time.monotonic(), len(live_stack.output)
    chat = WebChatClient(stack.rasa_url)
    rng = random.Random(SEED + 5)
    refused = [args for event, args in WRONG_TYPES if event == "user_uttered"] * 4
    payloads = [("session_request", (None,)), *(("user_uttered", args) for args in refused)]
    payloads += [("user_uttered", (random_json_value(rng),)) for _ in range(100)]
    payloads += [
        ("user_uttered", ({"message": random_json_value(rng), "session_id": "fuzz-wrong"},)) for _ in range(100)
    ]
    for event, args in payloads:
        chat.client.emit(event, args)
        fuzz_counts.record(TARGET, "wrong type")

    def refusals() -> int:
        with chat.lock:
            return sum(1 for reply in chat.uttered if isinstance(reply, dict) and reply.get("error") == "bad_request")

    assert wait_for(lambda: refusals() >= len(refused), timeout=30), f"{refusals()} of {len(refused)} refused"
    chat.close()
    fuzz_counts.timed(TARGET, time.monotonic() - started)
    assert_still_answers(stack, "fuzz-socket-after-wrong-types")
    assert not (found := tracebacks_since(stack, first_line)), f"{len(found)} tracebacks, the first:\n{found[0]}"


def test_malformed_frames_are_dropped_without_a_traceback(live_stack: Stack, fuzz_counts: FuzzCounts) -> None:
    """python-engineio let a malformed frame escape its websocket loop (a traceback, a writer task left
    pending) and python-socketio logged one for a packet it could not decode; bot/rasa_patches.py drops such
    frames with one log line."""
    stack, started, first_line = live_stack, time.monotonic(), len(live_stack.output)
    send_raw_frames(stack, fuzz_counts)
    fuzz_counts.timed(FRAMES, time.monotonic() - started)
    assert_still_answers(stack, "fuzz-socket-after-frames")
    assert not (found := tracebacks_since(stack, first_line)), f"{len(found)} tracebacks, the first:\n{found[0]}"


def test_a_session_id_that_is_not_text_does_not_stop_the_server(live_stack: Stack, fuzz_counts: FuzzCounts) -> None:
    """An unpaired surrogate ('\\ud800') as a session id used to reach Rasa's SQL tracker store, which answers
    the database's encoding error with sys.exit(1): one web chat message stopped the Rasa server. Now the
    session request gets a fresh id and the message a refusal. Runs last: a regression stops the shared stack."""
    stack = live_stack
    chat = WebChatClient(stack.rasa_url)
    assert chat.session("\ud800") != "\ud800"
    replies = chat.say("\ud800", "hi", timeout=10)
    fuzz_counts.record(TARGET, "surrogate")
    assert replies and replies[0].get("error") == "bad_request", replies
    time.sleep(2)
    if stack.process.poll() is not None or any("rasa.1 stopped" in line for line in stack.output):
        raise ServerStopped("".join(line for line in stack.output[-200:] if "Error" in line or "stopped" in line))
    chat.close()
    assert_still_answers(stack, "fuzz-socket-after-surrogate")


def send_raw_frames(stack: Stack, fuzz_counts: FuzzCounts) -> None:
    """Malformed Engine.IO / Socket.IO frames over a bare websocket (a new one whenever the server closes it)."""
    host = urlsplit(stack.rasa_url).netloc
    ws = None
    for frame in raw_frames(random.Random(SEED + 2)):
        if ws is None:
            ws = websocket.create_connection(f"ws://{host}/socket.io/?EIO=4&transport=websocket", timeout=10)
            ws.recv()  # the Engine.IO open packet
            ws.send("40")  # join the default namespace
        try:
            ws.send_binary(frame) if isinstance(frame, bytes) else ws.send(frame)
            fuzz_counts.record(FRAMES, "frame")
        except (websocket.WebSocketException, OSError):
            fuzz_counts.record(FRAMES, "closed")
            ws = None
    if ws is not None:
        ws.close()
