"""The agent workspace's services on SQLite and PostgreSQL: looking customers up (by name, email, phone in any
format, order number, id), the customer page put together from the services' ports, the inbox counts, and the
audit log (recording, filters, pages, and a customer's erasure leaving their entries without their id)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, text

from audit.log import ACTIONS, Actor, AuditLog, AuditQuery
from audit.rows import AuditRow
from crm_adapter.domain import InvalidInput, NotAllowed, NotFound
from crm_adapter.sql.db import make_engine, upgrade
from handoff.agents import SqlAgentService
from handoff.service import InboxCounts, NewHandoff, OpeningHours, SqlHandoffService
from relationship.privacy import subject_hash
from relationship.service import SqlRelationshipService
from tests.conftest import SqlCrm
from tests.factories import add_customer, add_order, add_ticket
from tests.workspace import SECRET, workspace_audit, workspace_directory
from workspace.canned import CannedResponses, conversation_values, fill
from workspace.customers import CustomerDirectory
from workspace.sla import ResponseTargets

pytestmark = pytest.mark.integration
SAM = Actor(7, "sam", "10.0.0.7")


def directory(crm: SqlCrm) -> CustomerDirectory:
    return workspace_directory(crm)


def audit_log(crm: SqlCrm, clock: Any = None) -> AuditLog:
    if clock is None:
        return workspace_audit(crm)
    return AuditLog(crm.sessions, erased_subject=lambda c: subject_hash(c, SECRET.encode()), clock=clock)


@pytest.fixture
def people(sql_crm: SqlCrm) -> dict[str, str]:
    s = sql_crm.sessions
    ids = {
        "ada": add_customer(s, "Ada", "Lovelace", email="ada.lovelace@example.com", phone="+44 7700 900111"),
        "alan": add_customer(s, "Alan", "Turing", email="alan@bletchley.example", phone="+447700900222"),
        "grace": add_customer(s, "Grace", "Hopper", email="grace_h@example.org", phone=None),
        "adam": add_customer(s, "Adam", "Smith", email="adam.smith@example.com", phone="+447700900333"),
    }
    add_order(s, ids["grace"], "JH424242")
    return ids


# ---- looking customers up ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "who", "matched_on"),
    [
        ("lovelace", ["ada"], "name"),
        ("ADA lov", ["ada"], "name"),  # every word must match a first or last name, any case
        ("alan@bletchley.example", ["alan"], "email"),
        ("bletchley", ["alan"], "email"),  # part of an email, when no name has it
        ("07700 900111", ["ada"], "phone"),  # a national number finds the international one
        ("+44 (7700) 900-222", ["alan"], "phone"),
        ("900333", ["adam"], "phone"),
        ("jh424242", ["grace"], "order"),
        ("JH 424242", ["grace"], "order"),
    ],
)
def test_a_customer_is_found_by_name_email_phone_or_order(sql_crm, people, query, who, matched_on):
    found = directory(sql_crm).search(query)
    assert [m.customer_id for m in found] == [people[w] for w in who]
    assert found[0].matched_on == matched_on


def test_a_search_lists_every_match_and_only_them(sql_crm, people):
    found = directory(sql_crm).search("ad")
    assert {m.customer_id for m in found} == {people["ada"], people["adam"]}  # Grace's email has "h@", not "ad"
    assert found[0].name in ("Ada Lovelace", "Adam Smith") and found[0].email.endswith("example.com")
    assert directory(sql_crm).search(people["alan"])[0].matched_on == "id"
    assert directory(sql_crm).search("nobody like this") == []


def test_like_wildcards_typed_in_a_search_are_taken_literally(sql_crm, people):
    assert [m.customer_id for m in directory(sql_crm).search("grace_h")] == [people["grace"]]
    assert directory(sql_crm).search("%%%") == []
    assert directory(sql_crm).search("a_a") == []  # would match "ada" if _ were a wildcard


@pytest.mark.parametrize("query", ["", " ", "a", "x" * 101])
def test_a_query_too_short_or_too_long_is_refused(sql_crm, people, query):
    with pytest.raises(InvalidInput):
        directory(sql_crm).search(query)


def test_the_customer_page_brings_profile_value_orders_tickets_and_timeline(sql_crm, people):
    grace = people["grace"]
    add_ticket(sql_crm.sessions, grace, "Chair arrived scratched")
    page = directory(sql_crm).page(grace)
    assert page.customer.first_name == "Grace" and page.profile.customer.customer_id == grace
    assert [o.order_number for o in page.orders] == ["JH424242"]
    assert [t.subject for t in page.tickets] == ["Chair arrived scratched"]
    assert {p.name for p in page.profile.value.parts} == {"purchases", "engagement", "advocacy"}
    kinds = {e.kind for e in page.timeline.entries}
    assert {"order", "ticket"} <= kinds
    with pytest.raises(NotFound):
        directory(sql_crm).page("cus_nobody")


# ---- inbox counts -----------------------------------------------------------------------------


def test_the_inbox_counts_waiting_mine_and_open(sql_crm, people):
    desk = SqlHandoffService(sql_crm.sessions, clock=sql_crm.clock)
    made = [
        desk.request(NewHandoff(f"web-{n}", "socketio", people["ada"], "asked", "standard", {})).handoff
        for n in range(4)
    ]
    assert desk.counts(999) == InboxCounts(waiting=4, mine=0, open=4)
    agents = SqlAgentService(sql_crm.sessions, clock=sql_crm.clock)
    sam = agents.create_agent("sam", "Sam", "a-long-agent-password", "agent").agent_id
    kim = agents.create_agent("kim", "Kim", "a-long-agent-password", "agent").agent_id
    desk.take(made[0].handoff_id, sam)
    desk.take(made[1].handoff_id, kim)
    desk.take(made[2].handoff_id, sam)
    desk.close(made[2].handoff_id, sam, "resolved")
    counts = desk.counts(sam)
    assert (counts.waiting, counts.mine, counts.open) == (1, 1, 3)
    assert desk.counts(kim).mine == 1


# ---- the audit log ----------------------------------------------------------------------------


class Ticking:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 9, 0)

    def __call__(self) -> datetime:
        self.now += timedelta(minutes=1)
        return self.now


def test_entries_are_recorded_and_read_newest_first_with_filters(sql_crm, people):
    log = audit_log(sql_crm, clock=Ticking())
    ada, alan = people["ada"], people["alan"]
    kim = Actor(8, "kim", "10.0.0.8")
    log.record(SAM, "customer.viewed", "customer", ada, customer_id=ada)
    log.record(SAM, "handoff.taken", "handoff", 12, customer_id=alan)
    log.record(kim, "handoff.replied", "handoff", 12, customer_id=alan, detail="14 characters on socketio")
    log.record(Actor.command_line(), "agent.added", "agent", "kim", detail="role agent")

    every = log.entries(AuditQuery()).entries
    assert [e.action for e in every] == ["agent.added", "handoff.replied", "handoff.taken", "customer.viewed"]
    newest = every[0]
    assert (newest.actor, newest.address) == ("command line", "local")
    assert (newest.target_kind, newest.target) == ("agent", "kim")
    assert every[1].detail == "14 characters on socketio" and every[1].label == ACTIONS["handoff.replied"]
    assert every[3].at < every[2].at < every[1].at

    assert [e.action for e in log.entries(AuditQuery(actor="sam")).entries] == ["handoff.taken", "customer.viewed"]
    assert [e.action for e in log.entries(AuditQuery(action="handoff")).entries] == ["handoff.replied", "handoff.taken"]
    assert [e.action for e in log.entries(AuditQuery(action="handoff.taken")).entries] == ["handoff.taken"]
    assert [e.target for e in log.entries(AuditQuery(customer_id=alan)).entries] == ["12", "12"]
    assert log.entries(AuditQuery(since=date(2026, 12, 2))).entries == ()
    assert len(log.entries(AuditQuery(since=date(2026, 12, 1), until=date(2026, 12, 1))).entries) == 4
    assert log.actors() == ["command line", "kim", "sam"]


def test_entries_come_a_page_at_a_time(sql_crm, people):
    log = audit_log(sql_crm)
    for n in range(7):
        log.record(SAM, "customer.viewed", "customer", n)
    first = log.entries(AuditQuery(), limit=3)
    second = log.entries(AuditQuery(), before=first.next_before, limit=3)
    third = log.entries(AuditQuery(), before=second.next_before, limit=3)
    assert [e.target for e in first.entries + second.entries + third.entries] == [str(n) for n in range(6, -1, -1)]
    assert third.next_before is None


def test_unknown_actions_are_refused_and_long_fields_clipped(sql_crm):
    log = audit_log(sql_crm)
    with pytest.raises(ValueError, match="unknown audit action"):
        log.record(SAM, "customer.deleted", "customer", "x")
    with pytest.raises(ValueError, match="target kind"):
        log.record(SAM, "customer.viewed", "planet", "x")
    log.record(Actor(1, "a" * 200, "b" * 200), "customer.viewed", "customer", "t" * 500, detail="d" * 1000)
    entry = log.entries(AuditQuery()).entries[0]
    assert len(entry.actor) == 80 and len(entry.address) == 64 and len(entry.target) == 120 and len(entry.detail) == 300


def test_erasure_keeps_the_entries_without_the_customers_id(sql_crm, people):
    log = audit_log(sql_crm)
    ada, alan = people["ada"], people["alan"]
    log.record(SAM, "customer.viewed", "customer", ada, customer_id=ada)
    log.record(SAM, "handoff.replied", "handoff", 3, customer_id=ada, detail="20 characters on telegram")
    log.record(SAM, "customer.viewed", "customer", alan, customer_id=alan)

    relationship = SqlRelationshipService(sql_crm.sessions, secret=SECRET, clock=sql_crm.clock)
    relationship.request_erasure(ada)

    with sql_crm.sessions() as s:
        rows = list(s.scalars(select(AuditRow).order_by(AuditRow.id)))
    assert len(rows) == 3  # nothing deleted
    assert [r.customer_id for r in rows] == [None, None, alan]
    assert rows[0].erased_subject == subject_hash(ada, SECRET.encode()) == rows[1].erased_subject
    assert rows[2].erased_subject is None
    # The target of a customer entry is the customer's id: it goes too (the hash stands in for it).
    assert ada not in {r.target for r in rows}
    # Someone who knows the id can still find what was done to that customer's data.
    found = log.entries(AuditQuery(customer_id=ada)).entries
    assert [e.action for e in found] == ["handoff.replied", "customer.viewed"] and all(e.erased for e in found)


# ---- assignment -------------------------------------------------------------------------------


def agents_with(crm: SqlCrm, *capacities: int) -> list[int]:
    agents = SqlAgentService(crm.sessions, clock=crm.clock)
    ids = []
    for n, capacity in enumerate(capacities):
        agent = agents.create_agent(f"agent{n}", f"Agent {n}", "a-long-agent-password", "agent")
        agents.set_capacity(agent.agent_id, capacity)
        ids.append(agent.agent_id)
    return ids


def test_auto_assignment_goes_round_robin_within_each_agents_capacity(sql_crm, people):
    desk = SqlHandoffService(sql_crm.sessions, clock=Ticking())
    a, b, c = agents_with(sql_crm, 2, 1, 0)
    made = [desk.request(NewHandoff(f"web-{n}", "socketio", None, "asked", None, {})).handoff for n in range(5)]
    given = desk.auto_assign([a, b, c])
    assert [(h.handoff_id, h.agent_id) for h in given] == [
        (made[0].handoff_id, a),  # nobody had one: the lowest id first
        (made[1].handoff_id, b),  # then whoever was given one least recently
        (made[2].handoff_id, a),  # b is full (1), c takes none (0)
    ]
    assert desk.counts(a).mine == 2 and desk.counts(b).mine == 1 and desk.counts(c).waiting == 2
    assert desk.auto_assign([a, b, c]) == []  # everyone is full
    desk.close(made[1].handoff_id, b, "resolved")
    assert [(h.handoff_id, h.agent_id) for h in desk.auto_assign([a, b, c])] == [(made[3].handoff_id, b)]
    assert desk.auto_assign([]) == []  # nobody online


def test_a_higher_tier_is_assigned_first_and_only_online_active_agents_get_any(sql_crm, people):
    desk = SqlHandoffService(sql_crm.sessions, clock=Ticking())
    a, b = agents_with(sql_crm, 1, 1)
    standard = desk.request(NewHandoff("web-1", "socketio", None, "asked", "standard", {})).handoff
    vip = desk.request(NewHandoff("web-2", "socketio", None, "asked", "vip", {})).handoff
    SqlAgentService(sql_crm.sessions).deactivate("agent1")
    given = desk.auto_assign([a, b])  # b is deactivated: nothing for them
    assert [(h.handoff_id, h.agent_id) for h in given] == [(vip.handoff_id, a)]
    assert desk.get(standard.handoff_id).status == "waiting"


def test_reassigning_and_the_first_reply(sql_crm, people):
    desk = SqlHandoffService(sql_crm.sessions, clock=Ticking())
    a, b = agents_with(sql_crm, 1, 1)
    handoff = desk.request(NewHandoff("web-1", "socketio", None, "asked", None, {})).handoff
    assert desk.reassign(handoff.handoff_id, b).agent_id == b  # a waiting one, straight to b
    assert desk.reassign(handoff.handoff_id, a).agent_id == a
    assert desk.first_response_at(handoff.handoff_id) is None
    desk.record_reply(handoff.handoff_id)
    first = desk.first_response_at(handoff.handoff_id)
    desk.record_reply(handoff.handoff_id)
    assert first is not None and desk.first_response_at(handoff.handoff_id) == first  # the first one stays
    desk.close(handoff.handoff_id, a, "resolved")
    with pytest.raises(NotAllowed):
        desk.reassign(handoff.handoff_id, b)


def test_capacity_is_bounded(sql_crm):
    agents = SqlAgentService(sql_crm.sessions)
    agent = agents.create_agent("sam", "Sam", "a-long-agent-password", "agent")
    assert agent.capacity == 3 and agents.set_capacity(agent.agent_id, 0).capacity == 0
    assert agents.create_agent("ada", "Ada", "a-long-admin-password", "admin").capacity == 0  # until set on /team
    for wrong in (-1, 21):
        with pytest.raises(InvalidInput):
            agents.set_capacity(agent.agent_id, wrong)
    with pytest.raises(NotFound):
        agents.set_capacity(999, 1)


# ---- response targets -------------------------------------------------------------------------


MONDAY_9 = datetime(2026, 11, 23, 9, 0)  # Europe/London is UTC in November


def test_open_hours_count_only_the_time_people_answer():
    hours = OpeningHours.parse("mon-fri 09:00-17:00", "Europe/London")
    friday_1655 = datetime(2026, 11, 27, 16, 55)
    assert hours.open_seconds(friday_1655, MONDAY_9 + timedelta(days=7, minutes=5)) == 10 * 60  # 5 min + 5 min
    assert hours.open_seconds(MONDAY_9, MONDAY_9 + timedelta(hours=1)) == 3600
    assert hours.open_seconds(MONDAY_9 - timedelta(hours=2), MONDAY_9) == 0
    assert hours.open_seconds(MONDAY_9, MONDAY_9 - timedelta(hours=1)) == 0
    assert OpeningHours.parse("always").open_seconds(MONDAY_9, MONDAY_9 + timedelta(days=2)) == 2 * 86400
    summer = OpeningHours.parse("mon-fri 09:00-17:00", "Europe/London")  # BST: 09:00 London is 08:00 UTC
    assert summer.open_seconds(datetime(2026, 6, 1, 7, 0), datetime(2026, 6, 1, 9, 0)) == 3600


def test_targets_have_defaults_are_checked_and_saved(sql_crm):
    targets = ResponseTargets(sql_crm.sessions, OpeningHours.parse("always"), clock=lambda: MONDAY_9)
    assert (targets.get().first_response_minutes, targets.get().resolution_minutes) == (5, 60)
    saved = targets.set(3, 30, by="admin")
    assert (saved.first_response_minutes, saved.resolution_minutes, saved.updated_by) == (3, 30, "admin")
    assert targets.set(4, 40, by="ada").first_response_minutes == 4  # one row, changed
    for first, resolution in ((0, 10), (10, 5), (5, 7 * 24 * 60 + 1)):
        with pytest.raises(InvalidInput):
            targets.set(first, resolution, by="admin")
    assert targets.get().resolution_minutes == 40


def test_each_conversation_has_its_clocks_and_the_team_its_breaches(sql_crm, people):
    now = {"t": MONDAY_9}
    clock = lambda: now["t"]  # noqa: E731
    hours = OpeningHours.parse("mon-fri 09:00-17:00", "Europe/London")
    targets = ResponseTargets(sql_crm.sessions, hours, clock=clock)
    targets.set(5, 30, by="admin")
    desk = SqlHandoffService(sql_crm.sessions, clock=clock)
    a, b = agents_with(sql_crm, 3, 3)

    quick = desk.request(NewHandoff("web-quick", "socketio", None, "asked", None, {})).handoff
    slow = desk.request(NewHandoff("web-slow", "socketio", None, "asked", None, {})).handoff
    desk.take(quick.handoff_id, a)
    desk.take(slow.handoff_id, b)
    now["t"] = MONDAY_9 + timedelta(minutes=2)
    desk.record_reply(quick.handoff_id)
    clocks = targets.open_clocks()
    assert clocks[quick.handoff_id].first_reply.met and not clocks[quick.handoff_id].first_reply.breached
    assert clocks[slow.handoff_id].first_reply.minutes_left == 3 and not clocks[slow.handoff_id].first_reply.done
    now["t"] = MONDAY_9 + timedelta(minutes=9)
    assert clocks != targets.open_clocks() and targets.open_clocks()[slow.handoff_id].first_reply.breached
    assert targets.open_clocks()[slow.handoff_id].first_reply.minutes_left == -4
    desk.record_reply(slow.handoff_id)
    now["t"] = MONDAY_9 + timedelta(minutes=20)
    desk.close(quick.handoff_id, a, "resolved")
    now["t"] = MONDAY_9 + timedelta(minutes=45)
    desk.close(slow.handoff_id, b, "returned")

    by_agent, team = targets.figures(MONDAY_9.date(), MONDAY_9.date())
    figures = {f.agent_id: f for f in by_agent}
    assert (figures[a].handled, figures[a].first_reply_breaches, figures[a].resolution_breaches) == (1, 0, 0)
    assert (figures[b].handled, figures[b].first_reply_breaches, figures[b].resolution_breaches) == (1, 1, 1)
    assert (team.handled, team.first_reply_breaches, team.resolution_breaches) == (2, 1, 1)
    assert figures[a].median_first_reply == 2 and sorted(team.first_reply_minutes) == [2, 9]
    assert targets.figures(MONDAY_9.date() + timedelta(days=1), MONDAY_9.date() + timedelta(days=2))[1].handled == 0


# ---- canned responses -------------------------------------------------------------------------


def test_canned_responses_are_checked_saved_renamed_and_deleted(sql_crm):
    canned = CannedResponses(sql_crm.sessions, clock=lambda: MONDAY_9)
    made = canned.save("/Delivery-Times", "Delivery times", "Hi {first_name}, {order_number} arrives soon.", by="ada")
    assert (made.shortcut, made.updated_by) == ("delivery-times", "ada")
    with pytest.raises(InvalidInput, match=r"\{firstname\} is not a placeholder"):
        canned.save("greeting", "Hello", "Hello {firstname}", by="ada")
    with pytest.raises(InvalidInput, match="taken"):
        canned.save("delivery-times", "Again", "Again", by="ada")
    for shortcut, title, body in (("x", "t", "b"), ("has space", "t", "b"), ("ok-one", "", "b"), ("ok-one", "t", "")):
        with pytest.raises(InvalidInput):
            canned.save(shortcut, title, body, by="ada")
    canned.save("greeting", "Hello", "Hello {first_name}, {agent_name} here.", by="ada")
    renamed = canned.save("hello", "Hello", "Hello {first_name}!", by="sam", replacing="greeting")
    assert [c.shortcut for c in canned.listing()] == ["delivery-times", "hello"] and renamed.updated_by == "sam"
    canned.delete("hello")
    with pytest.raises(NotFound):
        canned.delete("hello")
    with pytest.raises(NotFound):
        canned.get("hello")


def test_placeholders_are_filled_from_the_conversation_and_missing_ones_marked():
    packet = {
        "customer": {"name": "Nora Quist", "email": "nora@example.com"},
        "conversation": {"slots": {"order_number": None}},
        "open_orders": [{"order_number": "JH555001"}],
        "open_tickets": [],
    }
    values = conversation_values(packet, "Sam Taylor")
    text, missing = fill("Hi {first_name}, {agent_name} here about {order_number} and {ticket}. {unknown}", values)
    assert text == "Hi Nora, Sam Taylor here about JH555001 and [ticket]. {unknown}" and missing == ("ticket",)
    slot_first = conversation_values({**packet, "conversation": {"slots": {"order_number": "JH1"}}}, "Sam")
    assert slot_first["order_number"] == "JH1"  # the order the conversation is about wins
    assert "first_name" not in conversation_values({}, "Sam")  # an anonymous visitor: no name to fill in


def test_the_migration_gives_existing_admins_no_capacity_and_agents_three(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'crm.db'}"
    upgrade(url, "0019")
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            for username, role in (("sam", "agent"), ("ada", "admin")):
                conn.execute(
                    text("INSERT INTO agents (username, display_name, password_hash, role, active, created_at) "
                         "VALUES (:u, :u, 'x', :r, 1, '2026-12-01 09:00:00')"),
                    {"u": username, "r": role},
                )  # fmt: skip
        upgrade(url, "head")
        with engine.connect() as conn:
            capacities = dict(conn.execute(text("SELECT username, capacity FROM agents")).tuples().all())
    finally:
        engine.dispose()
    assert capacities == {"sam": 3, "ada": 0}
