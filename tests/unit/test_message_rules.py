from __future__ import annotations

import pytest

from bot.message_rules import MAX_MESSAGE_CHARS, rest_message_problem

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
