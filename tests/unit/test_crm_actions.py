"""Actions that read and write the CRM: right response, right records, graceful when the CRM is down (on the
in-memory CRM, tests/fakes/)."""

from __future__ import annotations

import pytest

from actions.account import ActionShowLoyalty, ActionUpdateContact
from actions.forms import ValidatePaymentProblemForm
from actions.orders import (
    ActionCancelOrder,
    ActionCheckOrderStatus,
    ActionListOrders,
    ActionRefundStatus,
    ActionReportDeliveryProblem,
    ActionReportPaymentProblem,
    ActionStartReturn,
)
from actions.service import ActionFileComplaint
from tests.bot import domain, responses, run, slots_set, tracker

pytestmark = pytest.mark.unit


@pytest.fixture
def anna(crm):
    return crm.arrange.add_customer(first_name="Anna", email="anna@example.com", loyalty_points=560)


def order_status(crm, order_number: str) -> str:
    [status] = [o.status for o in crm.store.orders.values() if o.order_number == order_number]
    return status


def verified(customer_id: str, **slots):
    # consent_asked: these tests are about the request; the consent question after it has its own tests
    return {"verified": True, "customer_id": customer_id, "customer_first_name": "Anna", "consent_asked": True, **slots}


def test_order_status_reports_the_state_with_tracking(crm, anna):
    crm.arrange.add_order(anna, "JH400001", status="shipped", items=(("Linen armchair", 1, 34900),))

    events, messages = run(ActionCheckOrderStatus(), tracker(slots=verified(anna, order_number="JH400001")))

    assert responses(messages) == ["utter_order_status_shipped"]
    assert messages[0]["order_number"] == "JH400001" and messages[0]["summary"] == "Linen armchair"
    assert messages[0]["carrier"] == "DPD" and messages[0]["tracking"] == "DPD123456789"
    assert slots_set(events)["order_number"] is None  # the next request asks afresh


def test_someone_elses_order_is_never_disclosed(crm, anna):
    ben = crm.arrange.add_customer(first_name="Ben")
    crm.arrange.add_order(ben, "JH400002")

    _, messages = run(ActionCheckOrderStatus(), tracker(slots=verified(anna, order_number="JH400002")))

    assert responses(messages) == ["utter_order_number_unknown"]
    assert "summary" not in messages[0]


def test_nothing_is_disclosed_without_verification(crm, anna):
    crm.arrange.add_order(anna, "JH400003")
    events, messages = run(ActionCheckOrderStatus(), tracker(slots={"customer_id": anna, "order_number": "JH400003"}))
    assert responses(messages) == ["utter_not_verified"]


def test_list_orders_newest_first(crm, anna):
    crm.arrange.add_order(anna, "JH400010", placed_days_ago=30, status="delivered", delivered_days_ago=25)
    crm.arrange.add_order(anna, "JH400011", placed_days_ago=1, status="placed")

    _, messages = run(ActionListOrders(), tracker(slots=verified(anna)))

    assert responses(messages) == ["utter_orders_list"]
    lines = messages[0]["orders"].splitlines()
    assert [line.split(":")[0] for line in lines] == ["- JH400011", "- JH400010"]


def test_cancel_a_placed_order(crm, anna):
    crm.arrange.add_order(anna, "JH400020", status="placed")

    _, messages = run(ActionCancelOrder(), tracker(slots=verified(anna, order_number="JH400020", confirm_cancel=True)))

    assert responses(messages) == ["utter_order_cancelled"]
    assert order_status(crm, "JH400020") == "cancelled"


def test_a_shipped_order_cannot_be_cancelled(crm, anna):
    crm.arrange.add_order(anna, "JH400021", status="shipped")

    _, messages = run(ActionCancelOrder(), tracker(slots=verified(anna, order_number="JH400021", confirm_cancel=True)))

    assert responses(messages) == ["utter_cancel_not_allowed"] and messages[0]["status"] == "shipped"
    assert order_status(crm, "JH400021") == "shipped"


def test_saying_no_keeps_the_order(crm, anna):
    crm.arrange.add_order(anna, "JH400022", status="placed")

    _, messages = run(ActionCancelOrder(), tracker(slots=verified(anna, order_number="JH400022", confirm_cancel=False)))

    assert responses(messages) == ["utter_cancel_kept"]
    assert order_status(crm, "JH400022") == "placed"


def test_start_a_return_within_thirty_days(crm, anna):
    crm.arrange.add_order(anna, "JH400030", status="delivered", placed_days_ago=10, delivered_days_ago=7)

    _, messages = run(
        ActionStartReturn(), tracker(slots=verified(anna, order_number="JH400030", return_reason="Too small"))
    )

    assert responses(messages) == ["utter_return_started"] and messages[0]["refund"] == "£89.00"
    [row] = crm.store.returns
    assert (row.reason, row.status, row.rma_number) == ("Too small", "requested", messages[0]["rma"])


def test_an_undelivered_order_cannot_be_returned(crm, anna):
    crm.arrange.add_order(anna, "JH400031", status="shipped")
    _, messages = run(ActionStartReturn(), tracker(slots=verified(anna, order_number="JH400031", return_reason="x y")))
    assert responses(messages) == ["utter_return_not_allowed_not_delivered"]


def test_refund_status_lists_returns(crm, anna):
    crm.arrange.add_order(anna, "JH400032", status="delivered", placed_days_ago=10, delivered_days_ago=7)
    run(ActionStartReturn(), tracker(slots=verified(anna, order_number="JH400032", return_reason="Changed my mind")))

    _, messages = run(ActionRefundStatus(), tracker(slots=verified(anna)))

    assert responses(messages) == ["utter_refunds_list"]
    assert "JH400032" in messages[0]["returns"] and "waiting for the item" in messages[0]["returns"]


def test_delivery_problem_opens_a_ticket_on_the_order(crm, anna):
    crm.arrange.add_order(anna, "JH400040", status="delivered", delivered_days_ago=1)

    _, messages = run(
        ActionReportDeliveryProblem(),
        tracker(slots=verified(anna, order_number="JH400040", problem_description="The box was crushed")),
    )

    assert responses(messages) == ["utter_delivery_problem_logged"]
    [ticket] = crm.store.tickets
    assert (ticket.kind, ticket.customer_id, crm.store.order_number_of(ticket.order_id), ticket.reference) == (
        "delivery_problem",
        anna,
        "JH400040",
        messages[0]["reference"],
    )


def test_loyalty_points_with_the_next_tier(crm, anna):
    _, messages = run(ActionShowLoyalty(), tracker(slots=verified(anna)))
    assert responses(messages) == ["utter_loyalty_points_next_tier"]
    assert (messages[0]["points"], messages[0]["tier"], messages[0]["to_next"]) == ("560", "Silver", "1,440")


def test_a_complaint_from_a_verified_customer_is_on_their_record(crm, anna):
    text = "The courier was rude and left the parcel in the rain"
    events, messages = run(ActionFileComplaint(), tracker(slots=verified(anna, complaint_text=text)))

    assert responses(messages) == ["utter_complaint_logged"]
    [ticket] = crm.store.tickets
    assert (ticket.kind, ticket.customer_id, ticket.description, ticket.priority) == ("complaint", anna, text, "high")
    assert slots_set(events) == {"complaint_text": None}


def test_an_anonymous_complaint_is_kept_with_the_channel_account(crm):
    _, messages = run(
        ActionFileComplaint(),
        tracker(slots={"complaint_text": "Nobody answers the phone, ever"}, sender_id="visitor-9", channel="rest"),
    )

    assert responses(messages) == ["utter_complaint_logged_anonymous"]
    [ticket] = crm.store.tickets
    assert (ticket.customer_id, ticket.channel, ticket.sender_id) == (None, "rest", "visitor-9")


def test_crm_down_gives_a_helpful_reply_and_keeps_what_the_customer_said(crm_down):
    events, messages = run(ActionUpdateContact(), tracker(slots=verified("c1", new_phone="+447700900111")))
    assert responses(messages) == ["utter_crm_unavailable"]
    assert events == []  # the new number stays in its slot

    events, messages = run(ActionFileComplaint(), tracker(slots={"complaint_text": "The sofa leg snapped off"}))
    assert responses(messages) == ["utter_crm_unavailable"] and events == []


# ---- payment problems -----------------------------------------------------------------------------------


def payment_form(slots: dict, text: str, **message):
    events, messages = run(
        ValidatePaymentProblemForm(), tracker(slots=slots, text=text, active_loop="payment_problem_form", **message)
    )
    return slots_set(events), responses(messages)


def test_a_payment_problem_is_read_from_the_message_that_raised_it(crm, anna):
    crm.arrange.add_order(anna, "JH400070", status="placed")
    crm.arrange.add_order(anna, "JH400071", status="delivered")

    slots, said = payment_form(verified(anna), "you charged me twice!!", intent="payment_problem")
    assert slots["payment_issue"] == "charged_twice" and slots["requested_slot"] == "order_number"
    assert said == []  # two orders: the customer picks one (buttons)

    slots, said = payment_form(verified(anna), "my card got declined at checkout", intent="payment_problem")
    assert slots["payment_issue"] == "declined" and "order_number" not in slots
    assert slots["requested_slot"] is None  # a declined payment placed no order: nothing more to ask


def test_a_payment_problem_not_said_is_asked_with_buttons_and_a_button_answers_it(crm, anna):
    slots, _ = payment_form(verified(anna), "problem with payment", intent="payment_problem")
    assert "payment_issue" not in slots and slots["requested_slot"] == "payment_issue"
    buttons = {b["payload"] for b in domain()["responses"]["utter_ask_payment_issue"][0]["buttons"]}
    issues = ("declined", "charged_twice", "refund_missing")
    assert buttons == {f'/payment_problem{{"payment_issue": "{issue}"}}' for issue in issues}

    slots, _ = payment_form(
        verified(anna, requested_slot="payment_issue"), "/payment_problem", intent="payment_problem",
        entities=[("payment_issue", "refund_missing")],
    )  # fmt: skip
    assert slots["payment_issue"] == "refund_missing"


@pytest.mark.parametrize(
    ("issue", "order_number", "response"),
    [
        ("declined", None, "utter_payment_declined"),
        ("charged_twice", "JH400072", "utter_payment_charged_twice"),
        ("refund_missing", "JH400072", "utter_payment_refund_missing"),
    ],
)
def test_a_payment_problem_becomes_a_ticket_with_the_order_and_the_timing(crm, anna, issue, order_number, response):
    crm.arrange.add_order(anna, "JH400072", status="delivered")

    events, messages = run(
        ActionReportPaymentProblem(),
        tracker(slots=verified(anna, payment_issue=issue, order_number=order_number)),
    )

    assert responses(messages) == [response]
    [ticket] = crm.store.tickets
    [order] = [o for o in crm.store.orders.values() if o.order_number == "JH400072"]
    assert (ticket.kind, ticket.customer_id) == ("payment_problem", anna)
    assert ticket.order_id == (order.id if order_number else None)
    assert messages[0]["reference"] == ticket.reference
    assert slots_set(events)["payment_issue"] is None and slots_set(events)["order_number"] is None


def test_a_payment_problem_about_someone_elses_order_opens_no_ticket(crm, anna):
    ben = crm.arrange.add_customer(first_name="Ben")
    crm.arrange.add_order(ben, "JH400073")
    _, messages = run(
        ActionReportPaymentProblem(),
        tracker(slots=verified(anna, payment_issue="charged_twice", order_number="JH400073")),
    )
    assert responses(messages) == ["utter_order_number_unknown"] and crm.store.tickets == []


# ---- what cancelling costs --------------------------------------------------------------------------------


def cancel_form(slots: dict, text: str = "cancel it", **message):
    from actions.forms import ValidateCancelOrderForm

    events, messages = run(
        ValidateCancelOrderForm(), tracker(slots=slots, text=text, active_loop="cancel_order_form", **message)
    )
    return slots_set(events), responses(messages)


def test_the_cancel_question_says_it_is_free_and_what_comes_back(crm, anna):
    crm.arrange.add_order(anna, "JH400080", status="packed", items=(("Rattan chair", 2, 6450),))
    slots, said = cancel_form(verified(anna, order_number="JH400080"), intent="cancel_order")
    assert slots["order_cancellable"] is True and slots["cancel_refund"] == "£129.00"
    assert slots["requested_slot"] == "confirm_cancel" and said == []
    question = domain()["responses"]["utter_ask_confirm_cancel"][0]
    assert "costs nothing" in question["text"] and "{cancel_refund}" in question["text"]


def test_an_order_that_has_left_the_warehouse_is_not_asked_about_and_a_return_is_offered(crm, anna):
    crm.arrange.add_order(anna, "JH400081", status="shipped")
    slots, said = cancel_form(verified(anna, order_number="JH400081"), intent="cancel_order")
    assert slots["order_cancellable"] is False and slots["requested_slot"] is None  # no "shall I cancel it?"

    events, messages = run(
        ActionCancelOrder(), tracker(slots=verified(anna, order_number="JH400081", order_cancellable=False))
    )
    assert responses(messages) == ["utter_cancel_not_allowed"] and messages[0]["status"] == "shipped"
    assert order_status(crm, "JH400081") == "shipped"
    assert slots_set(events)["order_cancellable"] is None  # the next request starts afresh
