"""The handoff desk's ports in memory: `HandoffQueue` (handoff/service.py's SqlHandoffService) and `AgentRoster`
(handoff/agents.py's SqlAgentService), for what `handoff.desk.HandoffDesk` asks of them.

The queue orders waiting handoffs as the SQL one does (value tier, then waiting time, then arrival) and, as
nothing is ever taken or closed here, expects each to take `DEFAULT_HANDLING`. The contract suite
(tests/integration/test_handoff_contract.py) holds both to the same tests as the SQL services.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from crm_adapter.domain import InvalidInput, NotAllowed, NotFound
from crm_adapter.rules import utcnow
from handoff.agents import Agent
from handoff.service import DEFAULT_HANDLING, OPEN, REASONS, TIER_RANKS, Handoff, NewHandoff, QueuePlace

ONLINE_WITHIN = timedelta(minutes=5)  # SqlAgentService.online_agents' default


@dataclass
class HandoffRecord:
    id: int
    sender_id: str
    channel: str
    customer_id: str | None
    reason: str
    status: str
    tier: str | None
    requested_at: datetime
    packet: dict[str, Any]
    agent_id: int | None = None

    @property
    def rank(self) -> tuple[int, datetime, int]:
        return (-TIER_RANKS.get(self.tier or "", 0), self.requested_at, self.id)


@dataclass
class SignedIn:
    agent: Agent
    last_seen_at: datetime


@dataclass
class MemoryHandoffStore:
    """The queue and who is signed in; tests read `handoffs` as they would read the handoffs table."""

    handoffs: list[HandoffRecord] = field(default_factory=list)
    signed_in: list[SignedIn] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def next_id(self) -> int:
        return next(self._ids)


class MemoryHandoffQueue:
    """Implements `handoff.desk.HandoffQueue` on a `MemoryHandoffStore`."""

    def __init__(self, store: MemoryHandoffStore, clock: Callable[[], datetime] = utcnow) -> None:
        self.store = store
        self._now = clock

    def request(self, new: NewHandoff, agents_online: int = 1) -> QueuePlace:
        if new.reason not in REASONS:
            raise InvalidInput("reason", f"A handoff reason is one of {', '.join(REASONS)}.")
        record = self._open(new.sender_id)
        if record is None:
            record = HandoffRecord(
                id=self.store.next_id(),
                sender_id=new.sender_id,
                channel=new.channel[:40],
                customer_id=new.customer_id,
                reason=new.reason,
                status="waiting",
                tier=new.tier,
                requested_at=self._now(),
                packet=new.packet,
            )
            self.store.handoffs.append(record)
        return self._place(record, agents_online)

    def take(self, handoff_id: int, agent_id: int) -> Handoff:
        record = next((h for h in self.store.handoffs if h.id == handoff_id), None)
        if record is None:
            raise NotFound(f"handoff {handoff_id}")
        if record.status == "waiting":
            record.status, record.agent_id = "assigned", agent_id
        elif not (record.status == "assigned" and record.agent_id == agent_id):
            raise NotAllowed(
                f"handoff {handoff_id} is {record.status}" + (" by someone else" if record.agent_id else "")
            )
        return _handoff(record)

    def open_for(self, sender_id: str) -> Handoff | None:
        record = self._open(sender_id)
        return _handoff(record) if record is not None else None

    def place(self, handoff_id: int, agents_online: int = 1) -> QueuePlace:
        record = next((h for h in self.store.handoffs if h.id == handoff_id), None)
        if record is None:
            raise NotFound(f"handoff {handoff_id}")
        return self._place(record, agents_online)

    def _open(self, sender_id: str) -> HandoffRecord | None:
        return next((h for h in self.store.handoffs if h.sender_id == sender_id and h.status in OPEN), None)

    def _place(self, record: HandoffRecord, agents_online: int) -> QueuePlace:
        if record.status != "waiting":
            return QueuePlace(_handoff(record), 0, timedelta(0))
        waiting = sorted((h for h in self.store.handoffs if h.status == "waiting"), key=lambda h: h.rank)
        position = waiting.index(record) + 1
        return QueuePlace(_handoff(record), position, DEFAULT_HANDLING * position / max(agents_online, 1))


class MemoryAgentRoster:
    """Implements `handoff.desk.AgentRoster`: agents are online for five minutes after they were last seen."""

    def __init__(self, store: MemoryHandoffStore, clock: Callable[[], datetime] = utcnow) -> None:
        self.store = store
        self._now = clock

    def sign_in(self, username: str, display_name: str | None = None) -> Agent:
        """An agent signs in to the console (seen now)."""
        agent = Agent(self.store.next_id(), username, display_name or username.title(), "agent", True)
        self.store.signed_in.append(SignedIn(agent, self._now()))
        return agent

    def online_agents(self) -> list[Agent]:
        now = self._now()
        seen = {s.agent.agent_id: s.agent for s in self.store.signed_in if s.last_seen_at >= now - ONLINE_WITHIN}
        return sorted(seen.values(), key=lambda a: (a.display_name, a.username))


def _handoff(record: HandoffRecord) -> Handoff:
    return Handoff(
        handoff_id=record.id,
        sender_id=record.sender_id,
        channel=record.channel,
        customer_id=record.customer_id,
        reason=record.reason,
        status=record.status,
        tier=record.tier,
        requested_at=record.requested_at,
        assigned_at=None,
        closed_at=None,
        agent_id=record.agent_id,
        packet=dict(record.packet),
        tags=(),
        close_note=None,
    )
