"""The real product, started by its own run command: Rasa server + action server + CRM, over REST.

One stack is started for the module with `python -m hearth run` (what `make run` does) on a
temporary data folder and free ports; conversations go through Rasa's REST channel; the
CRM rows and the tracker store are checked afterwards; the last test stops it with Ctrl-C.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import statistics
import time
from collections.abc import Iterator

import pytest
import requests

from tests.e2e.stack import Stack, running_stack
from tests.rasa_env import ROOT

pytestmark = pytest.mark.e2e
RESULTS = ROOT / "results"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("hearth-data")) as s:
        yield s


def test_a_returning_customer_is_recognised_and_helped(stack: Stack):
    replies = stack.say("demo-anna", "hi there")
    assert len(replies) == 1 and replies[0].startswith("Welcome back, Anna!")
    assert "Item arrived scratched" in replies[0]  # what matters from last time: her open ticket

    replies = stack.say("demo-anna", "where is my order JH100001?")
    assert "JH100001" in replies[0] and "on its way" in replies[0]

    replies = stack.say("demo-anna", "I'd like to make a complaint")
    assert "what happened" in replies[0]
    replies = stack.say("demo-anna", "The armchair arrived with a torn cushion and nobody called me back about it")
    reference = replies[0].split("logged your complaint as ")[1].split(",")[0]

    rows = stack.crm(
        "SELECT customer_id, kind, channel, sender_id, description FROM tickets WHERE reference = ?", reference
    )
    assert rows == [
        (
            "cus_demo_anna",
            "complaint",
            "rest",
            "demo-anna",
            "The armchair arrived with a torn cushion and nobody called me back about it",
        )
    ]


def test_a_new_visitor_verifies_then_changes_their_phone(stack: Stack):
    sender = "e2e-visitor-1"
    assert stack.say(sender, "hello")[0].startswith("Hi, I'm Juno")
    assert "email address" in stack.say(sender, "I need to change my phone number")[0]
    assert "order you've placed" in stack.say(sender, "omar.haddad@example.com")[0]
    assert "new phone number" in stack.say(sender, "JH100002")[0]
    assert stack.say(sender, "07700 900 777") == ["Done: your phone is now +447700900777. We'll use it from now on."]

    assert stack.crm("SELECT phone FROM customers WHERE id = 'cus_demo_omar'") == [("+447700900777",)]
    # verifying a REST conversation links nothing (REST sender ids are the caller's: crm_adapter/identity.py)
    assert stack.crm("SELECT * FROM channel_identities WHERE sender_id = ?", sender) == []

    # "forget me" ends the verification of this conversation
    assert "forgotten this device" in stack.say(sender, "please forget me on this device")[0]
    assert "email address" in stack.say(sender, "I need to change my phone number")[0]


def test_a_wrong_order_number_does_not_verify(stack: Stack):
    sender = "e2e-visitor-2"
    stack.say(sender, "where's my order")
    stack.say(sender, "anna.berg@example.com")
    reply = stack.say(sender, "JH100002")  # Omar's order, not Anna's
    assert reply[0] == "Sorry, that doesn't match our records. Let's try again."
    assert "JH100001" not in " ".join(reply) and "Oak" not in " ".join(reply)


def test_faq_and_fallback_offer_a_person(stack: Stack):
    assert "30 days" in " ".join(stack.say("e2e-visitor-3", "how long do I have to send something back?"))
    assert "get a person" in " ".join(stack.say("e2e-visitor-3", "zxcv qwerty blorp"))


def test_a_customer_can_leave_or_ask_a_question_at_a_free_text_question(stack: Stack):
    sender = "e2e-visitor-4"
    stack.say(sender, "I want to send back an order")
    stack.say(sender, "lucy.chen@example.com")
    # the order number that proved who she is does not silently become the order to return
    assert "Which order is it?" in stack.say(sender, "JH100003")[0]
    replies = stack.say(sender, "what are your opening hours?")  # answered, then the question again
    assert "Monday to Friday" in replies[0] and "Which order is it?" in replies[-1]
    assert "why are you returning it" in stack.say(sender, "JH100003")[0]
    # at a free-text question, "never mind" is not taken as the reason
    assert stack.say(sender, "never mind") == ["No problem, I've dropped that. Anything else?"]
    assert stack.crm("SELECT count(*) FROM returns WHERE customer_id = 'cus_demo_lucy'") == [(0,)]


def test_a_dropped_change_is_not_saved_later(stack: Stack):
    sender = "e2e-visitor-5"
    stack.say(sender, "please switch my email to lucy.somewhere@example.com")
    assert stack.say(sender, "never mind") == ["No problem, I've dropped that. Anything else?"]
    stack.say(sender, "I need to update my phone number")
    stack.say(sender, "lucy.chen@example.com")
    assert "new phone number" in stack.say(sender, "JH100003")[0]
    replies = stack.say(sender, "07700 900 888")
    assert replies[0] == "Done: your phone is now +447700900888. We'll use it from now on."
    assert replies[1:] == [  # Lucy has never said what she agrees to: asked once the request is done
        "May I remember our conversations, so you never have to repeat yourself? You can change your mind any "
        'time: just say "stop remembering me".'
    ]
    assert stack.crm("SELECT email, phone FROM customers WHERE id = 'cus_demo_lucy'") == [
        ("lucy.chen@example.com", "+447700900888")
    ]


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        b'{"message": "hi"}',
        b'{"sender": "s", "message": 42}',
        b'{"sender": "s", "message": ""}',
        b'{"sender": "a\\u0000b", "message": "hi"}',
        b'{"sender": "s", "message": "' + b"a" * 200_000 + b'"}',
    ],
)
def test_malformed_requests_get_a_clear_400(stack: Stack, body: bytes):
    response = requests.post(
        f"{stack.rasa_url}/webhooks/rest/webhook",
        data=body,
        headers={"Content-Type": "application/json", **stack.rest_headers()},
        timeout=30,
    )
    assert response.status_code == 400
    assert response.json()["error"] == "bad_request" and response.json()["message"]


def test_every_message_is_in_the_tracker_store(stack: Stack):
    with sqlite3.connect(stack.data_dir / "tracker.db") as conn:
        rows = conn.execute("SELECT type_name, data FROM events WHERE sender_id = 'demo-anna' ORDER BY id").fetchall()
    user_texts = [json.loads(data)["text"] for kind, data in rows if kind == "user"]
    assert user_texts[:2] == ["hi there", "where is my order JH100001?"]
    assert user_texts[-1].startswith("The armchair arrived")


def test_ctrl_c_stops_everything(stack: Stack):
    RESULTS.mkdir(exist_ok=True)
    times = sorted(stack.reply_times)
    (RESULTS / "e2e_reply_times.json").write_text(
        json.dumps(
            {
                "replies": len(times),
                "median_ms": round(statistics.median(times) * 1000, 1),
                "p90_ms": round(times[int(0.9 * (len(times) - 1))] * 1000, 1),
                "max_ms": round(times[-1] * 1000, 1),
            },
            indent=2,
        )
    )
    print(f"\nend-to-end reply time: median {statistics.median(times) * 1000:.0f} ms over {len(times)} replies")

    os.killpg(stack.process.pid, signal.SIGINT)  # what Ctrl-C in the terminal sends
    assert stack.process.wait(timeout=30) is not None
    time.sleep(0.5)
    for port in (int(stack.rasa_url.rsplit(":", 1)[1]), stack.action_port):
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still open after Ctrl-C"
    with pytest.raises(ProcessLookupError):  # no process of the run command's group is left
        os.killpg(stack.process.pid, 0)
