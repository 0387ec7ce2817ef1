from __future__ import annotations

import pytest

from bot.message_rules import MAX_MESSAGE_CHARS, rest_message_problem, sender_problem, socket_message_problem

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "payload",
    [
        None,
        [1, 2],
        "hi",
        {"message": "hi"},
        {"sender": "", "message": "hi"},
        {"sender": 7, "message": "hi"},
        {"sender": "a\x00b", "message": "hi"},
        {"sender": "x" * 256, "message": "hi"},
        {"sender": "s", "message": "   "},
        {"sender": "s", "message": 42},
        {"sender": "s", "message": "x" * (MAX_MESSAGE_CHARS + 1)},
        {"sender": "s", "message": "hi", "metadata": "token"},
        {"sender": "a\ud800", "message": "hi"},
        {"sender": "s", "message": "hi \udfff"},
        {"sender": "s", "message": "hi", "metadata": {"k": "\ud800"}},
    ],
)
def test_malformed_rest_messages_are_refused_with_a_reason(payload):
    problem = rest_message_problem(payload)
    assert problem and problem.endswith(".")


@pytest.mark.parametrize(
    "payload",
    [
        {"sender": "s", "message": "hi"},
        {"sender": "é-👍", "message": "<script>alert(1)</script>' OR 1=1 --", "metadata": {"k": "v"}},
        {"sender": "s", "message": "x" * MAX_MESSAGE_CHARS},
    ],
)
def test_well_formed_rest_messages_pass(payload):
    assert rest_message_problem(payload) is None


KEY = "customData"


@pytest.mark.parametrize(
    "data",
    [
        None,
        "hi",
        [1, 2],
        5,
        {"message": "hi"},
        {"message": "hi", "session_id": ""},
        {"message": "hi", "session_id": 5},
        {"message": "hi", "session_id": "\ud800"},
        {"message": "hi", "session_id": "x" * 256},
        {"message": "hi", "session_id": "a\nb"},
        {"message": None, "session_id": "s"},
        {"message": ["hi"], "session_id": "s"},
        {"message": {"text": "hi"}, "session_id": "s"},
        {"message": "   ", "session_id": "s"},
        {"message": "x" * (MAX_MESSAGE_CHARS + 1), "session_id": "s"},
        {"message": "hi \ud800", "session_id": "s"},
        {"message": "hi", "session_id": "s", KEY: "not json"},
        {"message": "hi", "session_id": "s", KEY: "{"},
        {"message": "hi", "session_id": "s", KEY: "[1]"},
        {"message": "hi", "session_id": "s", KEY: 7},
    ],
)
def test_malformed_web_chat_messages_are_refused_with_a_reason(data):
    problem = socket_message_problem(data, KEY, session_persistence=True)
    assert problem and problem.endswith(".")


@pytest.mark.parametrize(
    "data",
    [
        {"message": "hi", "session_id": "s"},
        {"message": "hi", "session_id": "s", KEY: {"identity_token": "t"}},
        {"message": "hi", "session_id": "s", KEY: '{"identity_token": "t"}'},
        {"message": "<img src=x onerror=alert(1)> é 👍", "session_id": "9f" * 16, KEY: None},
    ],
)
def test_well_formed_web_chat_messages_pass(data):
    assert socket_message_problem(data, KEY, session_persistence=True) is None


def test_without_session_persistence_the_socket_names_the_conversation():
    assert socket_message_problem({"message": "hi"}, KEY, session_persistence=False) is None
    assert socket_message_problem({"message": "hi"}, KEY, session_persistence=True)


@pytest.mark.parametrize("sender", [None, "", " ", 3, "\ud800", "a\x00", "x" * 256])
def test_a_sender_that_cannot_name_a_conversation_is_refused(sender):
    assert sender_problem(sender)


def test_a_sender_of_any_script_passes():
    assert sender_problem("клиент-42 👍") is None


@pytest.mark.parametrize("sender", ["web-0123456789abcdef0123456789abcdef01234567", "web-anna", "WEB-x", "Web-"])
def test_a_rest_sender_named_like_a_web_chat_conversation_is_refused(sender):
    problem = rest_message_problem({"sender": sender, "message": "hi"})
    assert problem and "web-" in problem
    assert rest_message_problem({"sender": f"my{sender}", "message": "hi"}) is None
