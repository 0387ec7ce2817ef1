"""Bringing in a person, on the in-memory CRM, relationship and handoff queue (tests/fakes/): each trigger, the
packet, the queue, the bot's silence and the nobody-available path. The queue's order and the agent's side of
a handoff are the SQL service's (tests/integration/test_handoff_sql.py)."""

from __future__ import annotations

from datetime import datetime

import pytest

from actions.common import REQUEST_SLOTS, REQUEST_WORKING_SLOTS
from actions.handoff import ActionHandback, ActionLeaveMessage, ActionRequestHuman
from actions.relationship import ActionAnswerPending
from actions.service import ActionFileComplaint
from handoff.desk import CallbackDesk, HandoffDesk
from handoff.service import OpeningHours
from hearth.container import get_handoff_desk, set_handoff_desk
from tests.bot import responses, run, slots_set, tracker
from tests.factories import NOW
from tests.fakes.handoff import HandoffRecord
from tests.fakes.relationship import ConsentRecord

pytestmark = pytest.mark.unit


def agent_online(crm, username: str = "sam") -> int:
    return crm.agents.sign_in(username).agent_id


def handoffs(crm) -> list[HandoffRecord]:
    return list(crm.handoff_store.handoffs)


def paused(events: list[dict]) -> bool:
    return any(e.get("event") == "pause" for e in events)


def verified(customer_id: str, **slots):
    return {"verified": True, "customer_id": customer_id, "customer_first_name": "Anna", **slots}


HISTORY = [
    {"event": "user", "text": "my lamp flickers", "parse_data": {"intent": {"name": "delivery_problem"}}},
    {"event": "bot", "text": "Sorry to hear that"},
]


@pytest.fixture
def anna(crm) -> str:
    customer = crm.arrange.add_customer(first_name="Anna", email="anna@example.com")
    crm.arrange.add_order(customer, "JH500001", status="shipped")
    return customer


def test_asking_for_a_person_queues_the_conversation_with_the_packet_and_pauses_the_bot(crm, anna):
    agent_online(crm)
    events, messages = run(
        ActionRequestHuman(),
        tracker(
            slots=verified(anna, order_number="JH500001"),
            text="I want a human",
            intent="request_human",
            events=HISTORY,
            channel="socketio",
        ),
    )
    assert responses(messages) == ["utter_handoff_queued"]
    assert messages[0]["position"] == 1 and messages[0]["wait"] == "4 minutes"  # one ahead of nobody, 4 min each
    assert paused(events) and slots_set(events)["handoff_id"]
    [row] = handoffs(crm)
    assert (row.reason, row.status, row.customer_id, row.channel) == ("asked", "waiting", anna, "socketio")
    packet = row.packet
    customer = packet["customer"]
    assert customer["customer_id"] == anna and customer["verified"] is True and customer["name"].startswith("Anna")
    assert (
        customer["value"]["tier"] in ("low", "standard", "high", "vip")
        and "purchases" in customer["value"]["explanation"]
    )
    assert set(customer["consents"]) == {"history", "service", "marketing"}
    assert "preferences" in customer and customer["sentiment_trend"]["direction"]
    conversation = packet["conversation"]
    assert [t["text"] for t in conversation["transcript"]] == [
        "my lamp flickers",
        "Sorry to hear that",
        "I want a human",
    ]
    assert conversation["intents"] == {"delivery_problem": 1, "request_human": 1}
    assert conversation["slots"]["order_number"] == "JH500001"
    assert "Asked for a person" in conversation["summary"] and "I want a human" in conversation["summary"]
    assert [o["order_number"] for o in packet["open_orders"]] == ["JH500001"]
    assert packet["open_tickets"] == []


def test_a_second_request_while_waiting_does_not_queue_twice(crm, anna):
    agent_online(crm)
    run(ActionRequestHuman(), tracker(slots=verified(anna), intent="request_human"))
    _, messages = run(ActionRequestHuman(), tracker(slots=verified(anna), intent="request_human"))
    assert responses(messages) == ["utter_handoff_already_queued"] and len(handoffs(crm)) == 1


def test_history_refused_keeps_no_transcript_in_the_packet(crm, anna):
    agent_online(crm)
    crm.relationship_store.consents.append(ConsentRecord(anna, "history", False, "chat", NOW))
    run(
        ActionRequestHuman(),
        tracker(slots=verified(anna), text="a person please", intent="request_human", events=HISTORY),
    )
    [row] = handoffs(crm)
    assert row.packet["conversation"]["transcript"] == []
    assert "my lamp" not in str(row.packet)


def test_a_strongly_negative_message_brings_in_a_person(crm, anna):
    agent_online(crm)
    # the escalation policy (bot/policies.py) predicts this action and says why in the slot
    t = tracker(
        slots=verified(anna, handoff_reason="negative_sentiment"),
        text="this is a disgrace, absolutely useless",
        intent="complain",
    )
    events, messages = run(ActionRequestHuman(), t)
    assert responses(messages) == ["utter_handoff_queued"] and "frustrating" in messages[0]["reason_text"]
    assert handoffs(crm)[0].reason == "negative_sentiment" and paused(events)


def test_two_fallbacks_in_a_row_bring_in_a_person_one_does_not(crm):
    agent_online(crm)
    first = [{"event": "user", "text": "blorp", "parse_data": {"intent": {"name": "nlu_fallback"}}}]
    _, messages = run(ActionAnswerPending(), tracker(text="zxcv", intent="nlu_fallback"))
    assert responses(messages) == ["utter_fallback_offer_human"] and handoffs(crm) == []
    events, messages = run(
        ActionAnswerPending(),
        tracker(text="zxcv", intent="nlu_fallback", events=[*first, {"event": "bot", "text": "Sorry?"}]),
    )
    assert responses(messages) == ["utter_handoff_queued"] and paused(events)
    assert handoffs(crm)[0].reason == "fallbacks" and handoffs(crm)[0].customer_id is None


def test_a_complaint_from_a_high_value_customer_goes_to_a_person(crm, anna):
    agent_online(crm)
    ben = crm.arrange.add_customer(first_name="Ben", email="ben@example.com")
    crm.arrange.add_order(anna, "JH500002", status="delivered", items=(("Dining set", 1, 260000),))
    _, messages = run(ActionFileComplaint(), tracker(slots=verified(ben, complaint_text="The chair wobbles badly")))
    assert responses(messages) == ["utter_complaint_logged"] and handoffs(crm) == []  # Ben: low value
    events, messages = run(
        ActionFileComplaint(), tracker(slots=verified(anna, complaint_text="The table arrived cracked"))
    )
    assert responses(messages) == ["utter_complaint_logged", "utter_handoff_queued"] and paused(events)
    [row] = handoffs(crm)
    assert (row.reason, row.tier) == ("vip_complaint", "high")


def test_with_nobody_online_the_bot_takes_a_message_that_becomes_a_ticket(crm, anna):
    events, messages = run(
        ActionRequestHuman(),
        tracker(slots=verified(anna), text="a person please", intent="request_human", events=HISTORY),
    )
    assert responses(messages) == ["utter_handoff_busy", "utter_ask_handoff_message"]
    assert not paused(events) and handoffs(crm) == []
    assert {"event": "active_loop", "name": "handoff_message_form"} in [
        {k: e.get(k) for k in ("event", "name")} for e in events
    ]
    events, messages = run(
        ActionLeaveMessage(),
        tracker(slots=verified(anna, handoff_message="Please call me about the lamp"), events=HISTORY),
    )
    assert responses(messages) == ["utter_handoff_message_taken"]
    assert "4 working hours" in messages[0]["reply_when"]
    [ticket] = crm.store.tickets
    assert ticket.kind == "callback" and ticket.customer_id == anna
    assert "Please call me about the lamp" in ticket.description and "my lamp flickers" in ticket.description


def test_outside_opening_hours_the_bot_says_when_people_are_back(crm, anna):
    agent_online(crm)
    desk = get_handoff_desk()
    assert isinstance(desk, HandoffDesk)
    sunday = datetime(2026, 11, 22, 12, 0)
    hours = OpeningHours.parse("mon-fri 09:00-17:00", "UTC")
    set_handoff_desk(HandoffDesk(desk.handoffs, desk.agents, hours, desk.crm, desk.profiles, clock=lambda: sunday))
    _, messages = run(ActionRequestHuman(), tracker(slots=verified(anna), intent="request_human"))
    assert responses(messages) == ["utter_handoff_closed", "utter_ask_handoff_message"]
    assert messages[0]["next_opening"] == "Monday at 09:00" and handoffs(crm) == []


def test_a_message_left_while_closed_says_when_people_are_back(crm, anna):
    desk = get_handoff_desk()
    assert isinstance(desk, HandoffDesk)
    sunday = datetime(2026, 11, 22, 12, 0)
    hours = OpeningHours.parse("mon-fri 09:00-17:00", "UTC")
    set_handoff_desk(HandoffDesk(desk.handoffs, desk.agents, hours, desk.crm, desk.profiles, clock=lambda: sunday))
    events, messages = run(ActionLeaveMessage(), tracker(slots=verified(anna, handoff_message="Call me back")))
    assert responses(messages) == ["utter_handoff_message_taken"]
    assert messages[0]["reply_when"] == "Our team will reply when they're back, Monday at 09:00."
    assert events == [{"event": "slot", "timestamp": None, "name": "handoff_message", "value": None}]


def test_with_an_external_crm_asking_for_a_person_files_a_callback_ticket(crm, anna):
    set_handoff_desk(CallbackDesk(crm.service))  # the SQL CRM standing in for an external one
    events, messages = run(
        ActionRequestHuman(),
        tracker(
            slots=verified(anna, order_number="JH500001"),
            text="a person please",
            intent="request_human",
            events=HISTORY,
        ),
    )
    assert responses(messages) == ["utter_human_callback"] and not paused(events)
    assert slots_set(events) == dict.fromkeys(REQUEST_SLOTS + REQUEST_WORKING_SLOTS)  # only the request is dropped
    [ticket] = crm.store.tickets
    assert (ticket.reference, ticket.kind, ticket.customer_id) == (messages[0]["reference"], "callback", anna)
    assert ticket.description.endswith("> my lamp flickers\n> a person please")
    _, messages = run(ActionRequestHuman(), tracker(sender_id="visitor", intent="request_human"))
    assert responses(messages) == ["utter_human_callback_anonymous"] and handoffs(crm) == []


def test_opening_hours_are_read_and_checked():
    hours = OpeningHours.parse("mon-fri 08:00-20:00; sat 09:00-17:00", "Europe/London")
    assert hours.is_open(datetime(2026, 11, 23, 10, 0))  # Monday 10:00 UTC = 10:00 London
    assert not hours.is_open(datetime(2026, 11, 23, 20, 30))
    assert not hours.is_open(datetime(2026, 11, 22, 12, 0))  # Sunday
    assert hours.next_opening(datetime(2026, 11, 22, 12, 0)).strftime("%a %H:%M") == "Mon 08:00"
    assert OpeningHours.parse("always").is_open(datetime(2026, 11, 22, 3, 0))
    with pytest.raises(ValueError, match="cannot read"):
        OpeningHours.parse("weekdays 9-5")


def test_the_handback_action_speaks_again_and_closes_the_handoff_slot(crm):
    events, messages = run(
        ActionHandback(),
        tracker(slots={"handoff_id": "7", "handoff_agent": "Sam Taylor", "handoff_outcome": "returned"}),
    )
    assert responses(messages) == ["utter_handback"] and messages[0]["agent"] == "Sam Taylor"
    assert slots_set(events)["handoff_id"] is None


def test_with_auto_assignment_the_customer_hears_who_is_coming(crm, anna):
    sam = crm.agents.sign_in("sam", "Sam Taylor").agent_id
    desk = get_handoff_desk()
    assert isinstance(desk, HandoffDesk)

    def assign(online: list[int]) -> list:
        waiting = [h for h in crm.handoff_store.handoffs if h.status == "waiting"]
        return [crm.handoffs.take(h.id, online[0]) for h in waiting]

    set_handoff_desk(HandoffDesk(desk.handoffs, desk.agents, desk.hours, desk.crm, desk.profiles, assign=assign))
    events, messages = run(ActionRequestHuman(), tracker(slots=verified(anna), intent="request_human"))
    assert responses(messages) == ["utter_handoff_assigned"] and messages[0]["agent"] == "Sam Taylor"
    assert paused(events)
    [row] = handoffs(crm)
    assert (row.status, row.agent_id) == ("assigned", sam)
