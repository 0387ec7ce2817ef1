"""The handoff services on a real SQLite CRM (SqlHandoffService, SqlAgentService): the queue's order, taking a
conversation, notes, tags, handing back, expected waits learnt from closed handoffs, the helpdesk outbox, and
the desk the composition root builds on the configured database. What the handoff desk asks of the queue
is also held by tests/integration/test_handoff_contract.py.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from audit.log import AuditQuery
from crm_adapter.domain import InvalidInput, NotAllowed
from handoff.agents import SqlAgentService
from handoff.desk import CallbackDesk, Conversation, HandoffDesk, HandoffRequest
from handoff.service import NewHandoff, SqlHandoffService
from hearth.container import Container
from hearth.settings import Settings
from tests.conftest import SqlCrm
from tests.factories import add_customer

pytestmark = pytest.mark.integration
PASSWORD = "a-long-agent-password"


@pytest.fixture
def crm(sqlite_crm: SqlCrm) -> SqlCrm:
    return sqlite_crm


def agent_online(crm, username: str = "sam") -> int:
    agents = SqlAgentService(crm.sessions, clock=crm.clock)
    agent = agents.create_agent(username, username.title(), PASSWORD, "agent")
    agents.start_session(agent.agent_id)
    return agent.agent_id


def test_the_queue_puts_higher_value_first_then_longest_waiting(crm):
    service = SqlHandoffService(crm.sessions, clock=crm.clock)

    def ask(sender: str, tier: str | None) -> None:
        service.request(NewHandoff(sender, "socketio", None, "asked", tier, {}))
        crm.clock.advance(minutes=1)

    ask("standard-early", "standard")
    ask("low", None)
    ask("vip-late", "vip")
    ask("standard-late", "standard")
    order = [p.handoff.sender_id for p in service.queue()]
    assert order == ["vip-late", "standard-early", "standard-late", "low"]
    assert [p.position for p in service.queue()] == [1, 2, 3, 4]


def test_one_agent_takes_a_conversation_notes_tags_and_hands_it_back(crm):
    service = SqlHandoffService(crm.sessions, clock=crm.clock)
    sam, kim = agent_online(crm, "sam"), agent_online(crm, "kim")
    place = service.request(NewHandoff("visitor", "socketio", None, "asked", None, {}))
    handoff_id = place.handoff.handoff_id
    assert service.take(handoff_id, sam).status == "assigned"
    with pytest.raises(NotAllowed):
        service.take(handoff_id, kim)
    with pytest.raises(NotAllowed):
        service.close(handoff_id, kim, "resolved")
    service.add_note(handoff_id, sam, "Customer prefers email")
    with pytest.raises(InvalidInput):
        service.add_note(handoff_id, sam, "   ")
    assert service.set_tags(handoff_id, ["Lamp", "lamp", " refund "]).tags == ("lamp", "refund")
    crm.clock.advance(minutes=6)
    closed = service.close(handoff_id, sam, "returned", "Refund agreed; bot can confirm the label")
    assert (closed.status, closed.close_note) == ("returned", "Refund agreed; bot can confirm the label")
    assert [n.text for n in service.notes(handoff_id)] == ["Customer prefers email"]
    assert service.open_for("visitor") is None
    # the next customer's expected wait is now based on how long handoffs take here
    nxt = service.request(NewHandoff("next", "socketio", None, "asked", None, {}))
    assert nxt.expected_wait == timedelta(minutes=6)


def test_with_a_helpdesk_each_handoff_is_queued_for_it_once(crm):
    from handoff.helpdesk import enqueue
    from handoff.rows import HelpdeskDeliveryRow

    service = SqlHandoffService(crm.sessions, clock=crm.clock, on_request=enqueue)
    first = service.request(NewHandoff("visitor", "socketio", None, "asked", None, {"reason": "asked"})).handoff
    service.request(NewHandoff("visitor", "socketio", None, "asked", None, {"reason": "asked"}))  # already queued
    with crm.sessions() as s:
        rows = [
            (r.handoff_id, r.status, r.payload["handoff_id"], r.payload["reason"])
            for r in s.scalars(select(HelpdeskDeliveryRow))
        ]
    assert rows == [(first.handoff_id, "pending", first.handoff_id, "asked")]


def test_the_deployment_chooses_the_desk(tmp_path, crm):
    external = Container(
        Settings.from_env(
            {"CRM_BACKEND": "http", "CRM_HTTP_BASE_URL": "http://crm.example", "HEARTH_DATA_DIR": str(tmp_path)}
        )
    )
    assert isinstance(external.handoff_desk, CallbackDesk)
    own = Container(Settings.from_env({"CRM_DATABASE_URL": crm.url, "HEARTH_DATA_DIR": str(tmp_path)}))
    desk = own.handoff_desk
    assert isinstance(desk, HandoffDesk) and desk.crm is own.crm and desk.handoffs is own.handoffs
    assert own.crm.get_customer(add_customer(crm.sessions)).first_name == "Anna"  # on the configured database


def test_the_composition_root_auto_assigns_when_it_is_on_and_records_each_in_the_audit_log(tmp_path, crm):
    env = {"CRM_DATABASE_URL": crm.url, "HEARTH_DATA_DIR": str(tmp_path), "HANDOFF_HOURS": "always"}
    agents = SqlAgentService(crm.sessions)  # signed in now: the container's clock is the real one
    sam = agents.create_agent("sam", "Sam", PASSWORD, "agent").agent_id
    agents.start_session(sam)
    own = Container(Settings.from_env(env))
    outcome = own.handoff_desk.bring_in(HandoffRequest("asked", Conversation("web-1", "socketio", None)))
    assert outcome.agent_name == "Sam" and own.handoffs.get(outcome.handoff_id).agent_id == sam
    [entry] = own.audit.entries(AuditQuery(action="handoff.assigned")).entries
    assert (entry.actor, entry.target, entry.detail) == ("auto-assignment", str(outcome.handoff_id), "to sam")
    assert own.assign_waiting is not None

    off = Container(Settings.from_env(env | {"HANDOFF_AUTO_ASSIGN": "off"}))
    queued = off.handoff_desk.bring_in(HandoffRequest("asked", Conversation("web-2", "socketio", None)))
    assert queued.agent_name is None and off.handoffs.get(queued.handoff_id).status == "waiting"
    assert off.assign_waiting is None
    with pytest.raises(ValueError, match="HANDOFF_AUTO_ASSIGN"):
        Settings.from_env(env | {"HANDOFF_AUTO_ASSIGN": "sometimes"})
