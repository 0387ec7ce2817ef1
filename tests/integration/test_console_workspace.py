"""The console's workspace pages over HTTP against the app under uvicorn, on SQLite: finding a customer, the
customer page, a conversation opened in place, the navigation's counts, the scripts it serves, and the audit log
that every read of a customer's data and every change leaves (with the admin page that filters it)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from sqlalchemy import select

from audit.rows import AuditRow
from handoff.service import NewHandoff, SqlHandoffService, build_packet
from relationship.service import SqlRelationshipService
from tests.conftest import SqlCrm
from tests.factories import NOW, add_customer, add_order, add_ticket
from tests.integration.test_console_auth import Console, running_console
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
