"""The handoff desk's rules on their own (handoff/desk.py), on the in-memory CRM, relationship and handoff
queue (tests/fakes/): the triggers, whether
someone is available, the queue place, the packet, the message ticket, and the desk for an external CRM."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from crm_adapter.domain import CrmUnavailable, InvalidInput, NotAllowed, NotFound, TicketKind
from handoff.desk import (
    CallbackDesk,
    Conversation,
    HandoffDesk,
    HandoffRequest,
    Result,
    Said,
    trigger_reason,
)
from handoff.service import OpeningHours
from tests.factories import NOW
from tests.fakes.relationship import ConsentRecord, MemoryRelationship

pytestmark = pytest.mark.unit
SUNDAY = datetime(2026, 11, 22, 12, 0)
MONDAY = datetime(2026, 11, 23, 10, 0)
LINES = (
    Said("customer", "my lamp flickers", 1.0),
    Said("bot", "Sorry to hear that", 2.0),
    Said("customer", "I want a human", 3.0),
)


def sign_in(crm, username: str = "sam") -> int:
    return crm.agents.sign_in(username).agent_id


def desk_for(crm, hours: str = "always", clock=None, profiles="real", assign=None) -> HandoffDesk:
    if profiles == "real":
        profiles = crm.relationship
    return HandoffDesk(
        crm.handoffs,
        crm.agents,
        OpeningHours.parse(hours, "UTC"),
        crm.service,
        profiles,
        clock=clock or crm.clock,
        assign=assign,
    )


def ask(reason: str = "asked", customer_id: str | None = None, sender: str = "sender-1", **more) -> HandoffRequest:
    conversation = Conversation(sender, "socketio", customer_id, verified=customer_id is not None, **more)
    return HandoffRequest(reason, conversation)


class Tiers:
    """The CRM's profiles with a value tier the test chooses (or failing the way the CRM can)."""

    def __init__(self, tier: str | None = None, error: Exception | None = None) -> None:
        self.tier, self.error = tier, error
        self.crm: MemoryRelationship | None = None

    def profile(self, customer_id: str):
        if self.error is not None:
            raise self.error
        assert self.crm is not None
        real = self.crm.profile(customer_id)
        return replace(real, value=replace(real.value, tier=self.tier))


def desk_with_tiers(crm, tiers: Tiers | None) -> HandoffDesk:
    if tiers is not None:
        tiers.crm = crm.relationship
    return desk_for(crm, profiles=tiers)


def test_the_message_itself_says_why_a_person_is_brought_in():
    assert trigger_reason("request_human", "negative_sentiment") == "asked"  # asking wins
    assert trigger_reason("complain", "negative_sentiment") == "negative_sentiment"  # the escalation policy
    assert trigger_reason("complain", None) == "asked"


@pytest.mark.parametrize("reason", ["asked", "fallbacks", "negative_sentiment"])
def test_every_trigger_but_a_complaint_brings_in_a_person_whatever_the_tier(crm, reason):
    sign_in(crm)
    outcome = desk_with_tiers(crm, Tiers("low")).bring_in(ask(reason, crm.arrange.add_customer()))
    assert (outcome.result, outcome.reason, outcome.position) == (Result.QUEUED, reason, 1)


@pytest.mark.parametrize(
    ("tiers", "verified", "result"),
    [
        (Tiers("vip"), True, Result.QUEUED),
        (Tiers("high"), True, Result.QUEUED),
        (Tiers("standard"), True, Result.NOT_TRIGGERED),
        (Tiers("low"), True, Result.NOT_TRIGGERED),
        (Tiers("vip"), False, Result.NOT_TRIGGERED),  # nobody verified: no tier to go by
        (Tiers(error=NotFound("customer")), True, Result.NOT_TRIGGERED),
        (Tiers(error=CrmUnavailable("down")), True, Result.NOT_TRIGGERED),
        (None, True, Result.NOT_TRIGGERED),  # no profiles: no tier to go by
    ],
)
def test_a_complaint_brings_in_a_person_only_from_a_high_value_customer(crm, tiers, verified, result):
    sign_in(crm)
    customer_id = crm.arrange.add_customer() if verified else None
    outcome = desk_with_tiers(crm, tiers).bring_in(ask("vip_complaint", customer_id))
    assert outcome.result is result
    if result is Result.QUEUED:
        handoff = crm.handoffs.place(outcome.handoff_id).handoff
        assert (handoff.reason, handoff.tier) == ("vip_complaint", tiers.tier)


def test_outside_opening_hours_nobody_is_available_until_the_next_opening(crm):
    sign_in(crm)
    outcome = desk_for(crm, "mon-fri 09:00-17:00", clock=lambda: SUNDAY).bring_in(ask("fallbacks"))
    assert outcome.result is Result.NOBODY_AVAILABLE and outcome.reason == "fallbacks"
    assert outcome.closed and outcome.hours == "mon-fri 09:00-17:00"
    assert outcome.next_opening is not None and outcome.next_opening.strftime("%A %H:%M") == "Monday 09:00"
    assert outcome.handoff_id is None


def test_within_opening_hours_with_nobody_signed_in_nobody_is_available(crm):
    outcome = desk_for(crm, "mon-fri 09:00-17:00", clock=lambda: MONDAY).bring_in(ask())
    assert (outcome.result, outcome.closed, outcome.next_opening) == (Result.NOBODY_AVAILABLE, False, None)
    assert crm.store.tickets == []  # a ticket only once the customer leaves a message


def test_the_queue_place_and_the_wait_count_who_is_ahead_and_who_is_online(crm):
    sign_in(crm, "sam")
    sign_in(crm, "kim")
    desk = desk_for(crm)
    first = desk.bring_in(ask(sender="first"))
    second = desk.bring_in(ask(sender="second"))
    assert (first.result, first.position, first.expected_wait) == (Result.QUEUED, 1, timedelta(minutes=2))
    assert (second.position, second.expected_wait) == (2, timedelta(minutes=4))  # 4 min each, two agents
    again = desk.bring_in(ask(sender="second"))
    assert (again.result, again.handoff_id, again.position) == (Result.ALREADY_QUEUED, second.handoff_id, 2)


def test_a_conversation_an_agent_already_has_is_already_queued_at_place_one(crm):
    sign_in(crm)
    desk = desk_for(crm)
    queued = desk.bring_in(ask())
    assert queued.handoff_id is not None
    crm.handoffs.take(queued.handoff_id, 1)  # sam takes it in the console
    again = desk.bring_in(ask())
    assert (again.result, again.handoff_id, again.position) == (Result.ALREADY_QUEUED, queued.handoff_id, 1)


def test_an_unreachable_queue_is_unavailable(crm):
    class Down:
        def open_for(self, sender_id):
            raise CrmUnavailable("the database is down")

    desk = desk_for(crm)
    desk.handoffs = Down()  # type: ignore[assignment]
    assert desk.bring_in(ask()).result is Result.UNAVAILABLE


def test_the_packet_has_the_customer_their_open_orders_and_tickets_and_the_conversation(crm):
    anna = crm.arrange.add_customer(first_name="Anna", email="anna@example.com")
    crm.arrange.add_order(anna, "JH500001", status="shipped")
    crm.arrange.add_order(anna, "JH500002", status="delivered")
    crm.arrange.add_order(anna, "JH500003", status="cancelled")
    crm.arrange.add_ticket(anna, "Lamp flickers")
    crm.arrange.add_ticket(anna, "Old one", status="resolved")
    request = ask(
        "negative_sentiment",
        anna,
        transcript=LINES,
        intents=("delivery_problem", "request_human"),
        slots={"order_number": "JH500001", "return_reason": None},
        sentiment_now=-0.8,
    )
    packet, tier = desk_for(crm).packet(request)
    assert tier == packet["customer"]["value"]["tier"] and packet["customer"]["customer_id"] == anna
    assert packet["customer"]["verified"] is True and packet["reason"] == "negative_sentiment"
    assert [o["order_number"] for o in packet["open_orders"]] == ["JH500001"]  # delivered and cancelled are not open
    assert [t["subject"] for t in packet["open_tickets"]] == ["Lamp flickers"]
    conversation = packet["conversation"]
    assert conversation["transcript"] == [
        {"who": "customer", "text": "my lamp flickers", "at": 1.0},
        {"who": "bot", "text": "Sorry to hear that", "at": 2.0},
        {"who": "customer", "text": "I want a human", "at": 3.0},
    ]
    assert conversation["intents"] == {"delivery_problem": 1, "request_human": 1}
    assert conversation["slots"] == {"order_number": "JH500001"} and conversation["sentiment_now"] == -0.8


def test_the_packet_keeps_no_transcript_for_a_customer_who_refused_history(crm):
    anna = crm.arrange.add_customer()
    crm.relationship_store.consents.append(ConsentRecord(anna, "history", False, "chat", NOW))
    packet, _ = desk_for(crm).packet(ask(customer_id=anna, transcript=LINES))
    assert packet["conversation"]["transcript"] == [] and "my lamp" not in str(packet)


def test_the_packet_of_a_visitor_names_nobody(crm):
    packet, tier = desk_for(crm).packet(ask(transcript=LINES))
    assert (packet["customer"], packet["open_orders"], packet["open_tickets"], tier) == (None, [], [], None)
    assert "not identified" in packet["conversation"]["summary"]
    assert len(packet["conversation"]["transcript"]) == 3


def test_a_queued_handoff_carries_the_packet_and_the_tier(crm):
    sign_in(crm)
    anna = crm.arrange.add_customer()
    outcome = desk_for(crm).bring_in(ask("asked", anna, transcript=LINES))
    assert outcome.handoff_id is not None
    handoff = crm.handoffs.place(outcome.handoff_id).handoff
    assert (handoff.reason, handoff.customer_id, handoff.channel) == ("asked", anna, "socketio")
    assert handoff.tier == handoff.packet["customer"]["value"]["tier"]


def test_a_message_for_the_team_becomes_a_ticket_with_the_conversation(crm):
    anna = crm.arrange.add_customer()
    many = tuple(Said("customer", f"line {n}") for n in range(25))
    taken = desk_for(crm).take_message(Conversation("sender-1", "socketio", anna, True, many), "Please call me")
    assert taken.reference and taken.back_at is None  # always open: no "when they're back"
    [ticket] = crm.store.tickets
    assert (ticket.reference, ticket.kind, ticket.customer_id) == (taken.reference, "callback", anna)
    assert (ticket.subject, ticket.channel, ticket.sender_id) == ("Message: Please call me", "socketio", "sender-1")
    assert ticket.description.startswith("Message for the team: Please call me\n\nThe conversation:\n")
    said = ticket.description.split("The conversation:\n")[1].splitlines()
    assert said == [f"customer: line {n}" for n in range(5, 25)]  # the last 20 lines


def test_a_message_left_while_closed_says_when_people_are_back(crm):
    taken = desk_for(crm, "mon-fri 09:00-17:00", clock=lambda: SUNDAY).take_message(
        Conversation("sender-1", "socketio", None), "Call me"
    )
    assert taken.back_at is not None and taken.back_at.strftime("%A %H:%M") == "Monday 09:00"
    assert (
        desk_for(crm, "mon-fri 09:00-17:00", clock=lambda: MONDAY)
        .take_message(Conversation("sender-2", "socketio", None), "Call me")
        .back_at
        is None
    )


def test_a_message_is_not_lost_when_the_crm_is_down(crm_down):
    desk = CallbackDesk(crm_down)
    assert desk.take_message(Conversation("sender-1", "socketio", None), "Call me").reference is None


def test_with_an_external_crm_a_request_for_a_person_is_a_callback_ticket(crm):
    anna = crm.arrange.add_customer()
    said = (*LINES, *(Said("customer", f"more {n}") for n in range(5)))
    outcome = CallbackDesk(crm.service).bring_in(ask("fallbacks", anna, transcript=said))
    assert (outcome.result, outcome.customer_known) == (Result.CALLBACK, True)
    [ticket] = crm.store.tickets
    assert (ticket.reference, ticket.kind, ticket.subject) == (
        outcome.ticket_reference,
        TicketKind.CALLBACK.value,
        "Customer asked for a person",
    )
    assert ticket.description == "Customer asked for a person. Last messages:\n" + "\n".join(
        f"> more {n}" for n in range(5)
    )  # the customer's last five
    visitor = CallbackDesk(crm.service).bring_in(ask(sender="visitor"))
    assert (visitor.result, visitor.customer_known) == (Result.CALLBACK, False)


def test_with_an_external_crm_a_complaint_brings_in_nobody_and_a_crm_outage_is_said(crm_down):
    assert CallbackDesk(crm_down).bring_in(ask("vip_complaint", "cus_x")).result is Result.NOT_TRIGGERED
    assert CallbackDesk(crm_down).bring_in(ask()).result is Result.CALLBACK_FAILED


def test_a_reason_outside_the_four_triggers_is_refused(crm):
    sign_in(crm)
    with pytest.raises(InvalidInput):
        desk_for(crm).bring_in(ask("bored"))


def test_an_agent_steps_into_a_live_conversation_with_its_packet_and_has_it_at_once(crm):
    sam = sign_in(crm)
    customer = crm.arrange.add_customer("Nora", "Quist")
    desk = desk_for(crm)
    conversation = Conversation("tg-nora", "telegram", customer, verified=True, transcript=LINES, intents=("faq",))
    joined = desk.step_in(conversation, sam)
    assert (joined.status, joined.agent_id, joined.reason) == ("assigned", sam, "agent_joined")
    assert joined.reason_label == "an agent stepped in"
    assert joined.packet["customer"]["name"] == "Nora Quist" and joined.packet["reason"] == "agent_joined"
    assert [line["text"] for line in joined.packet["conversation"]["transcript"]] == [s.text for s in LINES]
    # someone is on it now: nobody else steps in, and the customer asking for a person finds it with the agent
    with pytest.raises(NotAllowed):
        desk.step_in(conversation, sign_in(crm, "kim"))
    again = desk.bring_in(ask(customer_id=customer, sender="tg-nora"))
    assert (again.result, again.handoff_id) == (Result.ALREADY_QUEUED, joined.handoff_id)


def test_auto_assignment_is_asked_with_who_is_online_and_its_answer_named(crm):
    sam = crm.agents.sign_in("sam", "Sam Taylor").agent_id
    asked: list[list[int]] = []

    def nobody_has_room(online: list[int]) -> list:
        asked.append(list(online))
        return []

    waiting = desk_for(crm, assign=nobody_has_room).bring_in(ask())
    assert (waiting.result, waiting.agent_name, waiting.position) == (Result.QUEUED, None, 1)
    assert asked == [[sam]]

    def first_online_takes_it(online: list[int]) -> list:
        return [crm.handoffs.take(h.id, online[0]) for h in crm.handoff_store.handoffs if h.status == "waiting"]

    given = desk_for(crm, assign=first_online_takes_it).bring_in(ask(sender="sender-2"))
    assert (given.result, given.agent_name, given.position) == (Result.QUEUED, "Sam Taylor", 0)
