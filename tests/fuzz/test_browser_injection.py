"""No script injection into any page, in headless Chromium (Debian's chromium, driven by Playwright) against the
running product: a customer sends script and markup payloads over REST and in the website's chat widget; an
agent sees them in the console's queue, the handoff page (and its live transcript), notes, tags and the
review queue, an admin in an example conversation, and the customer sees the agent's payload reply in the
widget. Each payload sets window.__pwned if it ever runs; every page must show it as text instead.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.browser.test_web_chat import open_chat, send, sender_id
from tests.e2e.stack import Stack
from tests.fuzz.conftest import ADMIN_PASSWORD, AGENT_PASSWORD, FuzzCounts
from tests.fuzz.hostile import SCRIPT_PAYLOADS
from tests.waiting import wait_for

pytestmark = [pytest.mark.fuzz, pytest.mark.browser]
TARGET = "pages in a browser"
CUSTOMER = "fuzz-xss-customer"
PAYLOADS = SCRIPT_PAYLOADS
TAGS = ["<svg onload=window.__pwned=1>", "<b>bold</b>", '"><i onclick=x>']  # a tag has at most 30 characters


def sign_in(browser: Any, stack: Stack, username: str, password: str) -> Any:
    page = browser.new_context().new_page()
    page.goto(stack.console_url + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.locator("#login button[type=submit]").click()
    page.wait_for_url(stack.console_url + "/")
    return page


def assert_not_run(page: Any, where: str) -> None:
    assert page.evaluate("window.__pwned") is None, f"a payload ran on {where}"


def shown_as_text(page: Any, selector: str, payloads: list[str]) -> None:
    text = page.locator(selector).inner_text()
    missing = [p for p in payloads if p not in text]
    assert not missing, f"{selector} does not show {missing[:3]} as text"


def test_payloads_from_customers_never_run_in_the_console_or_the_widget(
    live_stack: Stack, browser: Any, fuzz_counts: FuzzCounts
) -> None:
    stack, started = live_stack, time.monotonic()
    agent = sign_in(browser, stack, "agent", AGENT_PASSWORD)  # someone is online: auto-assignment gives it to them

    # a customer over REST: payloads as messages, then a person (the live list's own test is in
    # tests/browser/test_handoff.py: these payloads, not understood twice in a row, bring a person in at once)
    stack.say(CUSTOMER, "hi")
    for payload in PAYLOADS:
        stack.say(CUSTOMER, payload)
        fuzz_counts.record(TARGET, "sent")
    stack.say(CUSTOMER, "I want to talk to a person please")
    handoff = wait_for(lambda: stack.crm("SELECT id FROM handoffs WHERE sender_id = ?", CUSTOMER), timeout=30)[0][0]

    agent.goto(stack.console_url + "/handoffs?view=open")
    assert agent.locator(f'#taken-list tr[data-handoff="{handoff}"]').count() == 1  # the agent's already
    assert_not_run(agent, "the inbox")
    agent.goto(f"{stack.console_url}/handoffs/{handoff}")
    shown_as_text(agent, "#transcript", PAYLOADS)
    agent.locator("#suggestions p.muted").first.wait_for()  # the customer's latest words, quoted
    shown_as_text(agent, "#conversation-summary", [])
    assert_not_run(agent, "the handoff page")

    # notes and tags an agent types are shown back the same way
    for payload in PAYLOADS[:6]:
        agent.fill("#add-note input[name=text]", payload)
        agent.locator("#add-note button").click()
        agent.wait_for_load_state()
        fuzz_counts.record(TARGET, "note")
    agent.fill("#set-tags input[name=tags]", ", ".join(TAGS))
    agent.locator("#set-tags button").click()
    agent.wait_for_load_state()
    fuzz_counts.record(TARGET, "tags")
    agent.goto(f"{stack.console_url}/handoffs/{handoff}")
    shown_as_text(agent, "#notes + ul", PAYLOADS[:6])
    assert agent.locator("#set-tags input[name=tags]").input_value() == ", ".join(TAGS)
    assert_not_run(agent, "the handoff page with notes and tags")

    # the live transcript (the page's script adds new messages) while the agent has it open
    for payload in PAYLOADS[:4]:
        stack.say(CUSTOMER, "again " + payload)
        fuzz_counts.record(TARGET, "live")
    agent.locator("#transcript td.text", has_text="again " + PAYLOADS[3]).wait_for(timeout=20_000)
    shown_as_text(agent, "#transcript", ["again " + p for p in PAYLOADS[:4]])
    assert_not_run(agent, "the live transcript")

    # the review queue (misunderstood messages, after history ingestion) and an example conversation
    admin = sign_in(browser, stack, "admin", ADMIN_PASSWORD)
    assert wait_for(lambda: stack.crm("SELECT 1 FROM nlu_reviews WHERE text = ?", PAYLOADS[1]), timeout=60)
    admin.goto(stack.console_url + "/reviews")
    shown_as_text(admin, "#reviews", [PAYLOADS[1]])
    assert_not_run(admin, "the review queue")
    conversation = stack.crm("SELECT id FROM conversations WHERE sender_id = ? ORDER BY id LIMIT 1", CUSTOMER)[0][0]
    admin.goto(f"{stack.console_url}/analytics/conversations/{conversation}")
    shown_as_text(admin, "#transcript", PAYLOADS[:5])
    assert_not_run(admin, "an example conversation")

    # the website's chat widget: the customer's own payloads, then an agent's reply with one
    shopper = browser.new_context().new_page()
    open_chat(shopper, stack.website_url + "/")
    for payload in PAYLOADS[:6]:
        send(shopper, payload)
        shopper.locator(".rw-client .rw-message-text", has_text=payload[-12:]).last.wait_for(timeout=20_000)
        fuzz_counts.record(TARGET, "widget")
    send(shopper, "I want to talk to a person please")
    chat = sender_id(stack, shopper)
    widget_handoff = wait_for(lambda: stack.crm("SELECT id FROM handoffs WHERE sender_id = ?", chat), timeout=30)[0][0]
    agent.goto(f"{stack.console_url}/handoffs/{widget_handoff}")  # auto-assigned to the agent too
    for payload in (PAYLOADS[1], PAYLOADS[7], PAYLOADS[8] + " last"):
        agent.fill("#reply textarea", payload)
        agent.locator("#reply button").click()
        agent.wait_for_load_state()
        fuzz_counts.record(TARGET, "reply")
    shopper.locator(".rw-response .rw-message-text", has_text="last").wait_for(timeout=20_000)
    client_text = " ".join(shopper.locator(".rw-client .rw-message-text").all_inner_texts())
    assert all(p in client_text for p in PAYLOADS[:6]), client_text
    for link in shopper.locator(".rw-messages-container a").all():  # a javascript: link runs only when clicked
        link.click(modifiers=["Alt"], no_wait_after=True)
    assert_not_run(shopper, "the chat widget")
    for page in (agent, admin, shopper):
        page.context.close()
    fuzz_counts.timed(TARGET, time.monotonic() - started)
