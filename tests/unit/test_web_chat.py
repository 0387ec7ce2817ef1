"""Web chat sessions (shared/web_chat.py): the conversation's sender id is derived from the widget's secret session
id, and a socket talks only in the sessions it opened itself."""

from __future__ import annotations

import pytest

from shared import web_chat
from shared.web_chat import SocketSessions, TooManySessions, sender_id, sender_key

pytestmark = pytest.mark.unit

SECRET = "a-web-identity-secret-for-the-unit-tests-0123456789"
KEY = sender_key(SECRET)
SESSION = "4f9c2a7e1b7d4c1e9a550d5b1f3f2c11"


def test_the_sender_id_is_derived_from_the_session_id_and_the_secret_and_reveals_neither() -> None:
    sender = sender_id(KEY, SESSION)

    assert sender == sender_id(sender_key(SECRET), SESSION)  # the same on every server sharing the secret
    assert sender.startswith("web-") and len(sender) == 44 and sender[4:].isalnum()
    assert SESSION not in sender and sender != SESSION
    assert sender_id(KEY, SESSION + "x") != sender
    assert sender_id(sender_key(SECRET + "-other"), SESSION) != sender  # another deployment, other ids
    assert KEY != SECRET.encode()  # the key is derived from the secret, never the secret itself


def test_no_key_without_the_secret() -> None:
    with pytest.raises(ValueError, match="WEB_IDENTITY_SECRET"):
        sender_key("")


def test_naming_a_conversations_sender_id_as_the_session_gives_another_conversation() -> None:
    victim = sender_id(KEY, SESSION)

    attacker = SocketSessions(KEY)
    session_id, sender = attacker.open(victim)  # the sender id, as seen in the console or a log

    assert session_id == victim and sender != victim and sender == sender_id(KEY, victim)


@pytest.mark.parametrize("sender", ["demo-anna", "whatsapp:+447700900123", "1234567890123456"])
def test_a_session_named_like_another_channels_sender_reaches_a_web_chat_conversation_only(sender: str) -> None:
    _, derived = SocketSessions(KEY).open(sender)
    assert derived != sender and derived.startswith(web_chat.SENDER_PREFIX)
    assert not web_chat.is_web_chat_sender(sender)


def test_a_socket_talks_only_in_the_sessions_it_opened() -> None:
    mine, theirs = SocketSessions(KEY), SocketSessions(KEY)
    session_id, sender = mine.open(SESSION)

    assert mine.sender_of(SESSION) == sender
    assert theirs.sender_of(SESSION) is None  # another socket that merely names the session
    assert mine.sender_of(sender) is None  # the sender id is no session id
    assert mine.sender_of(None) is None and mine.sender_of(5) is None
    # the widget reopens the session it kept (a reload is a new socket): the same conversation
    assert theirs.open(SESSION) == (session_id, sender)


@pytest.mark.parametrize(
    "requested", [None, "", "short", "x" * 15, "x" * 256, "a\nb" * 8, "\ud800" * 16, 5, ["list"], {"a": 1}]
)
def test_a_session_id_that_cannot_be_a_secret_is_replaced_by_a_new_one(requested: object) -> None:
    sessions = SocketSessions(KEY)
    session_id, sender = sessions.open(requested)

    assert session_id != requested and web_chat.usable_session_id(session_id) and len(session_id) == 32
    assert sender == sender_id(KEY, session_id) and sessions.sender_of(session_id) == sender


def test_new_session_ids_are_not_repeated() -> None:
    assert len({SocketSessions(KEY).open(None)[0] for _ in range(100)}) == 100


def test_a_socket_opens_a_limited_number_of_sessions() -> None:
    sessions = SocketSessions(KEY)
    opened = [sessions.open(f"session-number-{n:04d}") for n in range(web_chat.MAX_SESSIONS_PER_SOCKET)]

    with pytest.raises(TooManySessions):
        sessions.open("session-number-9999")
    with pytest.raises(TooManySessions):
        sessions.open(None)
    assert sessions.open("session-number-0000") == opened[0]  # one it has already opened stays open
    assert len(sessions) == web_chat.MAX_SESSIONS_PER_SOCKET
    assert sessions.sender_of("session-number-9999") is None
