"""One customer's data never reaches another: session start on a shared sender id, linked messaging accounts,
and the limits on guessing a proof of identity across conversations, on the in-memory CRM (tests/fakes/).

The end-to-end attacks are in tests/e2e/test_customer_isolation.py; these pin the rules they rely on.
"""

from __future__ import annotations

import pytest
from rasa_sdk import Tracker

from actions.forms import ValidateIdentifyForm
from actions.orders import ActionCheckOrderStatus, ActionListOrders
from actions.session import ActionSessionStart
from crm_adapter.domain import CodeRequired, VerificationFailed
from crm_adapter.rules import CODE_MAX_ATTEMPTS, CODES_PER_WINDOW, MAX_ORDER_FAILURES, address_key
from tests.bot import responses, run, slots_set, tracker

pytestmark = pytest.mark.unit
CHAT = "5377000001"  # a Telegram chat id: also a valid REST sender id or web chat session id


@pytest.fixture
def omar(crm) -> str:
    customer = crm.arrange.add_customer(first_name="Omar", last_name="Haddad", email="omar@example.com")
    crm.arrange.add_order(customer, "JH300002", status="delivered", delivered_days_ago=2)
    return customer


# ---- session start on a sender id another channel used ----------------------------------------


def test_a_session_started_from_another_channel_is_not_recognised_by_the_previous_ones_link(crm, anna):
    """The tracker's latest message at session start is still the previous session's (here: Anna's, on the
    Telegram chat she linked); the session belongs to the channel of the message that starts it."""
    crm.arrange.add_identity(anna, "telegram", CHAT)
    started_on_slack = {"channel": "slack", "sender_proven": True}
    started_on_slack_chat = tracker(
        sender_id=CHAT, channel="telegram", slots={"session_started_metadata": started_on_slack}
    )

    events, messages = run(ActionSessionStart(), started_on_slack_chat)

    assert "customer_id" not in slots_set(events) and messages == []
    events, _ = run(ActionSessionStart(), tracker(sender_id=CHAT, channel="telegram", sender_proven=True))
    assert slots_set(events)["customer_id"] == anna  # on Telegram itself she is still recognised


def test_a_linked_sender_id_is_a_stranger_when_the_channel_does_not_vouch_for_it(crm, anna):
    """The REST caller names the sender id: a seeded REST sender id, sent by an integration that does not vouch
    for its users (or with the flag forged in the body, which the connector strips), is nobody until verified."""
    crm.arrange.add_identity(anna, "rest", "demo-anna")

    events, messages = run(ActionSessionStart(), tracker(sender_id="demo-anna", channel="rest"))

    assert "customer_id" not in slots_set(events) and "verified" not in slots_set(events) and messages == []
    events, _ = run(ActionSessionStart(), tracker(sender_id="demo-anna", channel="rest", sender_proven=True))
    assert slots_set(events)["customer_id"] == anna  # an integration that signs its users in may name them


def website_session_start(customer_id: str, sign_in: str | None) -> Tracker:
    """A web chat session starting with a message whose website token the connector checked (bot/channels.py)."""
    identity = {"customer_id": customer_id, "source": "website", **({"sign_in": sign_in} if sign_in else {})}
    metadata = {"channel": "socketio", "identity": identity}
    return tracker(sender_id=CHAT, channel="socketio", slots={"session_started_metadata": metadata})


def test_a_website_identity_starting_the_session_wins_over_a_previous_link(crm, anna, omar):
    crm.arrange.add_identity(anna, "socketio", CHAT)  # cannot be made by the bot; here as the worst case
    events, _ = run(ActionSessionStart(), website_session_start(omar, crm.sign_ins.start(omar, 3600)))
    assert slots_set(events)["customer_id"] == omar and slots_set(events)["customer_first_name"] == "Omar"


def test_a_token_whose_website_sign_in_has_ended_recognises_nobody(crm, anna):
    """Finding 8: a token kept from before the customer signed out named them for the rest of its hour."""
    sign_in = crm.sign_ins.start(anna, 3600)
    events, _ = run(ActionSessionStart(), website_session_start(anna, sign_in))
    assert slots_set(events)["customer_id"] == anna

    crm.sign_ins.end(sign_in)  # signed out on the website

    events, messages = run(ActionSessionStart(), website_session_start(anna, sign_in))
    assert "customer_id" not in slots_set(events) and "verified" not in slots_set(events) and messages == []


def test_a_token_whose_sign_in_lapsed_or_is_someone_elses_or_missing_recognises_nobody(crm, anna, omar):
    lapsed, his = crm.sign_ins.start(anna, 60), crm.sign_ins.start(omar, 3600)
    crm.clock.advance(seconds=61)
    for customer_id, sign_in in ((anna, lapsed), (anna, his), (anna, None), (anna, "si_unknown")):
        events, _ = run(ActionSessionStart(), website_session_start(customer_id, sign_in))
        assert "customer_id" not in slots_set(events), sign_in


def test_a_website_identity_is_not_recognised_while_the_sign_ins_cannot_be_checked(crm, anna):
    sign_in = crm.sign_ins.start(anna, 3600)
    crm.store.down = True
    events, _ = run(ActionSessionStart(), website_session_start(anna, sign_in))
    assert "customer_id" not in slots_set(events)


# ---- a linked messaging account sees its own customer only ----------------------------------------


def test_a_linked_telegram_account_cannot_read_another_customers_order(crm, anna, omar):
    crm.arrange.add_identity(anna, "telegram", CHAT)
    events, _ = run(ActionSessionStart(), tracker(sender_id=CHAT, channel="telegram", sender_proven=True))
    recognised = {k: v for k, v in slots_set(events).items() if k in ("customer_id", "verified")}
    assert recognised == {"customer_id": anna, "verified": True}

    asked = tracker(slots={**recognised, "order_number": "JH300002"}, sender_id=CHAT, channel="telegram")
    _, messages = run(ActionCheckOrderStatus(), asked)
    assert responses(messages)[0] == "utter_order_number_unknown"
    assert "Omar" not in str(messages) and "Fiddle" not in str(messages)

    _, messages = run(ActionListOrders(), tracker(slots=recognised, sender_id=CHAT, channel="telegram"))
    assert "JH300001" in messages[0]["orders"] and "JH300002" not in messages[0]["orders"]


# ---- guessing a proof across conversations -------------------------------------------------------


def failures(crm, email: str) -> int:
    """The wrong order numbers counted for an address (kept under its keyed hash, never as typed)."""
    key = address_key(b"memory", email)
    return sum(1 for f in crm.store.failures if f.address_key == key)


def test_wrong_order_numbers_for_an_address_leave_its_owner_a_code(crm, anna):
    """Security finding 4: ten wrong order numbers from fresh conversations no longer lock the customer out."""
    for n in range(MAX_ORDER_FAILURES):  # however many conversations they come from
        with pytest.raises(VerificationFailed):
            crm.service.verify_with_order("anna@example.com", f"JH9{n:05d}")
    assert failures(crm, "anna@example.com") == MAX_ORDER_FAILURES
    assert all("anna" not in f.address_key for f in crm.store.failures)  # no address is kept

    with pytest.raises(CodeRequired):  # no order number is taken for the address now, not even the right one ...
        crm.service.verify_with_order("anna@example.com", "JH300001")
    crm.service.send_one_time_code("anna@example.com")
    code = crm.codes.last_code_for("anna@example.com") or ""
    assert crm.service.verify_one_time_code("anna@example.com", code).customer_id == anna  # ... but the code works
    assert failures(crm, "anna@example.com") == MAX_ORDER_FAILURES  # nothing more is counted meanwhile

    crm.clock.advance(hours=1, seconds=1)
    assert crm.service.verify_with_order("anna@example.com", "JH300001").customer_id == anna


def test_wrong_codes_do_not_count_towards_the_order_limit(crm, anna):
    crm.service.send_one_time_code("anna@example.com")
    code = crm.codes.last_code_for("anna@example.com") or ""
    for n in range(CODE_MAX_ATTEMPTS):
        with pytest.raises(VerificationFailed):
            crm.service.verify_one_time_code("anna@example.com", f"{(int(code) + n + 1) % 1_000_000:06d}")
    with pytest.raises(VerificationFailed):  # the code has had its guesses: the right one fails
        crm.service.verify_one_time_code("anna@example.com", code)
    assert failures(crm, "anna@example.com") == 0
    assert crm.service.verify_with_order("anna@example.com", "JH300001").customer_id == anna


def test_an_unknown_email_or_someone_elses_order_counts_against_that_address_only(crm, anna, omar):
    with pytest.raises(VerificationFailed):
        crm.service.verify_with_order("nobody@example.com", "JH300001")
    with pytest.raises(VerificationFailed):
        crm.service.verify_with_order("anna@example.com", "JH300002")  # Omar's order, Anna's email
    counted = (
        failures(crm, "anna@example.com"),
        failures(crm, "omar@example.com"),
        failures(crm, "nobody@example.com"),
    )
    assert counted == (1, 0, 1)


def _proof(slots: dict, **message):
    """A customer answers the identify form's proof question; returns (events, messages)."""
    asked = {"requested_slot": "identity_proof", **slots}
    return run(ValidateIdentifyForm(), tracker(slots=asked, active_loop="identify_form", **message))


def test_a_stepped_up_conversation_is_asked_for_the_emailed_code_and_verifies_with_it(crm, anna):
    for n in range(MAX_ORDER_FAILURES):
        with pytest.raises(VerificationFailed):
            crm.service.verify_with_order("anna@example.com", f"JH9{n:05d}")
    email = {"identity_email": "anna@example.com"}

    events, messages = _proof(email, text="JH300001", entities=[("order_number", "JH300001")])

    assert responses(messages) == ["utter_identity_code_required"]
    assert slots_set(events) == {"identity_proof": None, "otp_sent": True}
    code = crm.codes.last_code_for("anna@example.com") or ""
    events, messages = _proof({**email, "otp_sent": True}, text=code, entities=[("otp_code", code)])
    assert slots_set(events)["customer_id"] == anna and slots_set(events)["identity_proof"] == "verified"


def test_asking_for_a_code_answers_alike_for_an_address_on_file_or_not(crm, anna):
    answers = [
        _proof({"identity_email": email}, text="email me a code", intent="request_code")
        for email in ("anna@example.com", "nobody@example.com")
    ]
    assert answers[0] == answers[1]
    assert [address for address, _ in crm.codes.sent] == ["anna@example.com"]


def test_at_most_a_few_codes_an_hour_are_emailed(crm, anna):
    for _ in range(CODES_PER_WINDOW + 3):
        crm.service.send_one_time_code("anna@example.com")
    assert len(crm.codes.sent) == CODES_PER_WINDOW
    crm.clock.advance(hours=1, seconds=1)
    crm.service.send_one_time_code("anna@example.com")
    assert len(crm.codes.sent) == CODES_PER_WINDOW + 1
