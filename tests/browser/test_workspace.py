"""The agent workspace in headless Chromium (Debian's chromium, driven by Playwright): the layout with its
navigation and counts on a laptop and on a phone, keyboard shortcuts, finding a customer as you type, the customer
page with a conversation opened in place (what the customer typed shown as text, never run), and the admin's audit
log recording all of it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest

from analytics.service import SqlAnalytics
from audit.log import AuditQuery
from console.app import create_app
from handoff.agents import SqlAgentService
from handoff.desk import Conversation, HandoffDesk, HandoffRequest, Said
from handoff.service import NewHandoff, OpeningHours, SqlHandoffService, build_packet
from history.timeline import SqlHistoryService
from tests.asgi_server import serve
from tests.conftest import SqlCrm
from tests.factories import NOW, add_customer, add_order
from tests.help_centre import articles, knowledge_at
from tests.workspace import add_conversation, workspace_audit, workspace_desk, workspace_directory
from workspace.canned import CannedResponses
from workspace.sla import ResponseTargets
from workspace.summary import ConversationSummaries

pytestmark = pytest.mark.browser
PASSWORD = "a-long-password-for-tests"


@dataclass
class Workspace:
    url: str
    customer: str
    conversation: int


@pytest.fixture
def workspace(sqlite_crm: SqlCrm) -> Iterator[Workspace]:
    s = sqlite_crm.sessions
    customer = add_customer(s, "Nora", "Quist", email="nora.quist@example.com", phone="+447700900555")
    add_customer(s, "Norman", "Bates", email="norman@example.com")
    add_order(s, customer, "JH555001")
    said = '<img src=x onerror="window.hacked=1"> where is my lamp'
    conversation = add_conversation(s, customer, NOW, "Asked where JH555001 is", said, "It arrives on Thursday.")
    packet = build_packet(reason="asked", verified=False, profile=None, orders=[], tickets=[], transcript=[],
                          intents=[], slots={}, sentiment_now=None)  # fmt: skip
    desk = SqlHandoffService(sqlite_crm.sessions)
    for n in range(2):
        desk.request(NewHandoff(f"web-{n}", "socketio", None, "asked", None, packet))
    agents = SqlAgentService(sqlite_crm.sessions)
    agents.create_agent("admin", "Ada Admin", PASSWORD, "admin")
    agents.create_agent("agent", "Sam Taylor", PASSWORD, "agent")
    app = create_app(
        SqlAnalytics(sqlite_crm.sessions),
        SqlHistoryService(sqlite_crm.sessions),
        agents,
        handoffs=desk,
        audit=workspace_audit(sqlite_crm),
        customers=workspace_directory(sqlite_crm),
    )
    with serve(app) as url:
        yield Workspace(url, customer, conversation)


def sign_in(browser, url: str, username: str, **context):  # type: ignore[no-untyped-def]
    page = browser.new_context(**context).new_page()
    page.goto(url + "/")
    page.wait_for_url(re.compile(r".*/login.*"))
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.locator("#login button[type=submit]").click()
    page.wait_for_url(url + "/")
    return page


def test_an_agent_finds_a_customer_as_they_type_and_opens_a_conversation_in_place(browser, workspace) -> None:  # type: ignore[no-untyped-def]
    page = sign_in(browser, workspace.url, "agent", viewport={"width": 1366, "height": 800})
    nav = page.locator("nav.side")
    assert nav.bounding_box()["width"] < 300  # a side bar beside the page
    assert page.locator("#count-waiting").inner_text() == "2" and page.locator("#count-mine").inner_text() == "0"
    assert page.locator("#nav-audit").count() == 0  # the audit log is for admins

    page.keyboard.press("?")
    assert page.locator("#shortcuts").is_visible()
    page.keyboard.press("g")
    page.keyboard.press("c")
    page.wait_for_url(workspace.url + "/customers")
    page.locator("body").click()
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "q"

    page.keyboard.type("nor")  # no Enter: the results come as the agent types
    rows = page.locator("#matches tr[data-customer]")
    rows.first.wait_for()
    assert rows.count() == 2 and page.url.endswith("/customers?q=nor")
    page.keyboard.type("a q")
    page.wait_for_function("document.querySelectorAll('#matches tr[data-customer]').length === 1")
    page.locator("#matches a", has_text="Nora Quist").click()
    page.wait_for_url(f"{workspace.url}/customers/{workspace.customer}")

    assert page.locator("#customer-name").inner_text().startswith("Nora Quist")
    assert page.locator("#profile [data-field=email]").inner_text() == "nora.quist@example.com"
    assert page.locator("#value tr[data-part]").count() == 3
    assert "JH555001" in page.locator("#orders").inner_text()
    entry = page.locator(f'#timeline li[data-kind="conversation"][data-reference="{workspace.conversation}"]')
    assert "Asked where JH555001 is" in entry.inner_text()
    entry.locator("a.open-conversation").click()
    opened = entry.locator(".conversation-detail")
    opened.wait_for()
    assert page.url == f"{workspace.url}/customers/{workspace.customer}"  # opened in place
    assert "It arrives on Thursday." in opened.inner_text()
    assert '<img src=x onerror="window.hacked=1"> where is my lamp' in opened.inner_text()  # shown as text
    assert page.evaluate("window.hacked") is None  # never run

    admin = sign_in(browser, workspace.url, "admin")
    admin.locator("#nav-audit").click()
    admin.wait_for_url(workspace.url + "/audit")
    actions = admin.locator("#audit tbody tr").evaluate_all(
        "rows => rows.map(r => [r.dataset.action, r.dataset.actor])"
    )
    assert actions[:2] == [["conversation.viewed", "agent"], ["customer.viewed", "agent"]]
    assert ["customer.searched", "agent"] in actions
    admin.select_option("#audit-filter select[name=action]", "customer.viewed")
    admin.locator("#audit-filter button[type=submit]").click()
    admin.wait_for_url(re.compile(r".*action=customer\.viewed.*"))
    shown = admin.locator("#audit tbody tr")
    assert shown.count() == 1 and workspace.customer in shown.inner_text() and "127.0.0.1" in shown.inner_text()


def test_the_workspace_fits_a_phone(browser, workspace) -> None:  # type: ignore[no-untyped-def]
    page = sign_in(browser, workspace.url, "agent", viewport={"width": 390, "height": 844}, is_mobile=True)
    page.goto(f"{workspace.url}/customers/{workspace.customer}")
    width = page.evaluate("window.innerWidth")
    assert page.evaluate("document.documentElement.scrollWidth") <= width  # nothing runs off the side
    nav, main = page.locator("nav.side").bounding_box(), page.locator("main").bounding_box()
    assert nav["width"] >= width - 1 and main["y"] >= nav["y"] + nav["height"] - 1  # the navigation above the page
    timeline, profile = page.locator("#timeline").bounding_box(), page.locator("#profile").bounding_box()
    assert timeline["y"] > profile["y"]  # one column


@dataclass
class Team:
    url: str
    desk: HandoffDesk
    handoffs: SqlHandoffService


@pytest.fixture
def team(sqlite_crm: SqlCrm) -> Iterator[Team]:
    agents = SqlAgentService(sqlite_crm.sessions)
    for username, name in (("sam", "Sam Taylor"), ("kim", "Kim Lee")):
        agents.set_capacity(agents.create_agent(username, name, PASSWORD, "agent").agent_id, 1)
    agents.create_agent("ada", "Ada Admin", PASSWORD, "admin")
    handoffs = SqlHandoffService(sqlite_crm.sessions)

    def assign() -> object:
        return handoffs.auto_assign([a.agent_id for a in agents.online_agents()])

    desk = workspace_desk(sqlite_crm, handoffs, agents)
    desk = HandoffDesk(desk.handoffs, desk.agents, desk.hours, desk.crm, desk.profiles,
                       assign=lambda online: handoffs.auto_assign(online))  # fmt: skip
    knowledge = knowledge_at(sqlite_crm.url, clock=sqlite_crm.clock)
    for article in articles():
        knowledge.store.save(article, source="file", by="test")
    canned = CannedResponses(sqlite_crm.sessions)
    canned.save("on-its-way", "On its way", "Hi {first_name}, {agent_name} here: {order_number} is on its way.", "t")
    app = create_app(
        SqlAnalytics(sqlite_crm.sessions),
        SqlHistoryService(sqlite_crm.sessions),
        agents,
        handoffs=handoffs,
        audit=workspace_audit(sqlite_crm),
        customers=workspace_directory(sqlite_crm),
        knowledge=knowledge,
        canned=canned,
        summaries=ConversationSummaries(sqlite_crm.sessions),
        targets=ResponseTargets(sqlite_crm.sessions, OpeningHours.parse("always")),
        assign=assign,
        pulse_interval=0.2,
    )
    with serve(app) as url:
        yield Team(url, desk, handoffs)


def customer_asks(team: Team, sender: str, words: str, customer: str | None = None) -> int:
    said = (Said("customer", words),)
    conversation = Conversation(sender, "socketio", customer, verified=customer is not None, transcript=said,
                                slots={"order_number": "JH555001"})  # fmt: skip
    outcome = team.desk.bring_in(HandoffRequest("asked", conversation))
    assert outcome.handoff_id is not None
    return outcome.handoff_id


def test_two_agents_get_conversations_in_turn_and_see_the_inbox_change_live(browser, team, sqlite_crm) -> None:  # type: ignore[no-untyped-def]
    sam = sign_in(browser, team.url, "sam")
    kim = sign_in(browser, team.url, "kim")
    for page in (sam, kim):
        page.goto(team.url + "/handoffs?view=waiting")
        page.wait_for_function("document.getElementById('count-waiting').textContent.trim() === '0'")

    nora = add_customer(sqlite_crm.sessions, "Nora", "Quist")
    first = customer_asks(team, "web-1", "can I buy a gift voucher for my mum?", nora)
    second = customer_asks(team, "web-2", "my sofa has not come")
    assert team.handoffs.get(first).agent_id != team.handoffs.get(second).agent_id  # one each: round robin
    for page in (sam, kim):  # without reloading: the counts, by server-sent events
        page.wait_for_function("document.getElementById('count-mine').textContent.trim() === '1'")

    # both agents are full (capacity 1): the next one waits, the waiting list and the counts change, and an alert
    third = customer_asks(team, "web-3", "hello? anyone?")
    for page in (sam, kim):
        page.locator(f'#queue tr[data-handoff="{third}"]').wait_for(timeout=10_000)
        page.wait_for_function("window.hearthAlerts >= 1")
        assert page.title().startswith("(1) ")
        assert "first reply in" in page.locator(f'#queue tr[data-handoff="{third}"]').inner_text()

    # Sam's conversation: the summary, a canned response by its shortcut, a suggested article by one click
    sam_id = next(a.agent_id for a in SqlAgentService(sqlite_crm.sessions).list_agents() if a.username == "sam")
    assert team.handoffs.get(first).agent_id == sam_id  # nobody had one yet: the first agent first
    sam.goto(f"{team.url}/handoffs/{first}")
    assert "asked for a person after 1 message" in sam.locator("#conversation-summary").inner_text()
    box = sam.locator("#reply textarea")
    box.click()
    box.type("/on")
    sam.locator("#canned-menu .canned-choice", has_text="/on-its-way").wait_for()
    box.press("Enter")
    assert box.input_value() == "Hi Nora, Sam Taylor here: JH555001 is on its way."
    sam.locator("#suggestions .suggestion[data-slug=gift-cards] button.insert").click()
    assert "More in our help centre: Gift cards" in box.input_value()

    # Sam gives it to Kim: Kim's count goes up on Kim's screen
    sam.select_option("#assign select[name=agent_id]", label="Kim Lee (online)")
    sam.locator("#assign button").click()
    kim.wait_for_function("document.getElementById('count-mine').textContent.trim() === '2'")


def test_an_admin_sets_canned_responses_capacity_and_targets_and_sees_the_breaches(browser, team, sqlite_crm) -> None:  # type: ignore[no-untyped-def]
    admin = sign_in(browser, team.url, "ada")
    admin.locator("#nav-canned").click()
    admin.wait_for_url(team.url + "/canned")
    form = admin.locator("#canned-form")
    form.locator("input[name=shortcut]").fill("returns")
    form.locator("input[name=title]").fill("How returns work")
    form.locator("textarea[name=body]").fill("Hi {firstname}, returns are free for 30 days.")
    form.locator("button[type=submit]").click()
    assert "{firstname} is not a placeholder" in admin.locator("#canned-error").inner_text()
    assert admin.locator("#canned-form textarea[name=body]").input_value().startswith("Hi {firstname}")  # kept
    admin.locator("#canned-form textarea[name=body]").fill("Hi {first_name}, returns are free for 30 days.")
    admin.locator("#canned-form button[type=submit]").click()
    admin.wait_for_url(re.compile(r".*/canned\?saved=returns$"))
    assert admin.locator('#canned tr[data-shortcut="returns"]').count() == 1

    admin.locator("#nav-team").click()
    admin.wait_for_url(team.url + "/team")
    kim = admin.locator('#team tr[data-agent="kim"]')
    kim.locator("input[name=capacity]").fill("4")
    kim.locator("button").click()
    admin.wait_for_url(re.compile(r".*/team(#agents)?$"))
    assert admin.locator('#team tr[data-agent="kim"] input[name=capacity]').input_value() == "4"
    admin.fill("#targets-form input[name=first_response]", "1")
    admin.fill("#targets-form input[name=resolution]", "2")
    admin.locator("#targets-form button").click()
    assert "Set by ada" in admin.locator("#targets-form").inner_text()

    # a conversation Kim answers late: the analytics page counts it against Kim and the team
    kim_id = next(a.agent_id for a in SqlAgentService(sqlite_crm.sessions).list_agents() if a.username == "kim")
    at = {"t": datetime(2026, 11, 23, 9, 0)}
    desk = SqlHandoffService(sqlite_crm.sessions, clock=lambda: at["t"])
    late = desk.request(NewHandoff("web-late", "socketio", None, "asked", None, {})).handoff
    desk.take(late.handoff_id, kim_id)
    at["t"] += timedelta(minutes=3)
    desk.record_reply(late.handoff_id)
    desk.close(late.handoff_id, kim_id, "resolved")
    admin.goto(f"{team.url}/analytics?start=2026-11-23&end=2026-11-23")
    row = admin.locator('#agents-figures tr[data-agent="Kim Lee"]')
    assert row.locator('[data-figure="first_reply_breaches"]').inner_text() == "1"
    assert row.locator('[data-figure="resolution_breaches"]').inner_text() == "1"
    assert admin.locator('#agents-figures tr.team [data-figure="first_reply_breaches"]').inner_text() == "1"

    audit = [e.action for e in workspace_audit(sqlite_crm).entries(AuditQuery(actor="ada")).entries]
    assert audit[:3] == ["targets.changed", "agent.capacity", "canned.created"]
