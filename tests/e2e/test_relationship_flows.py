"""Consent, surveys, preferences and data rights through the real product (Rasa server, action server,
history ingestion), over REST, then checked in the CRM and in Rasa's tracker store."""

from __future__ import annotations

import email
import json
import sqlite3
import time
from collections.abc import Iterator
from datetime import date

import pytest
import requests

from crm_adapter.notify import outbox_code
from tests.console_client import post_login
from tests.e2e.stack import Stack, running_stack
from tests.waiting import wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("hearth-relationship")) as s:
        yield s


def test_first_conversation_asks_consent_enforces_it_and_ends_with_a_survey(stack: Stack) -> None:
    sender = "e2e-lucy"
    stack.say(sender, "where is my order?")
    stack.say(sender, "lucy.chen@example.com")
    replies = stack.say(sender, "JH100003")  # the proof of identity, and the order "my order" means
    assert replies[0].startswith("Your order JH100003 (")
    assert replies[-1].startswith("May I remember our conversations")  # Lucy never gave consent
    assert stack.say(sender, "no")[0].startswith("Can we send you service messages")
    assert stack.say(sender, "yes")[0].startswith("And would you like to hear about offers")
    assert stack.say(sender, "no thanks")[0].startswith("Thanks, noted")
    assert stack.crm("SELECT purpose, granted FROM consents WHERE customer_id = 'cus_demo_lucy' ORDER BY purpose") == [
        ("history", 0),
        ("marketing", 0),
        ("service", 1),
    ]
    stack.say(sender, "I want to make a complaint")
    stack.say(sender, "The lamp arrived broken and I am really upset about it, it was a gift")
    assert stack.say(sender, "bye")[0].startswith("Before you go: how did I do today")
    assert stack.say(sender, "4, quick but I had to repeat myself")[0].startswith("One last question")
    assert stack.say(sender, "9")[0].startswith("Thank you for the feedback")
    # the seeded history has other customers' answers: this conversation's are Lucy's, and only these two
    answers = (
        "SELECT kind, score, resolution, comment, customer_id FROM feedback WHERE customer_id = ? OR sender_id = ?"
    )
    assert stack.crm(answers + " ORDER BY id", "cus_demo_lucy", sender) == [
        ("csat", 4, "bot", "quick but I had to repeat myself", "cus_demo_lucy"),
        ("nps", 9, None, None, "cus_demo_lucy"),
    ]
    # the history has the conversation, its sentiment, but not one word of it
    rows = wait_for(
        lambda: (
            stack.crm(
                "SELECT m.text, m.sentiment FROM messages m JOIN conversations c ON c.id = m.conversation_id "
                "WHERE c.sender_id = ? AND m.sender = 'customer'",
                sender,
            )
            if len(
                stack.crm(
                    "SELECT 1 FROM messages m JOIN conversations c ON c.id = m.conversation_id WHERE c.sender_id = ?",
                    sender,
                )
            )
            >= 20  # fmt: skip
            else None
        )
    )
    assert rows, "the conversation never reached the history"
    assert all(text is None for text, _ in rows)
    assert min(score for _, score in rows if score is not None) < -0.3  # "really upset"
    assert stack.crm("SELECT count(*) FROM messages WHERE text LIKE '%lamp arrived broken%'") == [(0,)]
    assert stack.crm("SELECT count(*) FROM nlu_reviews WHERE text LIKE '%lucy%'") == [(0,)]

    # the team sees the rating on the analytics page the run command serves
    password = (stack.data_dir / "console_admin_password").read_text().strip()
    signed_out = requests.get(f"{stack.console_url}/analytics", timeout=10, allow_redirects=False)
    assert signed_out.status_code == 303 and "/login" in signed_out.headers["location"]
    with requests.Session() as admin:
        post_login(stack.console_url, {"username": "admin", "password": password}, http=admin)
        page = admin.get(f"{stack.console_url}/analytics", timeout=30)
        today = date.today().isoformat()  # the seeded history ends two days ago: today is this conversation's
        only_today = admin.get(f"{stack.console_url}/analytics?start={today}&end={today}", timeout=30)
    assert page.status_code == 200 and 'data-figure="csat_bot">' in page.text
    assert only_today.status_code == 200 and 'data-figure="csat_bot">4.0<' in only_today.text


def test_a_customer_sees_exports_and_erases_their_data(stack: Stack) -> None:
    sender = "e2e-anna"
    stack.say(sender, "what do you know about me?")
    stack.say(sender, "anna.berg@example.com")
    summary = "\n".join(stack.say(sender, "JH100001"))
    assert "Here's what we know about you, Anna" in summary
    assert "anna.berg@example.com" in summary and "Relationship score" in summary and "purchases" in summary

    reply = stack.say(sender, "please send me a copy of all my data")[0]
    assert reply.startswith("I've sent a copy of everything we hold about you")
    outbox = list((stack.data_dir / "outbox").glob("*.eml"))
    assert len(outbox) == 1
    message = email.message_from_bytes(outbox[0].read_bytes())
    bundle = json.loads(next(p for p in message.walk() if p.get_filename()).get_payload(decode=True))
    assert bundle["format"] == "hearth-customer-export/1"
    assert bundle["profile"]["email"] == "anna.berg@example.com"
    assert {"history", "service", "marketing"} <= set(bundle["consents"])
    assert any(o["order_number"] == "JH100001" for o in bundle["orders"])

    reply = stack.say(sender, "I'd prefer you contact me by email in the evenings")[0]
    assert reply.startswith("Noted:") and "email" in reply and "evening" in reply
    assert stack.crm("SELECT key, value FROM preferences WHERE customer_id = 'cus_demo_anna' ORDER BY key")[-2:] == [
        ("channel", "email"),
        ("time_of_day", "evening"),
    ]

    phone = stack.crm("SELECT phone FROM customers WHERE id = 'cus_demo_anna'")[0][0]
    phone_is_hers_alone = stack.crm("SELECT count(*) FROM customers WHERE phone = ?", phone) == [(1,)]
    # verified by an order number only: erasing needs the code emailed to the address on file first
    asked = stack.say(sender, "delete my account and erase all my data")
    assert asked[0].startswith("Erasing an account can't be undone") and "a***@example.com" in asked[0], asked
    code = wait_for(lambda: outbox_code(stack.data_dir / "outbox", "anna.berg@example.com"))
    reply = stack.say(sender, code)
    assert reply[0].startswith("This deletes your"), (reply, stack.heard(sender))
    assert stack.say(sender, "yes")[0].startswith("Your data has been erased")
    done = wait_for(lambda: stack.crm("SELECT status, customer_id, sender_ids FROM privacy_jobs WHERE kind = 'erase'")
                    == [("done", None, None)])  # fmt: skip
    assert done, stack.crm("SELECT status FROM privacy_jobs")
    time.sleep(2)  # ingestion has caught up past the last turn before it ran the job; one more round

    needles = ["anna.berg@example.com", "cus_demo_anna", sender, "demo-anna", "JH100001"]
    needles += [phone] if phone_is_hers_alone else []  # demo phone numbers are drawn from a small range
    found = []
    for db in ("crm.db", "tracker.db"):
        with sqlite3.connect(stack.data_dir / db) as conn:
            tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            for table in tables:
                for row in conn.execute(f'SELECT * FROM "{table}"'):
                    flat = json.dumps([str(v) for v in row])
                    found += [f"{db}/{table}: {n}" for n in needles if n in flat]
    assert found == []
    assert not list((stack.data_dir / "outbox").glob("*.eml"))
    # the customer who erased themselves is a stranger now
    assert stack.say(sender, "hi")[0].startswith("Hi, I'm Juno")
