"""Session start, greeting, logout: the bot recognises returning customers and forgets on request."""

from __future__ import annotations

import pytest

from actions.session import ActionGreet, ActionLogout, ActionSessionStart
from tests.bot import responses, run, slots_set, tracker

pytestmark = pytest.mark.unit


def test_session_start_recognises_a_linked_channel_account(crm):
    anna = crm.arrange.add_customer(first_name="Anna")
    crm.arrange.add_identity(anna, "rest", "anna-phone")
    ticket = crm.arrange.add_ticket(anna, "Item arrived scratched")

    events, messages = run(ActionSessionStart(), tracker(sender_id="anna-phone", channel="rest", sender_proven=True))

    assert [e["event"] for e in events] == ["session_started", "slot"] + ["slot"] * 6 + ["action"]
    assert events[-1]["name"] == "action_listen"
    assert slots_set(events) == {
        "session_started_metadata": {"channel": "rest", "sender_proven": True},
        "customer_id": anna,
        "customer_first_name": "Anna",
        "verified": True,
        "highlight_kind": "open_ticket",
        "highlight_reference": ticket,
        "highlight_detail": "Item arrived scratched",
    }
    assert messages == []


def test_the_same_sender_id_on_another_channel_is_a_stranger(crm):
    anna = crm.arrange.add_customer()
    crm.arrange.add_identity(anna, "rest", "anna-phone")

    events, _ = run(ActionSessionStart(), tracker(sender_id="anna-phone", channel="telegram"))

    assert "customer_id" not in slots_set(events)


def test_highlight_is_an_order_in_progress_when_no_ticket_is_open(crm):
    omar = crm.arrange.add_customer(first_name="Omar")
    crm.arrange.add_identity(omar, "rest", "omar")
    crm.arrange.add_order(omar, "JH300001", status="shipped", items=(("Brass floor lamp", 1, 12900),))

    events, _ = run(ActionSessionStart(), tracker(sender_id="omar", sender_proven=True))

    slots = slots_set(events)
    assert (slots["highlight_kind"], slots["highlight_reference"], slots["highlight_detail"]) == (
        "order_in_progress",
        "JH300001",
        "Brass floor lamp",
    )


def test_session_start_goes_on_anonymously_when_the_crm_is_down(crm_down):
    events, messages = run(ActionSessionStart(), tracker(sender_id="anyone"))

    assert [e["event"] for e in events] == ["session_started", "slot", "action"]
    assert messages == []


@pytest.mark.parametrize(
    ("slots", "expected"),
    [
        ({}, "utter_greet_anonymous"),
        ({"customer_first_name": "Anna"}, "utter_greet_known"),
        ({"customer_first_name": "Anna", "highlight_kind": "open_ticket"}, "utter_greet_known_open_ticket"),
        ({"customer_first_name": "Anna", "highlight_kind": "order_delivered"}, "utter_greet_known_order_delivered"),
    ],
)
def test_greeting_is_personal_when_the_customer_is_known(slots, expected):
    events, messages = run(ActionGreet(), tracker(slots=slots, intent="greet"))
    assert responses(messages) == [expected]


def test_the_highlight_is_mentioned_once_per_session():
    events, _ = run(ActionGreet(), tracker(slots={"customer_first_name": "Anna", "highlight_kind": "open_ticket"}))
    assert slots_set(events) == {"highlight_kind": None}


def test_logout_forgets_the_channel_account(crm):
    anna = crm.arrange.add_customer()
    crm.arrange.add_identity(anna, "rest", "anna-phone")

    events, messages = run(
        ActionLogout(), tracker(slots={"customer_id": anna, "verified": True}, sender_id="anna-phone", intent="logout")
    )

    assert responses(messages) == ["utter_logged_out"]
    assert slots_set(events)["verified"] is False and slots_set(events)["customer_id"] is None
    assert crm.store.identities == {}


def test_stopping_a_request_forgets_what_it_collected():
    from actions.service import ActionStopRequest

    t = tracker(
        slots={"new_email": "x@example.com", "order_number": "JH1", "identity_email": "a@example.com"}, intent="stop"
    )
    events, messages = run(ActionStopRequest(), t)

    assert responses(messages) == ["utter_stop_ok"]
    cleared = slots_set(events)
    assert cleared["new_email"] is None and cleared["order_number"] is None
    assert cleared["identity_email"] is None  # not verified yet: start verification afresh next time


def test_stopping_keeps_a_verified_customer_verified():
    from actions.service import ActionStopRequest

    events, _ = run(ActionStopRequest(), tracker(slots={"verified": True, "customer_id": "c1"}, intent="stop"))
    assert "verified" not in slots_set(events) and "customer_id" not in slots_set(events)
