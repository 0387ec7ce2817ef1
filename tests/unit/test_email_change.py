"""Changing the email on file (security finding 6): after an order number alone, a code to the current address
first; then a code to the new address, which reads the same whether the address is free or someone else's; the
address changes only with that code, and the old address is told (on the in-memory CRM, tests/fakes/)."""

from __future__ import annotations

import pytest

from actions.account import ActionUpdateContact
from actions.relationship import ActionAnswerPending
from crm_adapter.contact_changes import CHANGED_SUBJECT, TAKEN_SUBJECT
from crm_adapter.rules import EMAIL_CHANGES_PER_WINDOW
from tests.bot import responses, run, slots_set, tracker

pytestmark = pytest.mark.unit

NEW = "anna.new@example.com"


@pytest.fixture
def ben(crm) -> str:
    return crm.arrange.add_customer(first_name="Ben", email="ben@example.com")


def verified(customer_id: str, by: str | None, **slots):
    # consent_asked: these tests are about the request; the consent question after it has its own tests
    return {
        "verified": True,
        "customer_id": customer_id,
        "customer_first_name": "Anna",
        "verified_by": by,
        "consent_asked": True,
        **slots,
    }


def ask_to_change(customer_id: str, by: str | None, new_email: str = NEW):
    events, messages = run(ActionUpdateContact(), tracker(slots=verified(customer_id, by, new_email=new_email)))
    return slots_set(events), responses(messages), messages


def answer(slots: dict, question: str, text: str, **message):
    asked = [{"event": "bot", "text": "?", "metadata": {"utter_action": question}}]
    entities = [("otp_code", text)] if text.isdigit() else []
    t = tracker(slots=slots, text=text, events=asked, entities=entities, **message)
    events, messages = run(ActionAnswerPending(), t)
    return slots_set(events), responses(messages), messages


def email_of(crm, customer_id: str) -> str:
    return crm.store.customers[customer_id].email


def test_after_an_order_number_alone_a_code_goes_to_the_current_address_first(crm, anna):
    slots, said, messages = ask_to_change(anna, "order")

    assert said == ["utter_email_change_current_code_sent", "utter_ask_email_current_code"]
    assert messages[0]["email"] == "a***@example.com"
    assert slots["awaiting"] == "email_current_code" and slots["new_email"] == NEW
    assert [address for address, _ in crm.codes.sent] == ["anna@example.com"]  # nothing to the new address yet
    assert crm.email_changes.changes == [] and email_of(crm, anna) == "anna@example.com"


def test_an_order_number_alone_never_moves_the_account(crm, anna):
    """The attacker knows Anna's email and an order number, but not the code emailed to her."""
    slots, _, _ = ask_to_change(anna, "order")
    state = verified(anna, "order", awaiting="email_current_code", new_email=NEW)
    for attempt in (1, 2):
        slots, said, _ = answer(state, "utter_ask_email_current_code", "000000")
        assert said == ["utter_email_change_code_wrong", "utter_ask_email_current_code"]
        assert slots["identity_attempts"] == attempt and slots["awaiting"] == "email_current_code"
        state = {**state, "identity_attempts": float(attempt)}
    slots, said, _ = answer(state, "utter_ask_email_current_code", "000000")

    assert said == ["utter_email_change_locked"] and slots["awaiting"] is None and slots["new_email"] is None
    assert email_of(crm, anna) == "anna@example.com"
    assert NEW not in [address for address, _ in crm.codes.sent] and crm.notices.sent == []


def test_with_the_current_address_proved_the_new_one_confirms_and_the_old_one_is_told(crm, anna):
    ask_to_change(anna, "order")
    current_code = crm.codes.last_code_for("anna@example.com")
    state = verified(anna, "order", awaiting="email_current_code", new_email=NEW)

    slots, said, messages = answer(state, "utter_ask_email_current_code", current_code)

    assert said == ["utter_email_change_new_code_sent", "utter_ask_email_new_code"]
    assert messages[0]["email"] == "a***@example.com"
    assert slots["awaiting"] == "email_new_code" and slots["new_email"] is None
    assert email_of(crm, anna) == "anna@example.com"  # not before the new address's code
    new_code = crm.codes.last_code_for(NEW)

    slots, said, _ = answer(verified(anna, "order", awaiting="email_new_code"), "utter_ask_email_new_code", new_code)

    assert said == ["utter_email_changed"] and slots["awaiting"] is None
    assert email_of(crm, anna) == NEW
    [notice] = crm.notices.sent
    assert (notice.email, notice.subject) == ("anna@example.com", CHANGED_SUBJECT)
    assert "a***@example.com" in notice.body and NEW not in notice.body


def test_verified_by_a_code_the_new_address_gets_its_code_straight_away(crm, anna):
    slots, said, _ = ask_to_change(anna, "code")

    assert said == ["utter_email_change_new_code_sent", "utter_ask_email_new_code"]
    assert slots["awaiting"] == "email_new_code"
    assert [address for address, _ in crm.codes.sent] == [NEW]
    assert email_of(crm, anna) == "anna@example.com"


def test_a_wrong_code_from_the_new_address_changes_nothing(crm, anna):
    ask_to_change(anna, "code")
    right = crm.codes.last_code_for(NEW)
    wrong = "111111" if right != "111111" else "222222"

    slots, said, _ = answer(verified(anna, "code", awaiting="email_new_code"), "utter_ask_email_new_code", wrong)

    assert said == ["utter_email_change_code_wrong", "utter_ask_email_new_code"]
    assert slots["awaiting"] == "email_new_code" and slots["identity_attempts"] == 1
    assert email_of(crm, anna) == "anna@example.com" and crm.notices.sent == []


def test_a_taken_address_reads_exactly_like_a_free_one_and_never_changes_anything(crm, anna, ben):
    free_slots, free_said, free_messages = ask_to_change(anna, "code", "someone.new@example.com")
    taken_slots, taken_said, taken_messages = ask_to_change(anna, "code", "ben@example.com")

    assert taken_said == free_said == ["utter_email_change_new_code_sent", "utter_ask_email_new_code"]
    assert taken_slots == free_slots
    assert [m["email"] for m in taken_messages] == ["b***@example.com", "b***@example.com"]
    assert [m["email"] for m in free_messages] == ["s***@example.com", "s***@example.com"]
    assert [address for address, _ in crm.codes.sent] == ["someone.new@example.com"]  # no code to Ben's address
    [notice] = crm.notices.sent
    assert (notice.email, notice.subject) == ("ben@example.com", TAKEN_SUBJECT)  # Ben hears someone tried
    for guess in ("123456", crm.codes.last_code_for("someone.new@example.com")):
        _, said, _ = answer(verified(anna, "code", awaiting="email_new_code"), "utter_ask_email_new_code", guess)
        assert said == ["utter_email_change_code_wrong", "utter_ask_email_new_code"]
    assert (email_of(crm, anna), email_of(crm, ben)) == ("anna@example.com", "ben@example.com")


def test_a_no_cancels_the_change(crm, anna):
    ask_to_change(anna, "code")
    code = crm.codes.last_code_for(NEW)
    slots, said, _ = answer(
        verified(anna, "code", awaiting="email_new_code"), "utter_ask_email_new_code", "no", intent="deny"
    )
    assert said == ["utter_email_change_cancelled"] and slots["awaiting"] is None

    _, said, _ = answer(verified(anna, "code", awaiting="email_new_code"), "utter_ask_email_new_code", code)
    assert said == ["utter_email_change_code_wrong", "utter_ask_email_new_code"]
    assert email_of(crm, anna) == "anna@example.com"


def test_the_current_address_again_changes_nothing(crm, anna):
    slots, said, _ = ask_to_change(anna, "order", "Anna@Example.com")
    assert said == ["utter_email_unchanged"] and slots["awaiting"] is None
    assert crm.codes.sent == [] and crm.email_changes.changes == []


def test_codes_to_new_addresses_are_limited_per_customer(crm, anna):
    for n in range(EMAIL_CHANGES_PER_WINDOW + 2):
        _, said, _ = ask_to_change(anna, "code", f"new{n}@example.com")
        assert said == ["utter_email_change_new_code_sent", "utter_ask_email_new_code"]  # it reads the same
    assert len(crm.codes.sent) == EMAIL_CHANGES_PER_WINDOW


def test_nothing_changes_unless_verified(crm, anna):
    _, said, _ = answer({"awaiting": "email_new_code"}, "utter_ask_email_new_code", "123456")
    assert said == ["utter_not_verified"]
    _, messages = run(ActionUpdateContact(), tracker(slots={"customer_id": anna, "new_email": NEW}))
    assert responses(messages) == ["utter_not_verified"]
    assert crm.codes.sent == [] and email_of(crm, anna) == "anna@example.com"


def test_the_crm_down_keeps_the_new_address_to_try_again(crm_down):
    events, messages = run(ActionUpdateContact(), tracker(slots=verified("cus_1", "code", new_email=NEW)))
    assert responses(messages) == ["utter_crm_unavailable"] and events == []
