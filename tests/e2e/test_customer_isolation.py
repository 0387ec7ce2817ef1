"""A customer never reads another customer's data, attacked through the real product as an attacker would.

One stack for the module (`python -m hearth run`): one-time codes are emailed to a local SMTP sink, and
Telegram and WhatsApp (Twilio) are switched on against local stand-ins of their APIs. The attackers talk to
the bot over REST, over the web chat's real socket.io channel (as the widget does) and on the messaging
apps. Every reply an attacker gets is searched for the victim's personal data (names, email, phone,
address, order and tracking numbers, ticket references), and the victim's records in the CRM are compared
before and after: nothing of theirs may show, nothing of theirs may change.

Seeded victims (hearth/seed.py): Anna Berg (JH100001, REST sender `demo-anna`), Omar Haddad
(JH100002), Lucy Chen (JH100003), and customers of the generated 300.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from crm_adapter.rasa_api import RasaConversations
from crm_adapter.sql.db import make_engine, make_session_factory
from crm_adapter.sql.service import SqlCrmService
from shared import web_identity
from tests.e2e.stack import Stack, listening_addresses, rasa_api_refusals, running_stack
from tests.fake_messaging_apis import Accounts, FakeMessagingApis, running_fake_apis, telegram_message, twilio_message
from tests.fakes import RecordingCodeSender
from tests.smtp_sink import SmtpSink, smtp_sink
from tests.web_chat_client import WebChatClient, widget_config

pytestmark = pytest.mark.e2e

ANNA, OMAR, LUCY = "cus_demo_anna", "cus_demo_omar", "cus_demo_lucy"
ACCOUNTS = Accounts()
TWILIO_WEBHOOK_URL = "https://hearth.example.com/webhooks/twilio/webhook"
ANONYMOUS_GREETING = "Hi, I'm Juno from Juniper Home."  # utter_greet_anonymous
ASKS_EMAIL = "What's the email address on your Juniper Home account?"  # utter_ask_identity_email
NO_MATCH = "that doesn't match our records"  # utter_identity_failed
LOCKED = "stopped here to protect the account"  # utter_identity_locked
CODE_REQUIRED = "I can't take an order number right now"  # utter_identity_code_required
CODE_ON_ITS_WAY = "a 6-digit code is on its way"  # utter_ask_identity_proof, once a code was asked for
UNKNOWN_ORDER = "I can't find an order JH100002 on your account"  # utter_order_number_unknown


# ---- the stack ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mail() -> Iterator[SmtpSink]:
    with smtp_sink() as sink:
        yield sink


@pytest.fixture(scope="module")
def apis() -> Iterator[FakeMessagingApis]:
    with running_fake_apis(ACCOUNTS) as fake:
        yield fake


@pytest.fixture(scope="module")
def stack(mail: SmtpSink, apis: FakeMessagingApis, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    env = {
        "SMTP_HOST": "127.0.0.1",  # codes and exports go to the owner's address: the local sink
        "SMTP_PORT": str(mail.port),
        "CODE_SENDER": "smtp",
        "TELEGRAM_TOKEN": ACCOUNTS.telegram_token,
        "TELEGRAM_BOT_NAME": ACCOUNTS.telegram_bot_name,
        "TELEGRAM_WEBHOOK_URL": "https://hearth.example.com/webhooks/telegram/webhook",
        "TELEGRAM_API_URL": apis.api_url("telegram"),
        "TWILIO_ACCOUNT_SID": ACCOUNTS.twilio_account_sid,
        "TWILIO_AUTH_TOKEN": ACCOUNTS.twilio_auth_token,
        "TWILIO_NUMBER": ACCOUNTS.twilio_number,
        "TWILIO_WEBHOOK_URL": TWILIO_WEBHOOK_URL,
        "TWILIO_API_URL": apis.api_url("twilio"),
    }
    with running_stack(tmp_path_factory.mktemp("hearth-isolation"), **env) as s:
        yield s


# ---- the victims: what must never show, what must never change ----------------------------------


@dataclass(frozen=True)
class Person:
    customer_id: str
    first_name: str
    last_name: str
    email: str
    phone: str
    address: str
    orders: tuple[str, ...]
    tracking: tuple[str, ...]
    tickets: tuple[str, ...]


def person(stack: Stack, customer_id: str) -> Person:
    [(first, last, email, phone, address)] = stack.crm(
        "SELECT first_name, last_name, email, phone, address FROM customers WHERE id = ?", customer_id
    )
    orders = stack.crm("SELECT order_number, tracking_number FROM orders WHERE customer_id = ?", customer_id)
    tickets = stack.crm("SELECT reference FROM tickets WHERE customer_id = ?", customer_id)
    return Person(
        customer_id,
        first,
        last,
        email,
        phone,
        address,
        tuple(number for number, _ in orders),
        tuple(tracking for _, tracking in orders if tracking),
        tuple(reference for (reference,) in tickets),
    )


def traces(victim: Person, replies: list[str], typed: tuple[str, ...] = ()) -> list[str]:
    """The victim's personal data found in `replies`, except what the attacker typed themselves."""
    text = "\n".join(replies)
    markers = [victim.last_name, victim.email, victim.phone, victim.address, *victim.orders, *victim.tracking]
    found = [m for m in [*markers, *victim.tickets] if m and m not in typed and m in text]
    if re.search(rf"\b{re.escape(victim.first_name)}\b", text):
        found.append(victim.first_name)
    return found


def records(stack: Stack, customer_id: str) -> dict[str, Any]:
    """What the bot could change about a customer (not bookkeeping such as when a linked account was last seen)."""
    return {
        "customer": stack.crm(
            "SELECT first_name, last_name, email, phone, address, loyalty_points FROM customers WHERE id = ?",
            customer_id,
        ),
        "orders": stack.crm(
            "SELECT order_number, status, cancelled_at FROM orders WHERE customer_id = ? ORDER BY id", customer_id
        ),
        "returns": stack.crm("SELECT rma_number, status FROM returns WHERE customer_id = ? ORDER BY id", customer_id),
        "tickets": stack.crm("SELECT reference, status FROM tickets WHERE customer_id = ? ORDER BY id", customer_id),
        "tickets_on_their_orders": stack.crm(
            "SELECT t.reference FROM tickets t JOIN orders o ON o.id = t.order_id WHERE o.customer_id = ?",
            customer_id,
        ),
        "consents": stack.crm(
            "SELECT purpose, granted FROM consents WHERE customer_id = ? ORDER BY purpose", customer_id
        ),
        "preferences": stack.crm("SELECT key, value FROM preferences WHERE customer_id = ? ORDER BY key", customer_id),
        "channel_accounts": stack.crm(
            "SELECT channel, sender_id FROM channel_identities WHERE customer_id = ? ORDER BY id", customer_id
        ),
    }


def exports_to(mail: SmtpSink, address: str) -> list[Any]:
    return [m for m in mail.to(address) if any(part.get_filename() for part in m.walk())]


# ---- attackers' tools --------------------------------------------------------------------------


class WebChat:
    """A web chat visitor as the widget is one: the session id it keeps (or none: the server makes one), sent
    with its customData on every message."""

    def __init__(self, stack: Stack, session_id: str | None = None, custom_data: dict[str, Any] | None = None):
        self.custom_data = custom_data or {}
        self.chat = WebChatClient(stack.rasa_url)
        self.session_id = self.chat.session(session_id)

    def say(self, text: str, custom_data: dict[str, Any] | None = None, timeout: float = 30) -> list[str]:
        """The bot's replies to `text`: whatever arrives until the channel has been quiet for a second."""
        data = self.custom_data if custom_data is None else custom_data
        replies = self.chat.say(self.session_id, text, data, timeout=timeout, quiet=1.0)
        return [r.get("text", "") if isinstance(r, dict) else str(r) for r in replies]

    def close(self) -> None:
        self.chat.close()


def website_token(stack: Stack, email: str) -> str:
    """The identity token the demo website hands the widget of a customer signed in there."""
    with requests.Session() as browser:
        signed_in = browser.post(
            f"{stack.website_url}/signin", data={"email": email, "password": "juniper"}, timeout=10
        )
        assert signed_in.status_code == 200 and "Signed in as" in signed_in.text
        page = browser.get(f"{stack.website_url}/", timeout=10).text
    token = widget_config(page)["customData"]["identity_token"]
    assert isinstance(token, str)
    return token


def secret(stack: Stack) -> str:
    return (stack.data_dir / "web_identity_secret").read_text().strip()


def link(stack: Stack, customer_id: str, channel: str, sender_id: str) -> None:
    """A messaging account the customer linked earlier (as they would with a code and a yes)."""
    engine = make_engine(f"sqlite:///{stack.data_dir / 'crm.db'}")
    try:
        SqlCrmService(make_session_factory(engine), RecordingCodeSender(), secret="unused").link_identity(
            customer_id, channel, sender_id
        )
    finally:
        engine.dispose()


def other_code(code: str, n: int) -> str:
    """The n-th six-digit guess that is not `code`."""
    guesses = [f"{d}{d}{d}{d}{d}{d}" for d in "0123456789"]
    return [g for g in guesses if g != code][n]


# ---- naming someone else's order ----------------------------------------------------------------


def test_an_anonymous_visitor_naming_someone_elses_order_learns_and_changes_nothing(stack: Stack) -> None:
    omar, before = person(stack, OMAR), records(stack, OMAR)
    sender = "attacker-anonymous"
    replies = stack.say(sender, "where is my order JH100002?")
    assert ASKS_EMAIL in replies[-1]
    for guess in ("JH100001", "JH100003", "JH100099"):  # Anna's, Lucy's and nobody's order with Omar's email
        replies += stack.say(sender, omar.email)
        proof = stack.say(sender, guess)
        replies += proof
        assert NO_MATCH in proof[0] or LOCKED in proof[0], proof
    assert LOCKED in replies[-1]
    for text in ("where is my order JH100002?", "cancel order JH100002", "list my orders", "what do you know about me"):
        answer = stack.say(sender, text)
        replies += answer
        assert LOCKED in answer[0] or ASKS_EMAIL in answer[0], answer

    assert traces(omar, replies, typed=(omar.email, "JH100002")) == []
    assert "delivered" not in " ".join(replies)  # JH100002's status
    assert records(stack, OMAR) == before


def test_a_customer_verified_as_themselves_cannot_read_or_touch_someone_elses_order(stack: Stack) -> None:
    omar, before = person(stack, OMAR), records(stack, OMAR)
    sender = "attacker-lucy"
    stack.say(sender, "where is my order?")
    stack.say(sender, "lucy.chen@example.com")
    # verified as Lucy with her own order, which is then the order meant
    assert stack.say(sender, "JH100003")[0].startswith("Your order JH100003 (")

    replies = stack.say(sender, "and where is order JH100002?")
    assert UNKNOWN_ORDER in replies[0]
    replies += stack.say(sender, "please cancel order JH100002")
    replies += stack.say(sender, "yes")
    replies += stack.say(sender, "I want to send back order JH100002")
    replies += stack.say(sender, "it does not fit the room at all")
    replies += stack.say(sender, "order JH100002 never arrived")
    replies += stack.say(sender, "the parcel never came and the tracking has not moved")
    listed = stack.say(sender, "show me my orders")
    assert "JH100003" in listed[0]
    replies += listed

    assert sum(UNKNOWN_ORDER in r for r in replies) == 4  # status, cancel, return, delivery problem
    assert traces(omar, replies, typed=("JH100002",)) == []
    assert records(stack, OMAR) == before


def test_a_recognised_customer_naming_someone_elses_order_or_email_stays_themselves(stack: Stack) -> None:
    omar, before, anna = person(stack, OMAR), records(stack, OMAR), records(stack, ANNA)
    assert stack.say("demo-anna", "hi")[0].startswith("Welcome back, Anna!")  # linked REST sender: Anna

    replies = stack.say("demo-anna", "where is my order JH100002?")
    assert UNKNOWN_ORDER in replies[0]
    replies += stack.say("demo-anna", "I want to cancel order JH100002")
    replies += stack.say("demo-anna", "yes")
    replies += stack.say("demo-anna", "I'd like to return order JH100002")
    replies += stack.say("demo-anna", "it is broken")
    # Omar's email and then his order number: Anna is verified already, so they prove nothing new
    replies += stack.say("demo-anna", "verify me, my email is omar.haddad@example.com")
    replies += stack.say("demo-anna", "JH100002")
    replies += stack.say("demo-anna", "where is JH100002")
    summary = stack.say("demo-anna", "what do you know about me?")
    assert "Here's what we know about you, Anna" in summary[0] and "anna.berg@example.com" in summary[0]
    replies += summary
    replies += stack.say("demo-anna", "change my email to omar.haddad@example.com")

    assert traces(omar, replies, typed=(omar.email, "JH100002")) == []
    assert records(stack, OMAR) == before
    assert records(stack, ANNA) == anna


# ---- one-time codes and guessing ----------------------------------------------------------------


def test_a_one_time_code_goes_only_to_the_owner_and_guesses_are_limited(stack: Stack, mail: SmtpSink) -> None:
    lucy, before = person(stack, LUCY), records(stack, LUCY)
    mails_before, hers_before = len(mail.messages), len(mail.to(lucy.email))
    sender = "attacker-codes-1"
    replies = stack.say(sender, "what do you know about me?")
    replies += stack.say(sender, lucy.email)
    replies += stack.say(sender, "please email me a code")
    assert "a 6-digit code is on its way" in replies[-1]
    code = mail.wait_for_code(lucy.email, after=hers_before)
    assert [m["To"] for m in mail.messages[mails_before:]] == [lucy.email]  # to the owner, and nobody else

    for n in range(3):  # three wrong codes: the conversation stops verifying
        if n:
            replies += stack.say(sender, lucy.email)
        replies += stack.say(sender, other_code(code, n))
    assert LOCKED in replies[-1]
    assert code not in "\n".join(replies)  # the code never reaches the chat
    refused = stack.say(sender, "what do you know about me?")
    assert LOCKED in refused[0]

    # A fresh conversation against the same code: after five wrong guesses in all, even the right one fails.
    other = "attacker-codes-2"
    replies += refused + stack.say(other, "what do you know about me?")
    for n in (3, 4):
        replies += stack.say(other, lucy.email)
        replies += stack.say(other, other_code(code, n))
    replies += stack.say(other, lucy.email)
    right = stack.say(other, code)
    assert LOCKED in right[0], right

    assert traces(lucy, replies + right, typed=(lucy.email,)) == []
    assert "Here's what we know about you" not in "\n".join(replies + right)
    assert [m["To"] for m in mail.messages[mails_before:]] == [lucy.email]  # no second code was sent
    assert records(stack, LUCY) == before


def generated_customer(stack: Stack, n: int) -> str:
    """The n-th generated customer with an order (each test guesses at its own, so the limits do not mix)."""
    [(customer_id,)] = stack.crm(
        "SELECT c.id FROM customers c WHERE c.id NOT LIKE 'cus_demo_%' AND "
        "(SELECT count(*) FROM orders o WHERE o.customer_id = c.id) > 0 ORDER BY c.id LIMIT 1 OFFSET ?",
        n,
    )
    return customer_id


def guess_orders(stack: Stack, email: str, prefix: str, guesses: int = 10) -> list[str]:
    """Wrong order numbers for `email`, three per fresh conversation (each conversation stops after three)."""
    replies: list[str] = []
    numbers = iter(f"JH9{n:05d}" for n in range(guesses))
    for attempt in range((guesses + 2) // 3):
        sender = f"{prefix}-{attempt}"
        replies += stack.say(sender, "what do you know about me?")
        for number in [next(numbers, None) for _ in range(3)]:
            if number is None:
                break
            replies += stack.say(sender, email)
            replies += stack.say(sender, number)
    return replies


def test_a_stranger_guessing_from_many_conversations_cannot_lock_the_customer_out(stack: Stack, mail: SmtpSink) -> None:
    """Security finding 4. The bot stops a conversation after three wrong proofs, but an attacker can open as many
    as they like. Ten wrong order numbers an hour for an address stop order numbers for it: the guessing stops,
    and the customer still gets in with a code emailed to the address on file, which the attacker never sees."""
    victim_id = generated_customer(stack, 0)
    victim, before = person(stack, victim_id), records(stack, victim_id)
    mails_at_start = len(mail.to(victim.email))
    replies = guess_orders(stack, victim.email, "attacker-enumerates")
    assert LOCKED in "\n".join(replies)  # each conversation stopped after three; they went on in new ones
    assert not any(CODE_REQUIRED in reply for reply in replies)

    # the right order number is not taken for that address now, from the attacker nor anyone else ...
    replies += stack.say("attacker-enumerates-right", "what do you know about me?")
    replies += stack.say("attacker-enumerates-right", victim.email)
    right = stack.say("attacker-enumerates-right", victim.orders[0])
    assert CODE_REQUIRED in right[0] and CODE_ON_ITS_WAY in right[-1], right
    assert "Here's what we know about you" not in "\n".join(replies + right)
    assert traces(victim, replies + right, typed=(victim.email, victim.orders[0])) == []
    assert records(stack, victim_id) == before

    # ... but the customer, from a fresh conversation, is asked for the code the bot emails them, and gets in
    mail.wait_for_code(victim.email, after=mails_at_start)  # the code the attacker's step-up sent her (unused)
    mails_before = len(mail.to(victim.email))
    owner = "victim-comes-back"
    stack.say(owner, "what do you know about me?")
    stack.say(owner, victim.email)
    stepped_up = stack.say(owner, victim.orders[0])
    assert CODE_REQUIRED in stepped_up[0] and CODE_ON_ITS_WAY in stepped_up[-1], stepped_up
    code = mail.wait_for_code(victim.email, after=mails_before)
    verified = stack.say(owner, code)
    assert "Here's what we know about you" in "\n".join(verified), verified


def test_at_most_five_codes_an_hour_reach_an_address_however_many_conversations_ask(
    stack: Stack, mail: SmtpSink
) -> None:
    victim_id = generated_customer(stack, 1)
    victim, before = person(stack, victim_id), records(stack, victim_id)
    mails_before = len(mail.to(victim.email))
    for attempt in range(6):
        sender = f"attacker-asks-codes-{attempt}"
        stack.say(sender, "what do you know about me?")
        stack.say(sender, victim.email)
        assert CODE_ON_ITS_WAY in stack.say(sender, "email me a code")[-1]  # the same answer
    deadline = time.monotonic() + 10
    while len(mail.to(victim.email)) < mails_before + 5 and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1.5)  # a few worker rounds more: the sixth is never sent
    assert len(mail.to(victim.email)) - mails_before == 5
    # the newest code verifies its owner only: the attacker does not have it
    code = mail.wait_for_code(victim.email, after=len(mail.to(victim.email)) - 1)
    assert traces(victim, [], typed=(victim.email, code)) == []
    assert records(stack, victim_id) == before


def test_asking_for_a_code_or_guessing_answers_word_for_word_alike_whether_or_not_the_address_is_on_file(
    stack: Stack, mail: SmtpSink
) -> None:
    """Security finding 5: neither the words nor a step-up say whether an address belongs to a customer."""
    victim = person(stack, generated_customer(stack, 2))
    nobody = "no.such.customer.4711@example.com"
    conversations = {}
    for label, email in (("on-file", victim.email), ("not-on-file", nobody)):
        sender = f"attacker-probes-{label}"
        said = stack.say(sender, "what do you know about me?")
        said += stack.say(sender, email)
        said += stack.say(sender, "email me a code")
        guessed = guess_orders(stack, email, f"attacker-probes-guesses-{label}")
        guessed += stack.say(f"attacker-probes-after-{label}", "what do you know about me?")
        guessed += stack.say(f"attacker-probes-after-{label}", email)
        guessed += stack.say(f"attacker-probes-after-{label}", "JH123456")
        conversations[label] = [reply.replace(email, "<email>") for reply in said + guessed]
    assert CODE_ON_ITS_WAY in conversations["on-file"][-1] and CODE_REQUIRED in conversations["on-file"][-2]
    assert conversations["on-file"] == conversations["not-on-file"]
    assert mail.to(nobody) == []


# ---- moving an account to another email (security finding 6) -------------------------------------

ASKS_NEW_EMAIL = "What's the new email address?"  # utter_ask_new_email
CURRENT_CODE_SENT = "I've emailed a 6-digit code to the address on your account"  # utter_email_change_current_...
NEW_CODE_SENT = "To make sure the new address is yours, I've sent a 6-digit code to"  # utter_email_change_new_...
CODE_WRONG = "That code doesn't work"  # utter_email_change_code_wrong
CHANGE_STOPPED = "I've left your email address as it was"  # utter_email_change_locked
CHANGED = "Done: your email address is now"  # utter_email_changed


def change_email_with_order_number(stack: Stack, sender: str, who: Person, new_email: str) -> list[str]:
    """A new conversation: "change my email", then the email on file, an order number and the new address."""
    assert ASKS_EMAIL in stack.say(sender, "I want to change my email")[0]
    stack.say(sender, who.email)
    assert ASKS_NEW_EMAIL in stack.say(sender, who.orders[0])[0]
    return stack.say(sender, new_email)


def masked(text: str) -> str:
    return re.sub(r"\b\w\*\*\*@[\w.]+", "<address>", text)


def test_an_order_number_alone_cannot_move_an_account_to_another_email(stack: Stack, mail: SmtpSink) -> None:
    """The attacker knows the victim's email and one order number (from a receipt, or a neighbour in the
    sequence as it was). Before, that moved the account to the attacker's address at once, silently; codes and
    account linking then went to the attacker. Now a code goes to the victim's own address first."""
    victim_id = generated_customer(stack, 5)
    victim, before = person(stack, victim_id), records(stack, victim_id)
    attacker_email = "attacker.mailbox@evil.example"
    theirs_before = len(mail.to(victim.email))

    replies = change_email_with_order_number(stack, "attacker-moves-account", victim, attacker_email)
    assert CURRENT_CODE_SENT in replies[0], replies
    mail.wait_for_code(victim.email, after=theirs_before)  # the step-up code went to the victim, not the attacker
    for guess in ("123456", "654321", "000000"):
        replies += stack.say("attacker-moves-account", guess)
    assert CHANGE_STOPPED in replies[-1], replies
    time.sleep(1)

    assert mail.to(attacker_email) == []
    assert records(stack, victim_id) == before
    assert stack.crm("SELECT count(*) FROM email_changes WHERE customer_id = ?", victim_id) == [(0,)]


def test_a_new_email_takes_effect_only_with_its_code_and_the_old_address_is_told(stack: Stack, mail: SmtpSink) -> None:
    customer_id = generated_customer(stack, 6)
    customer = person(stack, customer_id)
    new_email = "moved.on@newmail.example"
    sender = "customer-changes-email"
    theirs_before = len(mail.to(customer.email))

    replies = change_email_with_order_number(stack, sender, customer, new_email)
    assert CURRENT_CODE_SENT in replies[0], replies
    current_code = mail.wait_for_code(customer.email, after=theirs_before)
    replies = stack.say(sender, current_code)
    assert NEW_CODE_SENT in replies[0] and "m***@newmail.example" in replies[0], replies
    new_code = mail.wait_for_code(new_email)
    assert stack.crm("SELECT email FROM customers WHERE id = ?", customer_id) == [(customer.email,)]  # not yet

    wrong = stack.say(sender, other_code(new_code, 0))
    assert CODE_WRONG in wrong[0], wrong
    assert stack.crm("SELECT email FROM customers WHERE id = ?", customer_id) == [(customer.email,)]
    done = stack.say(sender, new_code)
    assert CHANGED in done[0], done

    assert stack.crm("SELECT email FROM customers WHERE id = ?", customer_id) == [(new_email,)]
    deadline = time.monotonic() + 10
    while len(mail.to(customer.email)) < theirs_before + 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    notice = mail.to(customer.email)[theirs_before + 1]  # after the step-up code
    assert notice["Subject"] == "Your Juniper Home email address was changed"
    assert new_email not in notice.get_body(("plain",)).get_content()  # the new address masked


def test_a_taken_address_reads_like_a_free_one_and_changes_nothing(stack: Stack, mail: SmtpSink) -> None:
    """Changing one's email to an address on another account said "already used by another Juniper Home
    account": a way to find out who is a customer. Now the replies are the same, and nothing moves."""
    customer_id, owner_id = generated_customer(stack, 7), generated_customer(stack, 8)
    customer, owner = person(stack, customer_id), person(stack, owner_id)
    before, owners_before = records(stack, customer_id), records(stack, owner_id)
    owners_mail = len(mail.to(owner.email))

    said: dict[str, list[str]] = {}
    for kind, address in (("free", "nobody.yet@example.net"), ("taken", owner.email)):
        sender = f"customer-tries-{kind}-address"
        theirs_before = len(mail.to(customer.email))
        said[kind] = change_email_with_order_number(stack, sender, customer, address)
        said[kind] += stack.say(sender, mail.wait_for_code(customer.email, after=theirs_before))
        said[kind] += stack.say(sender, "482913")
    assert [masked(text) for text in said["taken"]] == [masked(text) for text in said["free"]]
    assert NEW_CODE_SENT in said["taken"][2] and CODE_WRONG in said["taken"][4], said

    time.sleep(1)
    assert records(stack, customer_id) == before and records(stack, owner_id) == owners_before
    owner_mails = mail.to(owner.email)[owners_mail:]
    assert [m["Subject"] for m in owner_mails] == ["Someone tried to use your email address at Juniper Home"]
    assert not re.search(r"\b\d{6}\b", owner_mails[0].get_body(("plain",)).get_content())  # no code to it
    assert traces(owner, [*said["taken"]], typed=(owner.email,)) == []


# ---- data rights after claiming someone else's email ---------------------------------------------


def test_data_rights_after_claiming_someone_elses_email_do_nothing(stack: Stack, mail: SmtpSink) -> None:
    omar, before = person(stack, OMAR), records(stack, OMAR)
    replies: list[str] = []

    def attempt(sender: str, request: str, proof: str, then: str | None = None) -> None:
        nonlocal replies
        replies += stack.say(sender, request)
        assert ASKS_EMAIL in replies[-1], replies[-1]
        replies += stack.say(sender, omar.email)
        answer = stack.say(sender, proof)
        replies += answer
        assert NO_MATCH in answer[0] or "code is on its way" in answer[0], answer
        if then:
            replies += stack.say(sender, then)

    attempt("attacker-export", "please send me a copy of all my data", "JH100001", then="never mind")
    attempt("attacker-erase", "erase my data", "JH100003", then="yes")
    attempt("attacker-prefs", "please contact me by WhatsApp in the evenings", "JH100001", then="yes")
    attempt("attacker-summary", "what do you know about me", "JH100003")
    codes_before = len(mail.to(omar.email))
    attempt("attacker-forget", "stop remembering me", "email me a code")
    code = mail.wait_for_code(omar.email, after=codes_before)
    replies += stack.say("attacker-forget", other_code(code, 0))
    replies += stack.say("attacker-forget", "yes")

    assert traces(omar, replies, typed=(omar.email, "JH100001", "JH100003")) == []
    assert "Here's what we know about you" not in "\n".join(replies)
    assert exports_to(mail, omar.email) == []  # no export was made of Omar's data
    assert records(stack, OMAR) == before  # not erased, consents and preferences as they were


# ---- the web chat ------------------------------------------------------------------------------


def test_a_visitor_reusing_a_signed_in_visitors_session_id_sees_nothing_of_theirs(stack: Stack) -> None:
    """The widget's session id is the client's to send. A signed-in visitor's conversation does not carry
    over to a message with the same session id from someone without their token: a new session starts."""
    anna, omar = person(stack, ANNA), person(stack, OMAR)
    a = WebChat(stack, custom_data={"identity_token": website_token(stack, anna.email)})
    try:
        assert a.say("/greet")[0].startswith("Welcome back, Anna!")
        assert "anna.berg@example.com" in "\n".join(a.say("what do you know about me?"))  # verified, hers

        b = WebChat(stack, session_id=a.session_id)  # anonymous, with Anna's session id
        try:
            said = b.say("/greet")
            assert said[0].startswith(ANONYMOUS_GREETING), said
            for text in ("list my orders", "what do you know about me?", "where is my order JH100001?"):
                answer = b.say(text)
                assert ASKS_EMAIL in answer[-1], answer  # (an answer to the form's question, for the later ones)
                said += answer
            assert traces(anna, said, typed=("JH100001",)) == []
        finally:
            b.close()

        c = WebChat(stack, session_id=a.session_id, custom_data={"identity_token": website_token(stack, omar.email)})
        try:
            said = c.say("/greet")
            assert said[0].startswith("Welcome back, Omar"), said  # Omar, signed in: himself, not Anna
            said += c.say("what do you know about me?")
            assert "omar.haddad@example.com" in "\n".join(said)
            assert traces(anna, said) == []
        finally:
            c.close()

        # Anna, with her own token again: her own data, none of Omar's
        back = a.say("what do you know about me?")
        assert "anna.berg@example.com" in "\n".join(back)
        assert traces(omar, back) == []
    finally:
        a.close()


def test_knowing_a_web_chat_conversations_sender_id_gives_no_way_into_it(stack: Stack) -> None:
    """Finding 7: a socket.io client that named a web chat conversation's sender id as its session id joined its
    room, received its replies, and could write into it and reset it. Sender ids show in the console, the
    history and the logs; the widget's session id, from which the server derives the sender id, does not."""
    anna = person(stack, ANNA)
    a = WebChat(stack, custom_data={"identity_token": website_token(stack, anna.email)})
    intruder = WebChatClient(stack.rasa_url)
    try:
        assert a.say("/greet")[0].startswith("Welcome back, Anna!")
        sender = stack.web_sender(a.session_id)
        assert stack.user_texts(sender) == ["/greet"]  # the conversation's sender id, as the console shows it
        assert a.session_id not in sender

        # naming the sender id as a session gives a conversation of the intruder's own
        assert intruder.session(sender) == sender
        said = [r.get("text", "") for r in intruder.say(sender, "/greet", quiet=1.0)]
        assert said and said[0].startswith(ANONYMOUS_GREETING), said
        said += [r.get("text", "") for r in intruder.say(sender, "what do you know about me?", quiet=1.0)]
        assert ASKS_EMAIL in said[-1], said
        intruder.say(sender, "/restart", timeout=3)  # a reset of the conversation it named: its own

        # Anna's replies go to her socket only
        heard = len(intruder.uttered)
        back = a.say("what do you know about me?")
        assert "anna.berg@example.com" in "\n".join(back)  # still verified: nothing reset her conversation
        time.sleep(1)
        assert intruder.uttered[heard:] == []
        assert traces(anna, [str(u) for u in intruder.uttered]) == []

        # and messages naming a session the socket did not open are refused: her session id (were it ever
        # learnt without her browser), her sender id on a new socket, a reset
        stranger = WebChatClient(stack.rasa_url)
        try:
            attempts = [(a.session_id, "what do you know about me?"), (a.session_id, "/restart"), (sender, "hi")]
            for session_id, text in attempts:
                refused = stranger.say(session_id, text, timeout=10)
                assert [r.get("error") for r in refused] == ["unknown_session"], refused
        finally:
            stranger.close()
        assert stack.user_texts(sender) == ["/greet", "what do you know about me?"]  # only what Anna said
        assert "anna.berg@example.com" in "\n".join(a.say("what do you know about me?"))  # not reset
    finally:
        intruder.close()
        a.close()


def test_a_web_chat_session_named_like_a_rest_sender_does_not_reach_that_conversation(stack: Stack) -> None:
    """Web chat conversations are "web-" and an HMAC of the widget's session id: a session id equal to a REST
    sender id lands in a conversation of its own, and REST may not name a web chat conversation."""
    rest_sender = "shop-app-customer-anna-0001"
    link(stack, ANNA, "rest", rest_sender)
    assert stack.say(rest_sender, "hi")[0].startswith("Welcome back, Anna!")  # the integration vouches for her

    visitor = WebChat(stack, session_id=rest_sender)
    try:
        assert visitor.session_id == rest_sender
        said = visitor.say("hi")
        assert said[0].startswith(ANONYMOUS_GREETING), said
        said += visitor.say("list my orders")
        assert ASKS_EMAIL in said[-1], said
        assert traces(person(stack, ANNA), said) == []
        assert stack.user_texts(rest_sender) == ["hi"]  # nothing of the web chat in the REST conversation
        assert stack.user_texts(stack.web_sender(rest_sender)) == ["hi", "list my orders"]

        # nor can a REST caller write into the web chat's conversation
        for sender in (stack.web_sender(rest_sender), "web-" + "0" * 40, "WEB-anything"):
            response = stack.send(sender, "what do you know about me?")
            assert response.status_code == 400 and "web-" in response.json()["message"], response.text
        assert stack.user_texts(stack.web_sender(rest_sender)) == ["hi", "list my orders"]
    finally:
        visitor.close()


def test_a_token_kept_from_before_the_customer_signed_out_recognises_nobody(stack: Stack) -> None:
    """Finding 8: the widget's identity token stayed good for its full hour after the customer signed out."""
    anna = person(stack, ANNA)
    with requests.Session() as browser:
        signed_in = browser.post(
            f"{stack.website_url}/signin", data={"email": anna.email, "password": "juniper"}, timeout=10
        )
        assert signed_in.status_code == 200 and "Signed in as Anna" in signed_in.text
        kept = widget_config(browser.get(f"{stack.website_url}/", timeout=10).text)["customData"]["identity_token"]
        control = WebChat(stack, custom_data={"identity_token": kept})
        try:
            assert control.say("/greet")[0].startswith("Welcome back, Anna!")  # while she is signed in
        finally:
            control.close()

        out = browser.post(f"{stack.website_url}/signout", allow_redirects=False, timeout=10)
        assert out.status_code == 303 and out.headers["Clear-Site-Data"] == '"storage"'
    assert web_identity.verify(secret(stack), kept).customer_id == ANNA  # signed, and not expired

    for attempt in range(2):  # a new chat, and again
        visitor = WebChat(stack, custom_data={"identity_token": kept})
        try:
            said = visitor.say("/greet")
            assert said[0].startswith(ANONYMOUS_GREETING), (attempt, said)
            answer = visitor.say("what do you know about me?")
            assert ASKS_EMAIL in answer[0], answer
            assert traces(anna, said + answer) == []
        finally:
            visitor.close()


def _tampered(key: str) -> str:
    """Omar's genuine token with the customer id changed to Anna's, keeping Omar's signature."""
    version, payload, signature = web_identity.sign(key, OMAR).split(".")
    claims = json.loads(web_identity._unb64(payload))
    claims["sub"] = ANNA
    return ".".join([version, web_identity._b64(json.dumps(claims).encode()), signature])


@pytest.mark.parametrize(
    "custom_data",
    [
        lambda key: {"identity_token": web_identity.sign("another-site's-secret-that-is-long-enough-01234", ANNA)},
        lambda key: {"identity_token": _tampered(key)},
        lambda key: {"identity_token": web_identity.sign(key, ANNA, ttl_seconds=60, now=time.time() - 3600)},
        lambda key: {"identity_token": "v1.not-a-token.at-all"},
        lambda key: {"identity": {"customer_id": ANNA, "source": "website"}},
        lambda key: {"identity": {"customer_id": ANNA, "source": "website"}, "channel": "telegram"},
    ],
    ids=["forged", "tampered", "expired", "garbage", "claimed-identity", "claimed-identity-and-channel"],
)
def test_a_forged_tampered_expired_or_claimed_identity_leaves_a_web_chat_visitor_anonymous(
    stack: Stack, custom_data: Any
) -> None:
    anna = person(stack, ANNA)
    visitor = WebChat(stack, custom_data=custom_data(secret(stack)))
    try:
        said = visitor.say("/greet")
        assert said[0].startswith(ANONYMOUS_GREETING), said
        answer = visitor.say("what do you know about me?")
        assert ASKS_EMAIL in answer[0], answer
        assert traces(anna, said + answer) == []
    finally:
        visitor.close()


# ---- who may reach the bot at all --------------------------------------------------------------


def test_the_rest_channel_refuses_every_caller_without_an_integrations_token(stack: Stack) -> None:
    """POST /webhooks/rest/webhook {"sender": "demo-anna", ...} answered Anna's name, email, phone and address to
    anyone who could reach the port. Now only an integration named in REST_CLIENTS, with its bearer token, reaches
    a conversation; any other caller gets a 401 and nothing of the message is kept."""
    url, anna = f"{stack.rasa_url}/webhooks/rest/webhook", person(stack, ANNA)
    before = stack.user_texts("demo-anna")
    token = stack.rest_token
    for header in (None, "Bearer " + "0" * 64, f"Basic {token}", f"Bearer {token[:-1]}", token, "Bearer"):
        for text in ("what do you know about me?", "list my orders", "change my email to evil@example.com"):
            response = requests.post(
                url,
                json={"sender": "demo-anna", "message": text},
                headers={"Authorization": header} if header else {},
                timeout=30,
            )
            assert response.status_code == 401, (header, response.text)
            assert response.json()["error"] == "unauthorized"
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
            assert traces(anna, [response.text]) == []
    assert stack.user_texts("demo-anna") == before  # none of it reached the conversation
    assert stack.say("demo-anna", "hi")[0].startswith("Welcome back, Anna!")  # the integration that vouches


def test_only_the_websites_own_pages_may_drive_the_bot_from_a_browser(stack: Stack) -> None:
    """Rasa's CORS answer echoed any Origin with credentials allowed, and socket.io took any page's connection."""
    evil, own = "https://evil.example", stack.website_url
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
    for path in ("/webhooks/rest/webhook", "/conversations/demo-anna/messages", "/"):
        refused = requests.options(f"{stack.rasa_url}{path}", headers={"Origin": evil, **preflight}, timeout=10)
        assert "Access-Control-Allow-Origin" not in refused.headers, (path, dict(refused.headers))
    handshake = f"{stack.rasa_url}/socket.io/?EIO=4&transport=polling"
    refused = requests.get(handshake, headers={"Origin": evil}, timeout=10)
    assert refused.status_code == 400 and "Access-Control-Allow-Origin" not in refused.headers
    allowed = requests.get(handshake, headers={"Origin": own}, timeout=10)
    assert allowed.status_code == 200 and allowed.headers["Access-Control-Allow-Origin"] == own


def test_every_process_listens_on_the_loopback_address_only(stack: Stack) -> None:
    """The Rasa server and the action server listened on 0.0.0.0: reachable from the whole network."""
    ports = {
        "rasa": int(stack.rasa_url.rsplit(":", 1)[1]),
        "actions": stack.action_port,
        "console": int(stack.console_url.rsplit(":", 1)[1]),
        "website": int(stack.website_url.rsplit(":", 1)[1]),
    }
    assert {name: listening_addresses(port) for name, port in ports.items()} == {name: {"127.0.0.1"} for name in ports}


def test_a_rest_caller_cannot_claim_a_website_identity(stack: Stack) -> None:
    claim = {"identity": {"customer_id": ANNA, "source": "website"}, "identity_token": _tampered(secret(stack))}
    replies = []
    for text in ("hi", "what do you know about me?"):
        response = requests.post(
            f"{stack.rasa_url}/webhooks/rest/webhook",
            json={"sender": "attacker-rest-claims", "message": text, "metadata": claim},
            headers=stack.rest_headers(),
            timeout=30,
        )
        assert response.status_code == 200
        replies += [m.get("text", "") for m in response.json()]
    assert replies[0].startswith(ANONYMOUS_GREETING) and ASKS_EMAIL in replies[1]
    assert traces(person(stack, ANNA), replies) == []


# ---- channel accounts ----------------------------------------------------------------------------


def test_a_linked_telegram_account_sees_only_its_own_customer(stack: Stack, apis: FakeMessagingApis) -> None:
    omar, before = person(stack, OMAR), records(stack, OMAR)
    chat = 5_377_000_001
    link(stack, ANNA, "telegram", str(chat))

    def say(text: str) -> list[str]:
        sent = len(apis.sent_texts("telegram", chat))
        assert telegram_message(chat, text).post(stack.rasa_url).status_code == 200
        return apis.wait_for_texts("telegram", chat, count=sent + 1)[sent:]

    assert say("hi")[0].startswith("Welcome back, Anna!")
    replies = say("where is my order JH100002?")
    assert UNKNOWN_ORDER in replies[0]
    replies += say("my email is omar.haddad@example.com")
    replies += say("JH100002")
    summary = say("what do you know about me?")
    assert "anna.berg@example.com" in "\n".join(summary)
    replies += summary
    assert traces(omar, replies, typed=(omar.email, "JH100002")) == []
    assert records(stack, OMAR) == before


def test_another_channel_with_a_linked_accounts_sender_id_gets_a_stranger(
    stack: Stack, apis: FakeMessagingApis
) -> None:
    """Rasa keys conversations by sender id alone. A WhatsApp sender id is the customer's phone number, and
    REST and web chat callers choose their own ids: using the number there must not continue the customer's
    verified WhatsApp conversation, nor start one recognised as them."""
    omar = person(stack, OMAR)
    number = "whatsapp:+447700900555"
    link(stack, OMAR, "twilio", number)

    def on_whatsapp(text: str) -> list[str]:
        sent = len(apis.sent_texts("twilio", number))
        response = twilio_message(ACCOUNTS, TWILIO_WEBHOOK_URL, number, text).post(stack.rasa_url)
        assert response.status_code in (200, 204), response.text
        return apis.wait_for_texts("twilio", number, count=sent + 1)[sent:]

    assert on_whatsapp("hi")[0].startswith("Welcome back, Omar")
    assert "JH100002" in "\n".join(on_whatsapp("list my orders"))  # his conversation is open and verified

    stolen = stack.say(number, "list my orders")  # REST, with his number as the sender id
    assert ASKS_EMAIL in stolen[0], stolen
    stolen += stack.say(number, "what do you know about me?")

    visitor = WebChat(stack, session_id=number)  # the web chat, with his number as the session id
    try:
        stolen += visitor.say("hi")
        assert stolen[-1].startswith(ANONYMOUS_GREETING), stolen
        stolen += visitor.say("list my orders")
        assert ASKS_EMAIL in stolen[-1], stolen
    finally:
        visitor.close()
    assert traces(omar, stolen) == []

    # Omar on WhatsApp is still himself
    assert "JH100002" in "\n".join(on_whatsapp("list my orders"))

    # and Anna's REST sender id used on the web chat, right after she spoke over REST
    assert stack.say("demo-anna", "hi")[0].startswith("Welcome back, Anna!")
    visitor = WebChat(stack, session_id="demo-anna")
    try:
        stolen = visitor.say("hi") + visitor.say("list my orders")
        assert stolen[0].startswith(ANONYMOUS_GREETING) and ASKS_EMAIL in stolen[-1], stolen
    finally:
        visitor.close()
    assert traces(person(stack, ANNA), stolen) == []


# ---- the servers' own APIs -------------------------------------------------------------------------

RASA_API = [  # Rasa's HTTP API (--enable-api): what the console uses to speak as an agent and hand back
    ("GET", "/status"),
    ("GET", "/domain"),
    ("GET", "/conversations/demo-anna/tracker"),
    ("POST", "/conversations/demo-anna/tracker/events"),
    ("PUT", "/conversations/demo-anna/tracker/events"),
    ("GET", "/conversations/demo-anna/story"),
    ("POST", "/conversations/demo-anna/execute"),
    ("POST", "/conversations/demo-anna/trigger_intent"),
    ("POST", "/conversations/demo-anna/predict"),
    ("POST", "/conversations/demo-anna/messages"),
    ("POST", "/model/parse"),
    ("POST", "/model/predict"),
    ("POST", "/model/train"),
    ("POST", "/model/test/stories"),
    ("POST", "/model/test/intents"),
    ("PUT", "/model"),
    ("DELETE", "/model"),
]


def test_the_bot_servers_apis_refuse_callers_without_their_token(stack: Stack) -> None:
    """Rasa's HTTP API takes only a JWT signed with RASA_API_TOKEN (security finding 10): on every route, no token,
    the key itself in the query string (the old `--auth-token` way, which put it in access logs), a JWT signed with
    another key and an unsigned one (alg none) get 401, and the console's JWT gets in."""
    body = {"event": "bot", "text": "an agent's words from someone who is not one"}
    key = (stack.data_dir / "rasa_api_token").read_text().strip()
    for method, path in RASA_API:
        for way, credentials in rasa_api_refusals(key).items():
            response = requests.request(method, stack.rasa_url + path, json=body, timeout=30, **credentials)
            assert response.status_code == 401, (method, path, way, response.status_code, response.text[:200])
    console = {"Authorization": RasaConversations(stack.rasa_url, key).authorization()}
    response = requests.get(stack.rasa_url + "/conversations/demo-anna/tracker", headers=console, timeout=30)
    assert response.status_code == 200 and response.json()["sender_id"] == "demo-anna", response.text[:200]
    # public: the hello and version pages, and the customer channels themselves
    assert requests.get(stack.rasa_url + "/", timeout=10).status_code == 200
    assert requests.get(stack.rasa_url + "/version", timeout=10).status_code == 200

    action_server = f"http://127.0.0.1:{stack.action_port}"
    call = {"next_action": "action_list_orders", "sender_id": "demo-anna", "tracker": {}, "domain": {}}
    for headers in ({}, {"Authorization": "Bearer not-the-token"}):
        assert requests.post(action_server + "/webhook", json=call, headers=headers, timeout=10).status_code == 401
        assert requests.get(action_server + "/actions", headers=headers, timeout=10).status_code == 401
    assert requests.get(action_server + "/health", timeout=10).status_code == 200

    with sqlite3.connect(stack.data_dir / "tracker.db") as conn:
        forged = conn.execute("SELECT count(*) FROM events WHERE data LIKE '%someone who is not one%'").fetchone()
    assert forged == (0,)
