"""One customer across channels: a messaging account is linked to the customer record only with a one-time
code sent to the email on file and the customer's yes (on the in-memory CRM, tests/fakes/)."""

from __future__ import annotations

import pytest

from actions.orders import ActionListOrders
from actions.relationship import ActionAnswerPending
from actions.session import ActionConfirmIdentity, ActionSessionStart
from tests.bot import responses, run, slots_set, tracker

pytestmark = pytest.mark.unit
CHAT = "777000111"  # a Telegram chat id


def asked(*utterances: str) -> list[dict]:
    return [{"event": "bot", "text": "?", "metadata": {"utter_action": u}} for u in utterances]


def links(crm) -> list[tuple[str, str, str]]:
    return [(r.customer_id, r.channel, r.sender_id) for r in crm.store.identities.values()]


def verified(customer_id: str, by: str, **slots):
    return {"verified": True, "customer_id": customer_id, "customer_first_name": "Anna", "verified_by": by, **slots}


def answer(crm, slots: dict, question: str, channel: str = "telegram", **message):
    t = tracker(slots=slots, channel=channel, sender_id=CHAT, events=asked(question), **message)
    events, messages = run(ActionAnswerPending(), t)
    return slots_set(events), responses(messages), messages


def test_after_a_request_on_telegram_the_bot_offers_to_remember_the_account_once(crm, anna):
    events, messages = run(ActionListOrders(), tracker(slots=verified(anna, "order"), channel="telegram"))
    assert responses(messages) == ["utter_orders_list", "utter_ask_link_channel"]
    assert messages[1]["channel"] == "Telegram account"
    assert slots_set(events) == {"link_offered": True, "awaiting": "link_channel"}
    _, messages = run(ActionListOrders(), tracker(slots=verified(anna, "order", link_offered=True), channel="telegram"))
    assert "utter_ask_link_channel" not in responses(messages)
    assert links(crm) == []  # asking links nothing


def test_web_chat_is_never_offered_a_link(crm, anna):
    _, messages = run(ActionListOrders(), tracker(slots=verified(anna, "code"), channel="socketio"))
    assert "utter_ask_link_channel" not in responses(messages)
    _, messages = run(ActionConfirmIdentity(), tracker(slots=verified(anna, "code"), channel="socketio"))
    assert "utter_ask_link_channel" not in responses(messages)


def test_verified_by_code_a_yes_links_the_account(crm, anna):
    slots, said, _ = answer(
        crm, verified(anna, "code", awaiting="link_channel"), "utter_ask_link_channel", intent="affirm"
    )
    assert said == ["utter_channel_linked"] and slots["awaiting"] is None
    assert links(crm) == [(anna, "telegram", CHAT)]
    # the next conversation on this Telegram chat starts recognised
    events, _ = run(ActionSessionStart(), tracker(channel="telegram", sender_id=CHAT, sender_proven=True))
    assert slots_set(events)["customer_first_name"] == "Anna"


def test_a_no_links_nothing(crm, anna):
    slots, said, _ = answer(
        crm, verified(anna, "code", awaiting="link_channel"), "utter_ask_link_channel", intent="deny"
    )
    assert said == ["utter_link_declined"] and slots["awaiting"] is None
    assert links(crm) == []


def test_verified_by_order_number_a_yes_needs_the_emailed_code_first(crm, anna):
    slots, said, messages = answer(
        crm, verified(anna, "order", awaiting="link_channel"), "utter_ask_link_channel", intent="affirm"
    )
    assert said == ["utter_link_code_sent", "utter_ask_link_code"] and slots["awaiting"] == "link_code"
    assert messages[0]["email"] == "a***@example.com" and messages[0]["channel"] == "Telegram account"
    code = crm.codes.last_code_for("anna@example.com")
    assert code and links(crm) == []  # not linked on the yes alone

    waiting = verified(anna, "order", awaiting="link_code")
    wrong = "000000" if code != "000000" else "111111"
    slots, said, _ = answer(crm, waiting, "utter_ask_link_code", text=wrong, entities=[("otp_code", wrong)])
    assert said == ["utter_link_code_wrong", "utter_ask_link_code"] and slots == {"identity_attempts": 1}
    assert links(crm) == []

    slots, said, _ = answer(crm, waiting, "utter_ask_link_code", text=f"it's {code}")
    assert said == ["utter_channel_linked"] and slots["awaiting"] is None
    assert links(crm) == [(anna, "telegram", CHAT)]


def test_a_replayed_code_links_nothing(crm, anna):
    answer(crm, verified(anna, "order", awaiting="link_channel"), "utter_ask_link_channel", intent="affirm")
    code = crm.codes.last_code_for("anna@example.com")
    waiting = verified(anna, "order", awaiting="link_code")
    answer(crm, waiting, "utter_ask_link_code", text=code, entities=[("otp_code", code)])
    assert len(links(crm)) == 1
    crm.store.identities.clear()  # undo the link, then try the same code again from another chat
    t = tracker(slots=waiting, channel="telegram", sender_id="888", events=asked("utter_ask_link_code"), text=code)
    events, messages = run(ActionAnswerPending(), t)
    assert responses(messages) == ["utter_link_code_wrong", "utter_ask_link_code"]
    assert links(crm) == []


def test_an_expired_code_links_nothing(crm, anna):
    answer(crm, verified(anna, "order", awaiting="link_channel"), "utter_ask_link_channel", intent="affirm")
    code = crm.codes.last_code_for("anna@example.com")
    crm.clock.advance(minutes=11)
    _, said, _ = answer(crm, verified(anna, "order", awaiting="link_code"), "utter_ask_link_code", text=code)
    assert said == ["utter_link_code_wrong", "utter_ask_link_code"]
    assert links(crm) == []


def test_three_wrong_codes_stop_the_linking(crm, anna):
    answer(crm, verified(anna, "order", awaiting="link_channel"), "utter_ask_link_channel", intent="affirm")
    waiting = verified(anna, "order", awaiting="link_code", identity_attempts=2.0)
    slots, said, _ = answer(crm, waiting, "utter_ask_link_code", text="123456")
    assert said == ["utter_link_code_locked"] and slots["awaiting"] is None
    assert links(crm) == []


def test_someone_elses_code_does_not_link_to_me(crm, anna):
    ben = crm.arrange.add_customer(first_name="Ben", email="ben@example.com")
    crm.service.send_one_time_code("ben@example.com")
    bens_code = crm.codes.last_code_for("ben@example.com")
    answer(crm, verified(anna, "order", awaiting="link_channel"), "utter_ask_link_channel", intent="affirm")
    _, said, _ = answer(crm, verified(anna, "order", awaiting="link_code"), "utter_ask_link_code", text=bens_code)
    assert said == ["utter_link_code_wrong", "utter_ask_link_code"]
    assert links(crm) == [] and ben


def test_link_my_account_when_already_linked_says_so(crm, anna):
    crm.service.link_identity(anna, "telegram", CHAT)
    _, messages = run(
        ActionConfirmIdentity(), tracker(slots=verified(anna, "code"), channel="telegram", sender_id=CHAT)
    )
    assert "utter_channel_already_linked" in responses(messages)
    assert "utter_ask_link_channel" not in responses(messages)
