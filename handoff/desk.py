"""Bringing in a person: when a trigger brings one in, whether someone is available, the queue place and the
packet, and what happens when nobody is.

Triggers: the customer asks for a person; two fallbacks in a row; a strongly negative message (the escalation
policy, bot/policies.py, names it in the `handoff_reason` slot); a complaint from a high-value customer. With
our own CRM (`HandoffDesk`) the conversation joins the queue (handoff/service.py) when it is within opening
hours and an agent is signed in; otherwise nobody is available and the customer can leave a message, which
becomes a ticket. With an external CRM (`CallbackDesk`, CRM_BACKEND=http) there is no queue here: a callback
ticket is filed in that CRM.

Both desks take plain inputs (`HandoffRequest`, `Conversation`) and return plain outcomes; the actions map
an outcome to what the bot says.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from typing import Any, Protocol

from crm_adapter.domain import (
    OPEN_ORDER_STATUSES,
    CrmUnavailable,
    CustomerProfile,
    NewTicket,
    NotAllowed,
    NotFound,
    Order,
    Ticket,
    TicketKind,
)
from handoff.service import Handoff, NewHandoff, OpeningHours, QueuePlace, build_packet

log = logging.getLogger(__name__)

HIGH_VALUE_TIERS = ("vip", "high")  # a complaint from a customer in these value tiers brings in a person
PACKET_ORDERS = 20  # the latest orders looked at for the packet's open orders
CALLBACK_LAST_MESSAGES = 5  # the customer's last messages in a callback ticket
MESSAGE_LAST_LINES = 20  # the conversation's last lines in a message ticket


# ---- ports ------------------------------------------------------------------------------------


class HandoffQueue(Protocol):
    """The queue of conversations waiting for a person (handoff/service.py: SqlHandoffService)."""

    def open_for(self, sender_id: str) -> Handoff | None: ...
    def place(self, handoff_id: int, agents_online: int = 1) -> QueuePlace: ...
    def request(self, new: NewHandoff, agents_online: int = 1) -> QueuePlace: ...
    def take(self, handoff_id: int, agent_id: int) -> Handoff: ...


class OnlineAgent(Protocol):
    @property
    def agent_id(self) -> int: ...
    @property
    def display_name(self) -> str: ...


class AgentRoster(Protocol):
    """Who is signed in to the console (handoff/agents.py: SqlAgentService)."""

    def online_agents(self) -> Sequence[OnlineAgent]: ...


class CustomerRecords(Protocol):
    """What the desk reads and writes in the CRM (crm_adapter.ports.CrmService, either backend)."""

    def list_orders(self, customer_id: str, limit: int = 5) -> list[Order]: ...
    def list_tickets(self, customer_id: str, open_only: bool = False) -> list[Ticket]: ...
    def open_ticket(self, ticket: NewTicket) -> Ticket: ...


class Profiles(Protocol):
    """Customer profiles with value tier and consents (crm_adapter.ports.RelationshipService)."""

    def profile(self, customer_id: str) -> CustomerProfile: ...


# ---- inputs and outcomes ----------------------------------------------------------------------


@dataclass(frozen=True)
class Said:
    """One line of the conversation."""

    who: str  # customer | bot
    text: str
    at: float | None = None  # when, as the tracker stamps it


@dataclass(frozen=True)
class Conversation:
    sender_id: str
    channel: str
    customer_id: str | None  # the verified customer; None for a visitor who has not proved who they are
    verified: bool = False
    transcript: tuple[Said, ...] = ()  # this session's lines, oldest first
    intents: tuple[str, ...] = ()  # this session's intents, oldest first
    slots: Mapping[str, Any] = field(default_factory=dict)  # what the bot knows, for the agent
    sentiment_now: float | None = None  # the latest message's score


@dataclass(frozen=True)
class HandoffRequest:
    reason: str  # asked | fallbacks | negative_sentiment | vip_complaint | agent_joined
    conversation: Conversation


class Result(Enum):
    QUEUED = "queued"  # the conversation joined the queue: the bot pauses
    ALREADY_QUEUED = "already_queued"  # it was waiting already: the bot pauses
    NOBODY_AVAILABLE = "nobody_available"  # closed, or no agent signed in: the customer can leave a message
    UNAVAILABLE = "unavailable"  # the queue could not be reached
    CALLBACK = "callback"  # external CRM: a callback ticket was filed there
    CALLBACK_FAILED = "callback_failed"  # external CRM: it could not be reached
    NOT_TRIGGERED = "not_triggered"  # the trigger's rule says no person (a complaint from a customer of lower value)


@dataclass(frozen=True)
class HandoffOutcome:
    result: Result
    reason: str
    handoff_id: int | None = None
    position: int = 0  # 1 = next to be taken
    expected_wait: timedelta = timedelta(0)
    closed: bool = False  # nobody available because it is outside opening hours (else: nobody signed in)
    hours: str = ""  # the opening hours as written
    next_opening: datetime | None = None  # when people next answer (None when always open)
    ticket_reference: str | None = None  # the callback ticket
    customer_known: bool = False  # the callback ticket is on a customer's record
    agent_name: str | None = None  # auto-assignment gave it to this agent at once


@dataclass(frozen=True)
class MessageOutcome:
    """A message for the team: its ticket, or None when the CRM could not be reached (nothing was filed)."""

    reference: str | None
    back_at: datetime | None = None  # when people are back, if it is outside opening hours now


class Desk(Protocol):
    def bring_in(self, request: HandoffRequest) -> HandoffOutcome: ...
    def take_message(self, conversation: Conversation, message: str) -> MessageOutcome: ...


# ---- the rules --------------------------------------------------------------------------------


def trigger_reason(intent: str | None, policy_reason: str | None) -> str:
    """Why a person is brought in when the trigger is the message itself: the customer asked, or the
    escalation policy said why (e.g. negative_sentiment)."""
    if intent == "request_human":
        return "asked"
    return policy_reason or "asked"


def high_value(profiles: Profiles | None, customer_id: str | None) -> bool:
    """Whether the customer is in a high value tier; False when that cannot be known."""
    if not customer_id or profiles is None:
        return False
    try:
        return profiles.profile(customer_id).value.tier in HIGH_VALUE_TIERS
    except (CrmUnavailable, NotFound):
        return False


def triggered(request: HandoffRequest, profiles: Profiles | None) -> bool:
    """Every trigger brings in a person, except a complaint, which does only from a high-value customer."""
    return request.reason != "vip_complaint" or high_value(profiles, request.conversation.customer_id)


def _ticket(conversation: Conversation, subject: str, description: str) -> NewTicket:
    return NewTicket(
        kind=TicketKind.CALLBACK,
        subject=subject,
        description=description,
        customer_id=conversation.customer_id,
        channel=conversation.channel,
        sender_id=conversation.sender_id,
    )


def message_ticket(conversation: Conversation, message: str) -> NewTicket:
    """A message left for the team, with the conversation's last lines."""
    said = [f"{line.who}: {line.text}" for line in conversation.transcript][-MESSAGE_LAST_LINES:]
    description = f"Message for the team: {message}\n\nThe conversation:\n" + "\n".join(said)
    return _ticket(conversation, f"Message: {message[:80]}", description)


def callback_ticket(conversation: Conversation) -> NewTicket:
    """A request for a person as a callback ticket, with the customer's last messages."""
    last_words = [line.text for line in conversation.transcript if line.who == "customer"][-CALLBACK_LAST_MESSAGES:]
    description = "Customer asked for a person. Last messages:\n" + "\n".join(f"> {t}" for t in last_words)
    return _ticket(conversation, "Customer asked for a person", description)


def _file_message(crm: CustomerRecords, conversation: Conversation, message: str) -> Ticket | None:
    try:
        return crm.open_ticket(message_ticket(conversation, message))
    except CrmUnavailable:
        return None


def utcnow() -> datetime:
    return datetime.utcnow().replace(microsecond=0)


# ---- the desks --------------------------------------------------------------------------------


class HandoffDesk:
    """Our own CRM: the handoff queue, who is online, and the opening hours."""

    def __init__(
        self,
        handoffs: HandoffQueue,
        agents: AgentRoster,
        hours: OpeningHours,
        crm: CustomerRecords,
        profiles: Profiles | None,
        clock: Callable[[], datetime] | None = None,
        assign: Callable[[list[int]], Sequence[Handoff]] | None = None,
    ) -> None:
        """`assign` (SqlHandoffService.auto_assign, when HANDOFF_AUTO_ASSIGN is on) gives waiting conversations
        to the online agents with room, as soon as one is queued."""
        self.handoffs, self.agents, self.hours = handoffs, agents, hours
        self.crm, self.profiles = crm, profiles
        self._now = clock or utcnow
        self._assign = assign

    def bring_in(self, request: HandoffRequest) -> HandoffOutcome:
        """Queue the conversation for a person, or say why nobody can come."""
        if not triggered(request, self.profiles):
            return HandoffOutcome(Result.NOT_TRIGGERED, request.reason)
        try:
            return self._bring_in(request)
        except CrmUnavailable as exc:
            log.warning("handoff: CRM unavailable: %s", exc)
            return HandoffOutcome(Result.UNAVAILABLE, request.reason)

    def _bring_in(self, request: HandoffRequest) -> HandoffOutcome:
        conversation, reason = request.conversation, request.reason
        existing = self.handoffs.open_for(conversation.sender_id)
        online = len(self.agents.online_agents())
        if existing is not None:
            place = self.handoffs.place(existing.handoff_id, online)
            return HandoffOutcome(
                Result.ALREADY_QUEUED, reason, existing.handoff_id, max(place.position, 1), place.expected_wait
            )
        now = self._now()
        if not self.hours.is_open(now) or not online:
            closed = not self.hours.is_open(now)
            opening = self.hours.next_opening(now) if closed else None
            return HandoffOutcome(
                Result.NOBODY_AVAILABLE, reason, closed=closed, hours=self.hours.text, next_opening=opening
            )
        packet, tier = self.packet(request)
        new = NewHandoff(conversation.sender_id, conversation.channel, conversation.customer_id, reason, tier, packet)
        place = self.handoffs.request(new, online)
        handoff_id = place.handoff.handoff_id
        if self._assign is not None:
            present = {a.agent_id: a for a in self.agents.online_agents()}
            given = next((h for h in self._assign(list(present)) if h.handoff_id == handoff_id), None)
            if given is not None and given.agent_id in present:
                name = present[given.agent_id].display_name
                return HandoffOutcome(Result.QUEUED, reason, handoff_id, 0, timedelta(0), agent_name=name)
        return HandoffOutcome(Result.QUEUED, reason, handoff_id, place.position, place.expected_wait)

    def packet(self, request: HandoffRequest) -> tuple[dict[str, Any], str | None]:
        """(the packet an agent sees, the customer's value tier); the transcript is left out for a customer
        who refused history (the agent reads the live conversation in the console; nothing is kept)."""
        conversation = request.conversation
        customer_id = conversation.customer_id
        profile = orders = tickets = None
        if customer_id and self.profiles is not None:
            try:
                profile = self.profiles.profile(customer_id)
                orders = [
                    o for o in self.crm.list_orders(customer_id, PACKET_ORDERS) if o.status in OPEN_ORDER_STATUSES
                ]
                tickets = self.crm.list_tickets(customer_id, open_only=True)
            except NotFound:
                profile = None
        history_refused = profile is not None and profile.consents.history is False
        packet = build_packet(
            reason=request.reason,
            verified=conversation.verified,
            profile=profile,
            orders=orders or [],
            tickets=tickets or [],
            transcript=[] if history_refused else [asdict(line) for line in conversation.transcript],
            intents=list(conversation.intents),
            slots=dict(conversation.slots),
            sentiment_now=conversation.sentiment_now,
        )
        return packet, profile.value.tier if profile is not None else None

    def step_in(self, conversation: Conversation, agent_id: int) -> Handoff:
        """An agent joins a conversation the bot is having, before the customer asks: it skips the queue and is
        the agent's at once, with the packet a handoff would have. NotAllowed when a person is on it already."""
        if self.handoffs.open_for(conversation.sender_id) is not None:
            raise NotAllowed("with_a_person", "someone from the team is on this conversation already")
        packet, tier = self.packet(HandoffRequest("agent_joined", conversation))
        new = NewHandoff(
            conversation.sender_id, conversation.channel, conversation.customer_id, "agent_joined", tier, packet
        )
        place = self.handoffs.request(new, len(self.agents.online_agents()))
        return self.handoffs.take(place.handoff.handoff_id, agent_id)

    def take_message(self, conversation: Conversation, message: str) -> MessageOutcome:
        """Nobody was available: the customer's message, with the conversation, becomes a ticket."""
        created = _file_message(self.crm, conversation, message)
        if created is None:
            return MessageOutcome(None)
        now = self._now()
        return MessageOutcome(created.reference, None if self.hours.is_open(now) else self.hours.next_opening(now))


class CallbackDesk:
    """An external CRM (CRM_BACKEND=http): no queue here; a request for a person becomes a callback ticket in
    that CRM. Value tiers live in our own CRM, so a complaint alone brings in nobody."""

    def __init__(self, crm: CustomerRecords) -> None:
        self.crm = crm

    def bring_in(self, request: HandoffRequest) -> HandoffOutcome:
        if not triggered(request, None):
            return HandoffOutcome(Result.NOT_TRIGGERED, request.reason)
        try:
            created = self.crm.open_ticket(callback_ticket(request.conversation))
        except CrmUnavailable:
            return HandoffOutcome(Result.CALLBACK_FAILED, request.reason)
        return HandoffOutcome(
            Result.CALLBACK,
            request.reason,
            ticket_reference=created.reference,
            customer_known=created.customer_id is not None,
        )

    def take_message(self, conversation: Conversation, message: str) -> MessageOutcome:
        created = _file_message(self.crm, conversation, message)
        return MessageOutcome(created.reference if created is not None else None)
