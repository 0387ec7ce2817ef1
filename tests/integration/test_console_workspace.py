"""The console's workspace pages over HTTP against the app under uvicorn, on SQLite: finding a customer, the
customer page, a conversation opened in place, the navigation's counts, the scripts it serves, and the audit log
that every read of a customer's data and every change leaves (with the admin page that filters it)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
import requests
from sqlalchemy import select

from audit.rows import AuditRow
from console.deps import SESSION_COOKIE
from handoff.agents import SqlAgentService
from handoff.service import NewHandoff, SqlHandoffService, build_packet
from relationship.service import SqlRelationshipService
from tests.asgi_server import serve
from tests.conftest import SqlCrm
from tests.factories import NOW, add_customer, add_order, add_ticket
from tests.help_centre import articles, knowledge_at
from tests.integration.test_console_auth import Console, build_app, running_console
from tests.workspace import SECRET, add_conversation

pytestmark = pytest.mark.integration
PACKET = build_packet(
    reason="asked",
    verified=False,
    profile=None,
    orders=[],
    tickets=[],
    transcript=[],
    intents=["request_human"],
    slots={},
    sentiment_now=None,
)


@pytest.fixture
def console(sqlite_crm: SqlCrm) -> Iterator[Console]:
    with running_console(sqlite_crm) as running:
        yield running


@pytest.fixture
def nora(sqlite_crm: SqlCrm) -> dict[str, Any]:
    """A customer with an order, a ticket and a conversation (one of whose messages tries to run a script)."""
    s = sqlite_crm.sessions
    customer = add_customer(s, "Nora", "Quist", email="nora.quist@example.com", phone="+447700900555")
    add_order(s, customer, "JH555001")
    add_ticket(s, customer, "Lamp shade dented")
    conversation_id = add_conversation(
        s, customer, NOW, "Asked where JH555001 is", "<b>where</b> is my lamp", "It arrives on Thursday."
    )
    return {"id": customer, "conversation": conversation_id}


def as_user(console: Console, username: str) -> requests.Session:
    http = requests.Session()
    cookies, csrf = console.session(username)
    http.cookies.update(cookies)
    http.headers["X-CSRF-Token"] = csrf
    return http


def entries(crm: SqlCrm) -> list[AuditRow]:
    with crm.sessions() as s:
        return list(s.scalars(select(AuditRow).order_by(AuditRow.id)))


def test_an_agent_finds_a_customer_and_reads_their_page(console: Console, sqlite_crm: SqlCrm, nora) -> None:
    agent = as_user(console, "agent")
    found = agent.get(f"{console.url}/customers", params={"q": "07700 900555"}, timeout=10)
    assert found.status_code == 200 and f'href="/customers/{nora["id"]}"' in found.text and "Nora Quist" in found.text
    # htmx asks for the results alone as the agent types
    partial = agent.get(f"{console.url}/customers", params={"q": "quist"}, headers={"HX-Request": "true"}, timeout=10)
    assert "Nora Quist" in partial.text and "<html" not in partial.text
    assert "Nobody matches" in agent.get(f"{console.url}/customers", params={"q": "zzzz"}, timeout=10).text
    short = agent.get(f"{console.url}/customers", params={"q": "n"}, timeout=10)
    assert short.status_code == 200 and 'id="search-error"' in short.text

    page = agent.get(f"{console.url}/customers/{nora['id']}", timeout=10)
    assert page.status_code == 200
    for shown in ("Nora Quist", "nora.quist@example.com", "JH555001", "Lamp shade dented", "Asked where JH555001 is"):
        assert shown in page.text, shown
    assert re.search(r'data-part="purchases"><th>purchases</th><td>[\d.]+/[\d.]+</td>', page.text)
    assert 'data-consent="marketing"' in page.text

    opened = f"{console.url}/customers/{nora['id']}/conversations/{nora['conversation']}"
    in_place = agent.get(opened, headers={"HX-Request": "true"}, timeout=10)
    assert "&lt;b&gt;where&lt;/b&gt; is my lamp" in in_place.text and "<html" not in in_place.text
    assert "It arrives on Thursday." in in_place.text
    alone = agent.get(opened, timeout=10)
    assert "<html" in alone.text and "It arrives on Thursday." in alone.text

    # another customer's conversation is not reachable through this customer's page
    other = add_customer(sqlite_crm.sessions, "Otto", "Other")
    assert (
        agent.get(f"{console.url}/customers/{other}/conversations/{nora['conversation']}", timeout=10).status_code
        == 404
    )
    missing = agent.get(f"{console.url}/customers/cus_nobody", timeout=10)
    assert missing.status_code == 404 and "No such customer" in missing.text
    bad_cursor = agent.get(f"{console.url}/customers/{nora['id']}", params={"timeline": "not-a-cursor"}, timeout=10)
    assert bad_cursor.status_code == 422
    assert agent.get(f"{console.url}/customers/not%20an%20id", timeout=10).status_code == 422

    log = entries(sqlite_crm)
    assert [(e.action, e.actor, e.address) for e in log] == [
        ("customer.searched", "agent", "127.0.0.1"),
        ("customer.searched", "agent", "127.0.0.1"),
        ("customer.searched", "agent", "127.0.0.1"),  # "n" was refused: no search, no entry
        ("customer.viewed", "agent", "127.0.0.1"),
        ("conversation.viewed", "agent", "127.0.0.1"),
        ("conversation.viewed", "agent", "127.0.0.1"),
    ]
    assert log[0].detail == "1 found" and log[2].detail == "0 found"
    assert all("0770" not in e.detail and "quist" not in e.detail.lower() for e in log)  # what was typed stays out
    assert {e.customer_id for e in log[3:]} == {nora["id"]}


def test_the_navigation_counts_what_waits_and_what_is_mine(console: Console, sqlite_crm: SqlCrm, nora) -> None:
    desk = SqlHandoffService(sqlite_crm.sessions)
    for n in range(3):
        desk.request(NewHandoff(f"web-{n}", "socketio", nora["id"], "asked", "standard", PACKET))
    agent = as_user(console, "agent")
    home = agent.get(f"{console.url}/", timeout=10).text
    assert re.search(r'id="count-waiting"[^>]*>3<', home) and re.search(r'id="count-mine"[^>]*>0<', home)
    taken = agent.post(f"{console.url}/handoffs/1/take", allow_redirects=False, timeout=10)
    assert taken.status_code == 303
    home = agent.get(f"{console.url}/", timeout=10).text
    assert re.search(r'id="count-waiting"[^>]*>2<', home) and re.search(r'id="count-mine"[^>]*>1<', home)
    assert re.search(r'id="count-open"[^>]*>3<', home)
    admin_home = as_user(console, "admin").get(f"{console.url}/", timeout=10).text
    assert re.search(r'id="count-mine"[^>]*>0<', admin_home)


def test_handoff_work_leaves_entries(console: Console, sqlite_crm: SqlCrm, nora) -> None:
    handoff = (
        SqlHandoffService(sqlite_crm.sessions)
        .request(NewHandoff("tg-nora", "telegram", nora["id"], "asked", "standard", PACKET))
        .handoff
    )
    agent = as_user(console, "agent")
    base = f"{console.url}/handoffs/{handoff.handoff_id}"
    assert agent.post(f"{base}/take", allow_redirects=False, timeout=10).status_code == 303
    assert agent.get(base, timeout=10).status_code == 200
    agent.post(f"{base}/notes", data={"text": "Nora prefers mornings"}, allow_redirects=False, timeout=10)
    agent.post(f"{base}/tags", data={"tags": "lamp, damaged"}, allow_redirects=False, timeout=10)
    log = [e for e in entries(sqlite_crm) if e.target_kind == "handoff"]
    assert [e.action for e in log] == ["handoff.taken", "handoff.viewed", "handoff.noted", "handoff.tagged"]
    assert {e.customer_id for e in log} == {nora["id"]} and {e.target for e in log} == {str(handoff.handoff_id)}
    assert log[3].detail == "lamp, damaged"
    assert "mornings" not in log[2].detail  # a note's words stay in the note
    # a refused change leaves no entry: without the bot there is nothing to send, and nothing is recorded
    refused = agent.post(f"{base}/reply", data={"text": "hello"}, allow_redirects=False, timeout=10)
    assert refused.status_code == 503
    assert len([e for e in entries(sqlite_crm) if e.target_kind == "handoff"]) == 4


def test_the_audit_page_filters_and_survives_an_erasure(console: Console, sqlite_crm: SqlCrm, nora) -> None:
    agent, admin = as_user(console, "agent"), as_user(console, "admin")
    agent.get(f"{console.url}/customers/{nora['id']}", timeout=10)
    admin.get(f"{console.url}/customers", params={"q": "nora"}, timeout=10)

    page = admin.get(f"{console.url}/audit", timeout=10)
    assert page.status_code == 200
    rows = re.findall(r'<tr data-action="([a-z.]+)" data-actor="([a-z ]+)">', page.text)
    assert rows == [("customer.searched", "admin"), ("customer.viewed", "agent")]
    only_agent = admin.get(f"{console.url}/audit", params={"actor": "agent"}, timeout=10).text
    assert re.findall(r'data-action="([a-z.]+)"', only_agent) == ["customer.viewed"]
    by_customer = admin.get(f"{console.url}/audit", params={"customer": nora["id"]}, timeout=10).text
    assert re.findall(r'data-action="([a-z.]+)"', by_customer) == ["customer.viewed"]
    assert "No entries match" in admin.get(f"{console.url}/audit", params={"since": "2099-01-01"}, timeout=10).text
    assert admin.get(f"{console.url}/audit", params={"since": "not a date"}, timeout=10).status_code == 422
    assert agent.get(f"{console.url}/audit", timeout=10).status_code == 403

    SqlRelationshipService(sqlite_crm.sessions, secret=SECRET).request_erasure(nora["id"])
    after = admin.get(f"{console.url}/audit", timeout=10).text
    assert nora["id"] not in after and "erased" in after
    assert len(re.findall(r"<tr data-action=", after)) == 2  # nothing was deleted
    still = admin.get(f"{console.url}/audit", params={"customer": nora["id"]}, timeout=10).text
    assert re.findall(r'data-action="([a-z.]+)"', still) == ["customer.viewed"]


def test_the_audit_page_comes_fifty_at_a_time(console: Console, sqlite_crm: SqlCrm) -> None:
    admin = as_user(console, "admin")
    for _ in range(55):
        admin.get(f"{console.url}/customers", params={"q": "someone"}, timeout=10)
    first = admin.get(f"{console.url}/audit", params={"action": "customer"}, timeout=10).text
    assert len(re.findall(r"<tr data-action=", first)) == 50
    older = re.search(r'id="older" href="([^"]+)"', first)
    assert older is not None and "action=customer" in older.group(1)
    second = admin.get(console.url + older.group(1).replace("&amp;", "&"), timeout=10).text
    assert len(re.findall(r"<tr data-action=", second)) == 5 and 'id="older"' not in second


def test_the_console_serves_its_scripts_to_anyone(console: Console) -> None:
    for path, kind in (("/static/htmx.min.js", "javascript"), ("/static/console.css", "css")):
        response = requests.get(console.url + path, timeout=10)
        assert response.status_code == 200 and kind in response.headers["content-type"], path
        assert len(response.content) > 1000
    assert "htmx" in requests.get(console.url + "/static/htmx.min.js", timeout=10).text


def test_an_admin_manages_canned_responses_and_an_agent_gets_them_filled(console: Console, sqlite_crm, nora) -> None:
    admin = as_user(console, "admin")
    bad = admin.post(f"{console.url}/canned", data={"shortcut": "late", "title": "Late", "body": "Hi {firstname}"})
    assert bad.status_code == 422 and "{firstname} is not a placeholder" in bad.text
    assert "Hi {firstname}" in bad.text  # what was typed is kept
    body = "Hi {first_name}, {agent_name} here: order {order_number} is on its way. {ticket}"
    made = admin.post(f"{console.url}/canned", data={"shortcut": "on-its-way", "title": "On its way", "body": body},
                      allow_redirects=False)  # fmt: skip
    assert made.status_code == 303
    admin.post(f"{console.url}/canned", data={"shortcut": "bye", "title": "Goodbye", "body": "Bye {first_name}!"})
    renamed = admin.post(f"{console.url}/canned/bye", data={"shortcut": "goodbye", "title": "Goodbye", "body": "Bye!"},
                         allow_redirects=False)  # fmt: skip
    assert renamed.status_code == 303 and "/goodbye" in admin.get(f"{console.url}/canned", timeout=10).text
    assert (
        admin.post(f"{console.url}/canned/goodbye", data={"action": "delete"}, allow_redirects=False).status_code == 303
    )
    assert admin.get(f"{console.url}/canned/goodbye", timeout=10).status_code == 404
    log = [(e.action, e.target, e.detail) for e in entries(sqlite_crm) if e.target_kind == "canned"]
    assert log == [("canned.created", "on-its-way", ""), ("canned.created", "bye", ""),
                   ("canned.saved", "goodbye", "was /bye"), ("canned.deleted", "goodbye", "")]  # fmt: skip

    profile = SqlRelationshipService(sqlite_crm.sessions, secret=SECRET).profile(nora["id"])
    packet = build_packet(reason="asked", verified=True, profile=profile, orders=[], tickets=[], transcript=[],
                          intents=[], slots={"order_number": "JH555001"}, sentiment_now=None)  # fmt: skip
    handoff = (
        SqlHandoffService(sqlite_crm.sessions)
        .request(NewHandoff("tg-nora", "telegram", nora["id"], "asked", "standard", packet))
        .handoff
    )
    agent = as_user(console, "agent")
    agent.post(f"{console.url}/handoffs/{handoff.handoff_id}/take", allow_redirects=False)
    page = agent.get(f"{console.url}/handoffs/{handoff.handoff_id}", timeout=10).text
    data = re.search(r'<script type="application/json" id="canned-data">(.*?)</script>', page, re.S)
    assert data is not None, page[-3000:]
    [filled] = json.loads(data.group(1))
    assert filled["text"] == "Hi Nora, Sam Taylor here: order JH555001 is on its way. [ticket]"
    assert filled["missing"] == ["ticket"] and filled["shortcut"] == "on-its-way"
    assert 'id="conversation-summary"' in page and "asked for a person" in page


def test_an_agent_passes_a_conversation_on_and_an_admin_sets_capacity_and_targets(console: Console, sqlite_crm) -> None:
    desk = SqlHandoffService(sqlite_crm.sessions)
    handoff = desk.request(NewHandoff("web-1", "socketio", None, "asked", None, PACKET)).handoff
    agent, admin = as_user(console, "agent"), as_user(console, "admin")
    agent.post(f"{console.url}/handoffs/{handoff.handoff_id}/take", allow_redirects=False)
    moved = agent.post(f"{console.url}/handoffs/{handoff.handoff_id}/assign", data={"agent_id": console.ids["admin"]},
                       allow_redirects=False)  # fmt: skip
    assert moved.status_code == 303 and desk.get(handoff.handoff_id).agent_id == console.ids["admin"]
    assert agent.post(f"{console.url}/handoffs/{handoff.handoff_id}/assign", data={"agent_id": 999}).status_code == 422
    assert agent.post(f"{console.url}/handoffs/{handoff.handoff_id}/reply", data={"text": "hi"}).status_code == 409

    team = admin.get(f"{console.url}/team", timeout=10).text
    assert 'data-agent="agent"' in team and 'value="3"' in team
    admin.post(f"{console.url}/team/{console.ids['agent']}/capacity", data={"capacity": 5})
    assert next(a for a in console.agents.list_agents() if a.username == "agent").capacity == 5
    assert admin.post(f"{console.url}/team/{console.ids['agent']}/capacity", data={"capacity": 50}).status_code == 422
    admin.post(f"{console.url}/team/targets", data={"first_response": 2, "resolution": 20})
    wrong = admin.post(f"{console.url}/team/targets", data={"first_response": 30, "resolution": 20})
    assert wrong.status_code == 422 and "cannot be shorter" in wrong.text
    assert 'name="first_response" min="1" max="10080" value="2"' in admin.get(f"{console.url}/team", timeout=10).text
    log = [(e.action, e.actor, e.detail) for e in entries(sqlite_crm) if e.action != "handoff.viewed"]
    assert ("handoff.assigned", "agent", "to admin") in log
    assert ("agent.capacity", "admin", "capacity 5") in log
    assert ("targets.changed", "admin", "first reply 2 min, resolution 20 min") in log
    assert sum(1 for a, *_ in log if a in ("agent.capacity", "targets.changed")) == 2  # refused ones left none


def test_suggested_articles_follow_the_customers_latest_words(sqlite_crm: SqlCrm) -> None:
    agents = SqlAgentService(sqlite_crm.sessions)
    sam = agents.create_agent("sam", "Sam Taylor", "a-long-agent-password", "agent").agent_id
    knowledge = knowledge_at(sqlite_crm.url, clock=sqlite_crm.clock)
    for article in articles():
        knowledge.store.save(article, source="file", by="test")
    said = [{"who": "customer", "text": "hello"}, {"who": "customer", "text": "can I buy a gift voucher for my mum?"}]
    packet = build_packet(reason="asked", verified=False, profile=None, orders=[], tickets=[], transcript=said,
                          intents=[], slots={}, sentiment_now=None)  # fmt: skip
    desk = SqlHandoffService(sqlite_crm.sessions)
    handoff = desk.request(NewHandoff("web-g", "socketio", None, "asked", None, packet)).handoff
    desk.take(handoff.handoff_id, sam)
    with serve(build_app(sqlite_crm, agents, knowledge=knowledge)) as url:
        http = requests.Session()
        token, _ = agents.start_session(sam)
        http.cookies.set(SESSION_COOKIE, token)
        found = http.get(f"{url}/handoffs/{handoff.handoff_id}/suggestions", timeout=30).text
    first = re.search(r'<div class="suggestion" data-slug="([a-z-]+)">', found)
    assert first is not None and first.group(1) == "gift-cards"
    assert "can I buy a gift voucher for my mum?" in found
    insert = re.search(r'data-insert="([^"]*)"', found)
    assert insert is not None and "gift card" in insert.group(1).lower()
    assert insert.group(1).endswith("&#10;More in our help centre: Gift cards (http://shop.test/help/gift-cards)")


def test_the_analytics_page_counts_each_agents_breaches(console: Console, sqlite_crm: SqlCrm) -> None:
    now = {"t": datetime(2026, 11, 23, 9, 0)}
    desk = SqlHandoffService(sqlite_crm.sessions, clock=lambda: now["t"])
    sam = console.ids["agent"]
    for sender, reply_after, closed_after in (("web-a", 2, 10), ("web-b", 9, 90)):
        now["t"] = datetime(2026, 11, 23, 9, 0)
        handoff = desk.request(NewHandoff(sender, "socketio", None, "asked", None, PACKET)).handoff
        desk.take(handoff.handoff_id, sam)
        now["t"] += timedelta(minutes=reply_after)
        desk.record_reply(handoff.handoff_id)
        now["t"] = datetime(2026, 11, 23, 9, 0) + timedelta(minutes=closed_after)
        desk.close(handoff.handoff_id, sam, "resolved")
    page = as_user(console, "admin").get(f"{console.url}/analytics?start=2026-11-23&end=2026-11-23", timeout=10).text
    row = re.search(r'<tr data-agent="Sam Taylor">(.*?)</tr>', page, re.S)
    team = re.search(r'<tr data-agent="Team" class="team">(.*?)</tr>', page, re.S)
    assert row is not None and team is not None
    figures = dict(re.findall(r'data-figure="([a-z_]+)">(\d+)<', row.group(1)))
    assert figures == {"first_reply_breaches": "1", "resolution_breaches": "1"}
    assert "<td>2</td>" in row.group(1) and "5.5 min" in row.group(1)  # two conversations; the median of 2 and 9
