"""The agent workspace's services on SQLite and PostgreSQL: looking customers up (by name, email, phone in any
format, order number, id), the customer page put together from the services' ports, the inbox counts, and the
audit log (recording, filters, pages, and a customer's erasure leaving their entries without their id)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from audit.log import ACTIONS, Actor, AuditLog, AuditQuery
from audit.rows import AuditRow
from crm_adapter.domain import InvalidInput, NotFound
from handoff.agents import SqlAgentService
from handoff.service import InboxCounts, NewHandoff, SqlHandoffService
from relationship.privacy import subject_hash
from relationship.service import SqlRelationshipService
from tests.conftest import SqlCrm
from tests.factories import add_customer, add_order, add_ticket
from tests.workspace import SECRET, workspace_audit, workspace_directory
from workspace.customers import CustomerDirectory

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
