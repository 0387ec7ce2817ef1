"""The web chat on the demo shop's website, in headless Chromium (Debian's chromium, driven by Playwright),
against the real product started with its run command: the rasa-webchat widget talking to Rasa's socket.io
channel, buttons, the typing indicator, a conversation that survives a reload, and who the visitor is, told
by a token the website signs (shared/web_identity.py) -- and never by a forged, tampered or expired one."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator

import pytest
import requests

from shared import web_identity
from tests.e2e.stack import Stack, running_stack
from tests.web_chat_client import widget_config

pytestmark = pytest.mark.browser
SECRET = "a-web-identity-secret-for-the-browser-tests-0123456789"
PASSWORD = "shop-demo-password"
ANONYMOUS = "Hi, I'm Juno from Juniper Home."
ANNA = "cus_demo_anna"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(
        tmp_path_factory.mktemp("web-chat"), WEB_IDENTITY_SECRET=SECRET, WEBSITE_DEMO_PASSWORD=PASSWORD
    ) as s:
        yield s


@pytest.fixture
def page(browser):  # type: ignore[no-untyped-def]
    context = browser.new_context()  # a new visitor: nothing in local storage, no cookies
    yield context.new_page()
    context.close()


def open_chat(page, url: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(url)
    page.locator(".rw-launcher").click()
    page.locator(".rw-response .rw-message-text").first.wait_for(timeout=20_000)


def bot_texts(page) -> list[str]:  # type: ignore[no-untyped-def]
    return [t.strip() for t in page.locator(".rw-response .rw-message-text").all_inner_texts()]


def wait_for_reply(page, count_before: int, timeout: float = 20) -> list[str]:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        texts = bot_texts(page)
        if len(texts) > count_before:
            time.sleep(0.5)  # a reply can be several messages
            return bot_texts(page)[count_before:]
        time.sleep(0.1)
    raise AssertionError(f"no reply; the chat shows {bot_texts(page)}")


def send(page, text: str) -> None:  # type: ignore[no-untyped-def]
    page.locator(".rw-new-message").fill(text)
    page.locator(".rw-new-message").press("Enter")


def session_id(page) -> str:  # type: ignore[no-untyped-def]
    """The secret session id the widget keeps in the browser."""
    return json.loads(page.evaluate("localStorage.getItem('chat_session')"))["session_id"]


def sender_id(stack: Stack, page) -> str:  # type: ignore[no-untyped-def]
    """The sender id of the widget's conversation on the server, derived from its session id."""
    return stack.web_sender(session_id(page))


def test_a_visitor_chats_with_buttons_and_the_typing_indicator_and_a_reload_keeps_the_conversation(
    stack: Stack, page
) -> None:  # type: ignore[no-untyped-def]
    open_chat(page, stack.website_url + "/")
    assert bot_texts(page)[0].startswith(ANONYMOUS)

    before = len(bot_texts(page))
    send(page, "blorp zxcv qwerty")
    page.locator("#wave .rw-dot").first.wait_for(state="visible", timeout=10_000)  # typing, before the reply
    assert len(bot_texts(page)) == before
    reply = wait_for_reply(page, before)
    assert "didn't quite get that" in reply[0]
    buttons = page.locator(".rw-reply")
    assert buttons.all_inner_texts()[-2:] == ["Talk to a person", "What can you do?"]

    before = len(bot_texts(page))
    page.locator(".rw-reply", has_text="What can you do?").click()
    assert wait_for_reply(page, before)[0].startswith("I can check where an order is")

    kept = session_id(page)
    sender = sender_id(stack, page)
    assert sender.startswith("web-") and kept not in sender
    shown = bot_texts(page)
    page.reload()
    page.locator(".rw-response .rw-message-text").first.wait_for(timeout=20_000)
    assert bot_texts(page)[: len(shown)] == shown  # the conversation is still on screen
    before = len(bot_texts(page))
    send(page, "when are you open?")
    assert "Monday to Friday" in " ".join(wait_for_reply(page, before))
    assert session_id(page) == kept
    # one conversation on the server, across the reload, under the derived sender id only
    assert stack.user_texts(sender) == ["/greet", "blorp zxcv qwerty", "/help", "when are you open?"]
    assert stack.user_texts(kept) == []


def test_a_signed_in_customer_is_greeted_by_name_and_the_token_is_not_kept(stack: Stack, page) -> None:  # type: ignore[no-untyped-def]
    page.goto(stack.website_url + "/signin")
    page.fill("#email", "anna.berg@example.com")
    page.fill("#password", "not-the-password")
    page.locator("button[type=submit]").click()
    assert "don't match" in page.locator("[role=alert]").inner_text()

    page.fill("#email", "anna.berg@example.com")
    page.fill("#password", PASSWORD)
    page.locator("button[type=submit]").click()
    page.wait_for_url(stack.website_url + "/")
    assert page.locator("#signed-in-as").inner_text() == "Signed in as Anna"
    open_chat(page, stack.website_url + "/")
    assert bot_texts(page)[0].startswith("Welcome back, Anna!")

    kept, sender = session_id(page), sender_id(stack, page)
    with sqlite3.connect(stack.data_dir / "tracker.db") as conn:
        stored = " ".join(r[0] for r in conn.execute("SELECT data FROM events WHERE sender_id = ?", (sender,)))
    assert '"identity": {"customer_id": "cus_demo_anna", "source": "website", "sign_in": "si_' in stored
    assert "identity_token" not in stored and "v1." not in stored  # the bearer token itself is never stored

    # signing out starts a new, anonymous chat
    page.locator("text=Sign out").click()
    page.wait_for_url(stack.website_url + "/")
    page.locator(".rw-launcher").click() if not page.locator(".rw-response .rw-message-text").count() else None
    page.locator(".rw-response .rw-message-text").first.wait_for(timeout=20_000)
    assert session_id(page) != kept
    assert bot_texts(page)[0].startswith(ANONYMOUS)


def _tampered() -> str:
    """Omar's genuine token with the customer id changed to Anna's, keeping Omar's signature."""
    version, payload, signature = web_identity.sign(SECRET, "cus_demo_omar").split(".")
    claims = json.loads(web_identity._unb64(payload))
    claims["sub"] = ANNA
    return ".".join([version, web_identity._b64(json.dumps(claims).encode()), signature])


# Installed before the page's scripts: when the widget's bundle defines window.WebChat, wrap its start so the
# widget is given `token` (a variable the caller defines) instead of the one the website signed.
SWAP_TOKEN = """
let widget;
Object.defineProperty(window, "WebChat", {
  configurable: true,
  get() { return widget; },
  set(value) {
    const start = value.default;
    const swapped = (config, ...rest) => start({ ...config, customData: { identity_token: token } }, ...rest);
    widget = { ...value, default: swapped };
  },
});
"""


def website_token(stack: Stack, sign_out: bool = False) -> str:
    """The token the website hands Anna's widget when she signs in (and, with `sign_out`, once she has left)."""
    with requests.Session() as browser:
        signed_in = browser.post(
            f"{stack.website_url}/signin", data={"email": "anna.berg@example.com", "password": PASSWORD}, timeout=10
        )
        assert "Signed in as Anna" in signed_in.text
        page = browser.get(f"{stack.website_url}/", timeout=10).text
        token = widget_config(page)["customData"]
        if sign_out:
            browser.post(f"{stack.website_url}/signout", timeout=10)
    return str(token["identity_token"])


TOKENS = {
    "valid": lambda stack: website_token(stack),  # the control: the injection itself works
    "forged": lambda stack: web_identity.sign("someone-elses-secret-that-is-long-enough-0123456789", ANNA),
    "tampered": lambda stack: _tampered(),
    "expired": lambda stack: web_identity.sign(SECRET, ANNA, ttl_seconds=60, now=time.time() - 3600),
    "garbage": lambda stack: "v1.not-a-token.at-all",
    "no-sign-in": lambda stack: web_identity.sign(SECRET, ANNA),  # signed, but for no sign-in of the website's
    "signed-out": lambda stack: website_token(stack, sign_out=True),  # kept from before she signed out
}


@pytest.mark.parametrize("kind", list(TOKENS))
def test_only_a_genuine_token_identifies_the_visitor(stack: Stack, page, kind: str) -> None:  # type: ignore[no-untyped-def]
    token = TOKENS[kind](stack)

    # What a visitor could do in their own browser: hand the widget a token of their choosing.
    page.add_init_script(f"(() => {{ const token = {json.dumps(token)};\n{SWAP_TOKEN} }})();")
    open_chat(page, stack.website_url + "/")
    greeting = bot_texts(page)[0]
    if kind == "valid":
        assert greeting.startswith("Welcome back, Anna!"), greeting
    else:
        assert greeting.startswith(ANONYMOUS), greeting


def test_a_client_cannot_claim_an_identity_in_metadata(stack: Stack) -> None:
    claim = {"identity": {"customer_id": ANNA, "source": "website"}}
    response = requests.post(
        f"{stack.rasa_url}/webhooks/rest/webhook",
        json={"sender": "claims-to-be-anna", "message": "hi", "metadata": claim},
        headers=stack.rest_headers(),
        timeout=30,
    )
    assert response.status_code == 200
    assert response.json()[0]["text"].startswith(ANONYMOUS)
