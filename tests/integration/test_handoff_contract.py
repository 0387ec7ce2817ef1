"""One contract suite for the handoff desk's ports (handoff/desk.py: `HandoffQueue`, `AgentRoster`): the
in-memory stand-ins and the SQL services must behave alike in what the desk asks of them.

* ``memory``     MemoryHandoffQueue and MemoryAgentRoster (tests/fakes/handoff.py); runs in the unit tier
* ``sqlite``     SqlHandoffService and SqlAgentService on a migrated SQLite file
* ``postgresql`` the same on PostgreSQL (skipped when no server is reachable, fails in CI)

The agent's side of a handoff (taking, notes, closing, expected waits learnt from closed handoffs) is the SQL
service's alone and is tested in tests/integration/test_handoff_sql.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest

from crm_adapter.domain import InvalidInput, NotFound
from handoff.agents import SqlAgentService
from handoff.desk import AgentRoster, HandoffQueue
from handoff.service import DEFAULT_HANDLING, NewHandoff, SqlHandoffService
from tests.factories import NOW, Clock
from tests.fakes.handoff import MemoryAgentRoster, MemoryHandoffQueue, MemoryHandoffStore

PASSWORD = "a-long-agent-password"


@dataclass
class Backend:
    queue: HandoffQueue
    roster: AgentRoster
    sign_in: Callable[[str], int]  # an agent signs in to the console; returns their id
    take: Callable[[int, int], object]  # the agent takes the handoff in the console
    clock: Clock


@pytest.fixture(
    params=[
        pytest.param("memory", marks=pytest.mark.unit),
        pytest.param("sqlite", marks=pytest.mark.integration),
        pytest.param("postgresql", marks=pytest.mark.integration),
    ]
)
def desk_ports(request: pytest.FixtureRequest) -> Iterator[Backend]:
    if request.param == "memory":
        store, clock = MemoryHandoffStore(), Clock()
        roster = MemoryAgentRoster(store, clock=clock)
        queue = MemoryHandoffQueue(store, clock=clock)
        yield Backend(
            queue,
            roster,
            lambda name: roster.sign_in(name).agent_id,
            queue.take,
            clock,
        )
        return
    sql = request.getfixturevalue("sqlite_crm" if request.param == "sqlite" else "postgres_crm")
    agents = SqlAgentService(sql.sessions, clock=sql.clock)

    def sign_in(name: str) -> int:
        agent = agents.create_agent(name, name.title(), PASSWORD, "agent")
        agents.start_session(agent.agent_id)
        return agent.agent_id

    queue = SqlHandoffService(sql.sessions, clock=sql.clock)
    yield Backend(queue, agents, sign_in, queue.take, sql.clock)


def new(sender: str, tier: str | None = None, customer_id: str | None = None, reason: str = "asked") -> NewHandoff:
    return NewHandoff(sender, "socketio", customer_id, reason, tier, {"reason": reason, "sender": sender})


def test_a_request_joins_the_queue_and_is_open_for_its_sender(desk_ports: Backend) -> None:
    assert desk_ports.queue.open_for("web-1") is None

    place = desk_ports.queue.request(new("web-1", "high", reason="negative_sentiment"))

    assert (place.position, place.expected_wait) == (1, DEFAULT_HANDLING)
    handoff = place.handoff
    assert (handoff.sender_id, handoff.channel, handoff.customer_id, handoff.reason, handoff.status, handoff.tier) == (
        "web-1",
        "socketio",
        None,
        "negative_sentiment",
        "waiting",
        "high",
    )
    assert handoff.requested_at == NOW and handoff.packet == {"reason": "negative_sentiment", "sender": "web-1"}
    assert (handoff.agent_id, handoff.assigned_at, handoff.closed_at, handoff.tags) == (None, None, None, ())
    assert desk_ports.queue.open_for("web-1") == handoff
    assert desk_ports.queue.open_for("web-2") is None


def test_a_second_request_from_the_same_sender_is_the_same_handoff(desk_ports: Backend) -> None:
    first = desk_ports.queue.request(new("web-1")).handoff
    desk_ports.clock.advance(minutes=3)
    again = desk_ports.queue.request(new("web-1", "vip", reason="fallbacks"))
    assert again.handoff == first and again.position == 1
    assert desk_ports.queue.request(new("web-2")).position == 2


def test_the_queue_puts_higher_value_first_then_longest_waiting(desk_ports: Backend) -> None:
    ids = {}
    for sender, tier in (
        ("standard-early", "standard"),
        ("low", None),
        ("vip-late", "vip"),
        ("standard-late", "standard"),
    ):
        ids[sender] = desk_ports.queue.request(new(sender, tier)).handoff.handoff_id
        desk_ports.clock.advance(minutes=1)
    places = {sender: desk_ports.queue.place(handoff_id) for sender, handoff_id in ids.items()}
    assert {sender: p.position for sender, p in places.items()} == {
        "vip-late": 1,
        "standard-early": 2,
        "standard-late": 3,
        "low": 4,
    }
    assert places["low"].expected_wait == DEFAULT_HANDLING * 4
    assert desk_ports.queue.place(ids["low"], agents_online=2).expected_wait == DEFAULT_HANDLING * 2
    assert desk_ports.queue.place(ids["low"], agents_online=0).expected_wait == DEFAULT_HANDLING * 4


def test_a_handoff_an_agent_has_taken_stays_open_for_its_sender_out_of_the_queue(desk_ports: Backend) -> None:
    sam = desk_ports.sign_in("sam")
    taken = desk_ports.queue.request(new("web-1")).handoff.handoff_id
    waiting = desk_ports.queue.request(new("web-2")).handoff.handoff_id
    desk_ports.take(taken, sam)

    handoff = desk_ports.queue.open_for("web-1")
    assert handoff is not None and (handoff.handoff_id, handoff.status) == (taken, "assigned")
    assert (desk_ports.queue.place(taken).position, desk_ports.queue.place(taken).expected_wait) == (0, timedelta(0))
    again = desk_ports.queue.request(new("web-1"))
    assert (again.handoff.handoff_id, again.position) == (taken, 0)
    assert desk_ports.queue.place(waiting).position == 1  # the one still waiting moves up


def test_a_request_with_an_unknown_reason_or_a_place_of_an_unknown_handoff_is_refused(desk_ports: Backend) -> None:
    with pytest.raises(InvalidInput):
        desk_ports.queue.request(new("web-1", reason="bored"))
    assert desk_ports.queue.open_for("web-1") is None
    with pytest.raises(NotFound):
        desk_ports.queue.place(987654)


def test_agents_are_online_for_five_minutes_after_signing_in(desk_ports: Backend) -> None:
    assert list(desk_ports.roster.online_agents()) == []
    sam = desk_ports.sign_in("sam")
    desk_ports.clock.advance(minutes=2)
    kim = desk_ports.sign_in("kim")
    online = desk_ports.roster.online_agents()
    assert [a.agent_id for a in online] == [kim, sam]  # by name  # type: ignore[attr-defined]
    desk_ports.clock.advance(minutes=3, seconds=1)
    assert [a.agent_id for a in desk_ports.roster.online_agents()] == [kim]  # type: ignore[attr-defined]
    desk_ports.clock.advance(minutes=5)
    assert list(desk_ports.roster.online_agents()) == []
