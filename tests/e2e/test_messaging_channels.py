"""Telegram, Slack, Twilio (WhatsApp) and Messenger through the real product and Rasa's own connectors.

One stack is started for the module with `python -m hearth run`, every messaging channel switched on by
its environment variables and pointed (`*_API_URL`) at local stand-ins for the platforms' APIs
(tests/fake_messaging_apis.py). Each test posts the webhook a platform would send, signed as the
platform signs it, and checks what the bot sent back through that platform's API, what it refused,
and what reached the CRM.
"""

from __future__ import annotations

import itertools
import time
import urllib.parse
from collections.abc import Iterator

import pytest

from crm_adapter.sql.db import make_engine, make_session_factory
from crm_adapter.sql.service import SqlCrmService
from tests.e2e.stack import Stack, running_stack
from tests.fake_messaging_apis import (
    Accounts,
    FakeMessagingApis,
    Webhook,
    messenger_message,
    running_fake_apis,
    slack_message,
    telegram_button,
    telegram_message,
    twilio_message,
    twilio_signature,
)
from tests.fakes import RecordingCodeSender
from tests.rasa_env import RASA_PY, run
from tests.smtp_sink import SmtpSink, smtp_sink
from tests.waiting import wait_for

pytestmark = pytest.mark.e2e

ACCOUNTS = Accounts()
PUBLIC = "https://hearth.example.com"  # where the platforms would reach the bot
TELEGRAM_WEBHOOK_URL = f"{PUBLIC}/webhooks/telegram/webhook"
TWILIO_WEBHOOK_URL = f"{PUBLIC}/webhooks/twilio/webhook"
ANONYMOUS_GREETING = "Hi, I'm Juno from Juniper Home."  # utter_greet_anonymous
HELP = "I can check where an order is"  # utter_help
_numbers = itertools.count(1)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeMessagingApis]:
    with running_fake_apis(ACCOUNTS) as apis:
        yield apis


@pytest.fixture(scope="module")
def mail() -> Iterator[SmtpSink]:
    with smtp_sink() as sink:
        yield sink


@pytest.fixture(scope="module")
def stack(fake: FakeMessagingApis, mail: SmtpSink, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    env = {
        "HANDOFF_HOURS": "always",
        "SMTP_HOST": "127.0.0.1",  # one-time codes are emailed, to the local sink
        "SMTP_PORT": str(mail.port),
        "TELEGRAM_TOKEN": ACCOUNTS.telegram_token,
        "TELEGRAM_BOT_NAME": ACCOUNTS.telegram_bot_name,
        "TELEGRAM_WEBHOOK_URL": TELEGRAM_WEBHOOK_URL,
        "TELEGRAM_API_URL": fake.api_url("telegram"),
        "SLACK_TOKEN": ACCOUNTS.slack_token,
        "SLACK_SIGNING_SECRET": ACCOUNTS.slack_signing_secret,
        "SLACK_API_URL": fake.api_url("slack"),
        "TWILIO_ACCOUNT_SID": ACCOUNTS.twilio_account_sid,
        "TWILIO_AUTH_TOKEN": ACCOUNTS.twilio_auth_token,
        "TWILIO_NUMBER": ACCOUNTS.twilio_number,
        "TWILIO_WEBHOOK_URL": TWILIO_WEBHOOK_URL,
        "TWILIO_API_URL": fake.api_url("twilio"),
        "FACEBOOK_VERIFY": ACCOUNTS.facebook_verify,
        "FACEBOOK_SECRET": ACCOUNTS.facebook_secret,
        "FACEBOOK_PAGE_ACCESS_TOKEN": ACCOUNTS.facebook_page_token,
        "FACEBOOK_API_URL": fake.api_url("facebook"),
    }
    with running_stack(tmp_path_factory.mktemp("hearth-messaging"), **env) as s:
        yield s


# ---- one customer on one channel ---------------------------------------------------------------


class Customer:
    """A new account on `channel`: `says` builds the webhook the platform sends; `sender_id` is the
    conversation's id in Rasa, `recipient` where the bot's replies go on the platform."""

    def __init__(self, channel: str, telegram_chat: int | None = None) -> None:
        n = next(_numbers)
        self.channel = channel
        self.sender_id = self.recipient = {
            "telegram": str(telegram_chat or 5_100_000_000 + n),
            "slack": f"U0CUSTOMER{n:03d}",
            "twilio": f"whatsapp:+4477009{n:05d}",
            "facebook": f"{7_000_000_000_000_000 + n}",
        }[channel]
        if channel == "slack":
            self.recipient = f"D0DIRECT{n:03d}"  # the bot answers in the direct message channel

    def says(self, text: str) -> Webhook:
        if self.channel == "telegram":
            return telegram_message(int(self.sender_id), text)
        if self.channel == "slack":
            return slack_message(ACCOUNTS, self.sender_id, self.recipient, text)
        if self.channel == "twilio":
            return twilio_message(ACCOUNTS, TWILIO_WEBHOOK_URL, self.sender_id, text)
        return messenger_message(ACCOUNTS, self.sender_id, text)


# ---- the tests --------------------------------------------------------------------------------


def test_telegram_sets_its_webhook_on_the_configured_api_server_at_start(fake: FakeMessagingApis, stack: Stack):
    calls = fake.calls_to("telegram", "/setWebhook")
    assert [c.body.get("url") for c in calls if c.accepted] == [TELEGRAM_WEBHOOK_URL]


@pytest.mark.parametrize("channel", ["telegram", "slack", "twilio", "facebook"])
def test_hi_is_greeted_through_the_platforms_api(fake: FakeMessagingApis, stack: Stack, channel: str):
    customer = Customer(channel)
    response = customer.says("hi").post(stack.rasa_url)
    assert response.status_code in (200, 204), response.text

    texts = fake.wait_for_texts(channel, customer.recipient)
    assert texts and texts[0].startswith(ANONYMOUS_GREETING), texts
    # Rasa saves the tracker after the turn's replies went out, and Slack's connector answers in the background,
    # so the reply can arrive before the message is in the tracker store
    assert wait_for(lambda: stack.user_texts(customer.sender_id), timeout=10) == ["hi"]


def test_a_telegram_button_press_is_answered(fake: FakeMessagingApis, stack: Stack):
    customer = Customer("telegram")
    assert customer.says("zxcv qwerty blorp").post(stack.rasa_url).status_code == 200
    offers = [
        call.answer["result"]
        for call in fake.messages_to("telegram", customer.recipient)
        if any(
            b.get("callback_data") == "/help"
            for row in call.answer["result"].get("reply_markup", {}).get("inline_keyboard", [])
            for b in row
        )
    ]
    assert offers, fake.sent("telegram", customer.recipient)  # the fallback offers "What can you do?"

    before = len(fake.sent_texts("telegram", customer.recipient))
    response = telegram_button(int(customer.sender_id), "/help", offers[-1]).post(stack.rasa_url)
    assert response.status_code == 200, response.text
    assert fake.sent_texts("telegram", customer.recipient)[before:][0].startswith(HELP)


def test_a_twilio_webhook_without_a_valid_signature_is_refused(fake: FakeMessagingApis, stack: Stack):
    customer = Customer("twilio")
    webhook = customer.says("hi")
    fields = dict(urllib.parse.parse_qsl(webhook.body.decode()))
    refusals = {
        "no signature": webhook.post(stack.rasa_url, X_Twilio_Signature=None),
        "garbage": webhook.post(stack.rasa_url, X_Twilio_Signature="c2lnbmF0dXJl"),
        "wrong auth token": webhook.post(
            stack.rasa_url, X_Twilio_Signature=twilio_signature("not-the-token", TWILIO_WEBHOOK_URL, fields)
        ),
        "signed for another URL": webhook.post(
            stack.rasa_url,
            X_Twilio_Signature=twilio_signature(ACCOUNTS.twilio_auth_token, stack.rasa_url + webhook.path, fields),
        ),
        "body changed after signing": Webhook(
            webhook.path, webhook.body.replace(b"Body=hi", b"Body=bye"), webhook.headers
        ).post(stack.rasa_url),
    }
    assert {why: r.status_code for why, r in refusals.items()} == dict.fromkeys(refusals, 403)
    assert fake.sent("twilio", customer.recipient) == []
    assert stack.user_texts(customer.sender_id) == []

    assert webhook.post(stack.rasa_url).status_code == 204  # the same request, as Twilio signed it
    assert fake.sent_texts("twilio", customer.recipient)[0].startswith(ANONYMOUS_GREETING)


def test_a_slack_request_without_a_valid_signature_is_refused(fake: FakeMessagingApis, stack: Stack):
    customer = Customer("slack")
    forged = slack_message(
        Accounts(slack_signing_secret="not-the-signing-secret"), customer.sender_id, customer.recipient, "hi"
    )
    replayed = slack_message(ACCOUNTS, customer.sender_id, customer.recipient, "hi", int(time.time()) - 600)
    genuine = customer.says("hi")
    for response in (
        forged.post(stack.rasa_url),
        replayed.post(stack.rasa_url),
        genuine.post(stack.rasa_url, X_Slack_Signature=None),
    ):
        assert response.status_code == 400, response.text

    assert genuine.post(stack.rasa_url).status_code == 200
    assert fake.wait_for_texts("slack", customer.recipient)[0].startswith(ANONYMOUS_GREETING)
    time.sleep(1)  # Slack's connector answers in the background: anything refused would have arrived by now
    assert stack.user_texts(customer.sender_id) == ["hi"]


def test_a_messenger_webhook_with_a_bad_hub_signature_is_refused(fake: FakeMessagingApis, stack: Stack):
    customer = Customer("facebook")
    webhook = customer.says("hi")
    forged = messenger_message(Accounts(facebook_secret="not-the-app-secret"), customer.sender_id, "hi")
    for response in (
        forged.post(stack.rasa_url),
        webhook.post(stack.rasa_url, X_Hub_Signature=None),
        webhook.post(stack.rasa_url, X_Hub_Signature="foo=bar"),
        webhook.post(stack.rasa_url, X_Hub_Signature="md5=" + "0" * 32),
    ):
        assert response.status_code == 403, response.text
    assert [c for c in fake.calls_to("facebook") if c.body.get("recipient", {}).get("id") == customer.recipient] == []
    assert stack.user_texts(customer.sender_id) == []

    assert webhook.post(stack.rasa_url).status_code == 200
    assert fake.sent_texts("facebook", customer.recipient)[0].startswith(ANONYMOUS_GREETING)


def test_each_conversation_reaches_the_crm_history_with_its_channel(fake: FakeMessagingApis, stack: Stack):
    customers = [Customer(channel) for channel in ("telegram", "slack", "twilio", "facebook")]
    for customer in customers:
        assert customer.says("hi").post(stack.rasa_url).status_code in (200, 204)

    def channels() -> dict[str, list[str]]:
        found = {
            c.sender_id: [
                row[0] for row in stack.crm("SELECT channel FROM conversations WHERE sender_id = ?", c.sender_id)
            ]
            for c in customers
        }
        return found if all(found.values()) else {}

    assert wait_for(channels, timeout=90) == {c.sender_id: [c.channel] for c in customers}


def test_a_linked_telegram_account_is_greeted_by_name(fake: FakeMessagingApis, stack: Stack):
    customer = Customer("telegram", telegram_chat=5_299_000_001)
    engine = make_engine(f"sqlite:///{stack.data_dir / 'crm.db'}")
    try:
        SqlCrmService(make_session_factory(engine), RecordingCodeSender(), secret="unused").link_identity(
            "cus_demo_anna", "telegram", customer.sender_id
        )
    finally:
        engine.dispose()

    assert customer.says("hi").post(stack.rasa_url).status_code == 200
    texts = fake.sent_texts("telegram", customer.recipient)
    assert texts and texts[0].startswith("Welcome back, Anna!"), texts

    conversations = wait_for(
        lambda: stack.crm("SELECT channel, customer_id FROM conversations WHERE sender_id = ?", customer.sender_id)
    )
    assert ("telegram", "cus_demo_anna") in conversations


def test_linking_telegram_to_the_customer_record_takes_a_code_from_email_and_a_yes(
    fake: FakeMessagingApis, stack: Stack, mail: SmtpSink
):
    customer = Customer("telegram", telegram_chat=5_299_000_777)
    email = "omar.haddad@example.com"

    def say(text: str) -> list[str]:
        before = len(fake.sent_texts("telegram", customer.recipient))
        assert customer.says(text).post(stack.rasa_url).status_code == 200
        return fake.sent_texts("telegram", customer.recipient)[before:]

    def codes_so_far() -> int:
        return len(mail.to(email))

    assert say("hi")[0].startswith(ANONYMOUS_GREETING)
    assert "email" in " ".join(say("link my account")).lower()
    say(email)
    replies = say("JH100002")  # Omar's order number: verified for this conversation
    assert any("you're verified for this conversation" in r for r in replies), replies
    assert "remember this Telegram account" in replies[-1]
    assert stack.crm("SELECT * FROM channel_identities WHERE sender_id = ?", customer.sender_id) == []

    sent_before = codes_so_far()
    replies = say("yes")
    assert "o***@example.com" in replies[0] and "type the code" in replies[-1]
    code = mail.wait_for_code(email, after=sent_before)
    assert stack.crm("SELECT * FROM channel_identities WHERE sender_id = ?", customer.sender_id) == []

    wrong = "000000" if code != "000000" else "111111"
    assert "doesn't work" in say(wrong)[0]
    assert stack.crm("SELECT * FROM channel_identities WHERE sender_id = ?", customer.sender_id) == []
    assert "recognise this Telegram account as yours" in say(code)[0]
    assert stack.crm("SELECT customer_id, channel FROM channel_identities WHERE sender_id = ?", customer.sender_id) == [
        ("cus_demo_omar", "telegram")
    ]

    # a new conversation on Telegram: greeted by name, and the timeline says where it happened
    say("/restart")
    replies = say("hi")
    assert replies and replies[0].startswith("Welcome back, Omar"), replies
    from history.timeline import SqlHistoryService

    engine = make_engine(f"sqlite:///{stack.data_dir / 'crm.db'}")
    try:
        history = SqlHistoryService(make_session_factory(engine))
        titles = wait_for(
            lambda: [e.title for e in history.timeline("cus_demo_omar", limit=50).entries if "Telegram" in e.title]
        )
    finally:
        engine.dispose()
    assert titles and titles[0].startswith("Conversation on Telegram"), titles


def test_an_agents_reply_reaches_a_telegram_customer(fake: FakeMessagingApis, stack: Stack):
    from crm_adapter.rasa_api import RasaConversations
    from handoff.agents import SqlAgentService

    engine = make_engine(f"sqlite:///{stack.data_dir / 'crm.db'}")
    try:
        agents = SqlAgentService(make_session_factory(engine))
        agent = agents.create_agent("kim", "Kim Lee", "a-long-test-password", "agent")
        agents.start_session(agent.agent_id)  # signed in: someone is online
    finally:
        engine.dispose()
    customer = Customer("telegram")
    assert customer.says("I want to talk to a person").post(stack.rasa_url).status_code == 200
    told = " ".join(fake.wait_for_texts("telegram", customer.recipient))
    assert "bringing in a person" in told and "Kim Lee will be with you in a moment" in told  # auto-assigned
    handoff = stack.crm("SELECT channel, status, agent_id FROM handoffs WHERE sender_id = ?", customer.sender_id)
    assert handoff == [("telegram", "assigned", agent.agent_id)]

    token = (stack.data_dir / "rasa_api_token").read_text().strip()
    before = len(fake.sent_texts("telegram", customer.recipient))
    RasaConversations(stack.rasa_url, token).send_as_agent(customer.sender_id, "telegram", "Kim here, hello!", "Kim", 1)
    assert fake.sent_texts("telegram", customer.recipient)[before:] == ["Kim here, hello!"]
    # the bot is paused: a message gets no bot reply
    assert customer.says("hi Kim").post(stack.rasa_url).status_code == 200
    time.sleep(1)
    assert fake.sent_texts("telegram", customer.recipient)[before:] == ["Kim here, hello!"]


CONNECTOR_START = """
import logging
from bot.messaging import TwilioInput

warnings = []
class Collect(logging.Handler):
    def emit(self, record):
        if record.levelno == logging.WARNING and "NOT checked" in record.getMessage():
            warnings.append(record)
logging.getLogger("bot.messaging").addHandler(Collect())

credentials = {"account_sid": "AC" + "0" * 32, "auth_token": "token", "twilio_number": "+15005550006"}
for webhook_url in (None, "https://hearth.example.com/webhooks/twilio/webhook"):
    TwilioInput.from_credentials({**credentials, "webhook_url": webhook_url}).blueprint(lambda message: None)
    print(len(warnings))
"""


def test_twilio_without_a_webhook_url_warns_once_at_start() -> None:
    result = run([str(RASA_PY), "-c", CONNECTOR_START], timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["1", "1"]  # once without webhook_url; nothing more with it
