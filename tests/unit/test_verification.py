"""Every form that touches personal data verifies the customer first: email plus an order number or a code."""

from __future__ import annotations

import asyncio

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.forms import ValidateIdentifyForm, ValidateOrderStatusForm, ValidateUpdatePhoneForm
from tests.bot import domain, responses, run, slots_set, tracker

pytestmark = pytest.mark.unit


def _answer(form, requested: str, slots: dict, **message):
    """The customer answers the form's question `requested`; returns (slots set, responses)."""
    t = tracker(
        slots={**slots, "requested_slot": requested}, active_loop=form.name().removeprefix("validate_"), **message
    )
    events, messages = run(form, t)
    return slots_set(events), responses(messages)


def _prove_with_order(number: str, slots: dict | None = None, **message):
    """Anna, having given her email, offers `number` as the proof."""
    return _answer(
        ValidateIdentifyForm(),
        "identity_proof",
        {"identity_email": "anna@example.com", **(slots or {})},
        text=number,
        entities=[("order_number", number)],
        **message,
    )


@pytest.fixture
def anna(crm):
    customer = crm.arrange.add_customer(first_name="Anna", email="anna@example.com")
    crm.arrange.add_order(customer, "JH200001")
    other = crm.arrange.add_customer(first_name="Ben", email="ben@example.com")
    crm.arrange.add_order(other, "JH200002")
    return customer


def test_email_and_own_order_number_verify_the_conversation_and_link_nothing(crm, anna):
    slots, said = _prove_with_order("JH200001", sender_id="web-123")

    assert said == []
    assert slots["verified"] is True and slots["customer_id"] == anna and slots["customer_first_name"] == "Anna"
    assert slots["identity_proof"] == "verified" and slots["verified_by"] == "order"
    assert slots["requested_slot"] is None  # identify form has nothing more to ask
    assert crm.store.identities == {}  # remembering the channel account is the customer's choice (test_linking.py)


def test_someone_elses_order_number_does_not_verify(crm, anna):
    slots, said = _prove_with_order("JH200002")

    assert said == ["utter_identity_failed"]
    assert slots["identity_email"] is None and slots["identity_proof"] is None and slots["identity_attempts"] == 1
    assert "verified" not in slots
    assert crm.store.identities == {}


def test_three_failures_lock_verification_and_end_the_form(crm, anna):
    slots, said = _prove_with_order("JH999999", {"identity_attempts": 2.0})

    assert said == ["utter_identity_locked"]
    assert slots["identity_attempts"] == 3
    assert slots["requested_slot"] is None  # the form stops asking


def test_one_time_code_flow(crm, anna):
    slots, said = _answer(
        ValidateIdentifyForm(),
        "identity_proof",
        {"identity_email": "anna@example.com"},
        text="email me a code",
        intent="request_code",
    )
    assert slots["otp_sent"] is True and slots["identity_proof"] is None and said == []
    code = crm.codes.last_code_for("anna@example.com")
    assert code is not None and len(code) == 6

    slots, said = _answer(
        ValidateIdentifyForm(),
        "identity_proof",
        {"identity_email": "anna@example.com", "otp_sent": True},
        text=f"the code is {code}",
        entities=[("otp_code", code)],
    )
    assert said == [] and slots["verified"] is True and slots["customer_id"] == anna
    assert slots["verified_by"] == "code"


def test_a_code_for_an_unknown_email_reveals_nothing(crm, anna):
    slots, said = _answer(
        ValidateIdentifyForm(),
        "identity_proof",
        {"identity_email": "nobody@example.com"},
        text="send me a code",
        intent="request_code",
    )
    assert slots["otp_sent"] is True and said == []  # same answer as for a known address
    assert crm.codes.sent == []


def test_an_invalid_email_is_asked_again(crm):
    slots, said = _answer(ValidateIdentifyForm(), "identity_email", {}, text="anna at example dot com")
    assert slots["identity_email"] is None and said == ["utter_identity_invalid_email"]


def test_a_question_in_the_middle_is_not_taken_as_an_answer(crm):
    slots, said = _answer(
        ValidateIdentifyForm(), "identity_email", {}, text="what are your opening hours", intent="faq"
    )
    assert "identity_email" not in slots


def test_verified_customers_are_not_asked_again():
    form = ValidateOrderStatusForm()
    t = tracker(slots={"verified": True, "customer_id": "c1"}, active_loop="order_status_form")
    required = asyncio.run(
        form.required_slots(["identity_email", "identity_proof", "order_number"], CollectingDispatcher(), t, domain())
    )
    assert required == ["order_number"]


def test_the_crm_being_down_during_verification_keeps_the_email(crm_down):
    slots, said = _prove_with_order("JH200001")
    assert said == ["utter_crm_unavailable"]
    assert slots["identity_proof"] is None and "identity_email" not in slots


def test_an_invalid_phone_number_is_explained():
    slots, said = _answer(
        ValidateUpdatePhoneForm(),
        "new_phone",
        {"verified": True, "customer_id": "c1"},
        text="12 34",
        mapped={"new_phone": "12 34"},
    )
    assert slots["new_phone"] is None and said == ["utter_contact_invalid"]


def test_a_valid_phone_number_is_normalised():
    slots, said = _answer(
        ValidateUpdatePhoneForm(),
        "new_phone",
        {"verified": True, "customer_id": "c1"},
        text="it's 07700 900 321 now",
        entities=[("phone", "07700 900 321")],
        mapped={"new_phone": "it's 07700 900 321 now"},
    )
    assert slots["new_phone"] == "+447700900321" and said == []


@pytest.mark.parametrize(
    ("requested", "text", "kept"),
    [
        (None, "I'd like to make a complaint", False),
        (None, "I want to complain because the courier threw my parcel over the fence", True),
        ("complaint_text", "Parcel thrown, broken", True),
        ("complaint_text", "bad", False),
    ],
)
def test_a_complaint_is_taken_only_when_it_says_what_happened(requested, text, kept):
    from actions.forms import ValidateComplaintForm

    events, messages = run(
        ValidateComplaintForm(),
        tracker(
            slots={"requested_slot": requested},
            text=text,
            intent="complain",
            mapped={"complaint_text": text},
            active_loop="complaint_form",
        ),
    )
    assert (slots_set(events)["complaint_text"] == text) is kept
    assert responses(messages) == (["utter_complaint_too_short"] if requested and not kept else [])


def test_an_email_in_the_opening_message_is_used(crm, anna):
    t = tracker(
        text="verify me, my email is anna@example.com",
        intent="identify",
        entities=[("email", "anna@example.com")],
        active_loop=None,
    )
    events, said = run(ValidateIdentifyForm(), t)
    assert slots_set(events)["identity_email"] == "anna@example.com" and responses(said) == []


def test_a_new_email_in_the_opening_message_is_not_taken_as_identity(crm, anna):
    t = tracker(
        text="change my email to new@example.com",
        intent="update_email",
        entities=[("email", "new@example.com")],
        active_loop=None,
    )
    events, _ = run(ValidateIdentifyForm(), t)
    assert "identity_email" not in slots_set(events)


def test_a_locked_session_stays_locked(crm, anna):
    """Three failures end the form; the next request must not quietly grant three more tries."""
    from actions.orders import ActionCheckOrderStatus

    events, messages = run(ActionCheckOrderStatus(), tracker(slots={"identity_attempts": 3.0, "order_number": "JH1"}))
    assert responses(messages) == ["utter_identity_locked"]
    assert "identity_attempts" not in slots_set(events)

    form = ValidateOrderStatusForm()
    t = tracker(slots={"identity_attempts": 3.0}, active_loop="order_status_form", intent="order_status")
    required = asyncio.run(
        form.required_slots(["identity_email", "identity_proof", "order_number"], CollectingDispatcher(), t, domain())
    )
    assert required == []  # the form ends at once instead of asking again


# ---- repair: feelings first, corrections replace ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "sorry"),
    [
        ("this is the third time my delivery is late, I'm really unhappy", True),
        ("still waiting for my refund, not impressed", True),
        ("this is ridiculous, 3 weeks and still no sofa", True),
        ("wheres my parcel??", False),
        ("hi, could you check my order please", False),
    ],
)
def test_an_upset_customer_hears_sorry_before_being_asked_to_verify(crm, text, sorry):
    events, messages = run(
        ValidateOrderStatusForm(), tracker(text=text, intent="order_status", active_loop="order_status_form")
    )
    assert responses(messages) == (["utter_sorry_upset"] if sorry else [])
    assert slots_set(events).get("requested_slot") is None  # the form asks for the email next, as before


def test_sorry_is_said_once_when_the_request_starts_not_at_every_answer(crm):
    events, messages = run(
        ValidateOrderStatusForm(),
        tracker(
            slots={"requested_slot": "identity_email"},
            text="ridiculous. anna@example.com",
            entities=[("email", "anna@example.com")],
            active_loop="order_status_form",
        ),  # fmt: skip
    )
    assert "utter_sorry_upset" not in responses(messages)


def test_a_corrected_email_replaces_the_first_while_the_proof_is_asked(crm, anna):
    slots, said = _answer(
        ValidateIdentifyForm(),
        "identity_proof",
        {"identity_email": "ana@example.com", "otp_sent": True},
        text="sorry wrong email, it's anna@example.com",
        entities=[("email", "anna@example.com")],
    )
    assert slots["identity_email"] == "anna@example.com" and slots["otp_sent"] is False
    assert said == [] and slots.get("identity_proof") is None  # the proof is asked again, for the right address

    slots, said = _prove_with_order("JH200001")  # and the right address with its order number verifies
    assert slots["verified"] is True


def test_an_email_and_order_number_in_one_correction_verify_at_once(crm, anna):
    slots, _ = _answer(
        ValidateIdentifyForm(),
        "identity_proof",
        {"identity_email": "ana@example.com"},
        text="oops it's anna@example.com and the order is JH200001",
        entities=[("email", "anna@example.com"), ("order_number", "JH200001")],
    )
    assert slots["identity_email"] == "anna@example.com" and slots["verified"] is True
    assert slots["proof_order"] == "JH200001"  # "my order" means this one from now on
