"""Changing an order before it leaves the warehouse, in the conversation: reading what the customer wants, the
change spelled out with its new total, and the change made in the (in-memory) CRM."""

from __future__ import annotations

import pytest

from actions.forms import ValidateChangeOrderForm
from actions.order_changes import ActionAskChangeItem, ActionAskConfirmChange, ActionChangeOrder
from crm_adapter.order_choice import change_kind_in, line_in, quantity_in
from tests.bot import responses, run, slots_set, tracker

pytestmark = pytest.mark.unit

RUG_AND_CUSHIONS = (("Wool rug", 1, 12900), ("Linen cushion", 2, 1450))


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("can u take the rug off my order pls", "remove_item"),
        ("i dont want the cushions anymore", "remove_item"),
        ("make it 3 chairs", "set_quantity"),
        ("can you send it to my work address instead", "deliver_to"),
        ("can i change my order", None),
    ],
)
def test_what_kind_of_change_a_message_asks_for(text, kind):
    assert change_kind_in(text) == kind


def test_how_many_and_which_item_a_message_names():
    assert quantity_in("just one please") == 1 and quantity_in("make it 3") == 3 and quantity_in("3 or 4") is None
    lines = [("S1", "Wool rug"), ("S2", "Linen cushion")]
    assert line_in("the cushions", lines) == "S2" and line_in("the rug", lines) == "S1"
    assert line_in("the sofa", lines) is None and line_in("both", lines) is None


def verified(customer_id: str, **slots):
    return {"verified": True, "customer_id": customer_id, "consent_asked": True, **slots}


def form(slots: dict, text: str, **message):
    events, messages = run(
        ValidateChangeOrderForm(), tracker(slots=slots, text=text, active_loop="change_order_form", **message)
    )
    return slots_set(events), responses(messages), messages


@pytest.fixture
def lucy(crm):
    customer = crm.arrange.add_customer(first_name="Lucy", email="lucy@example.com")
    crm.arrange.add_order(customer, "JH600001", status="placed", items=RUG_AND_CUSHIONS)
    return customer


def test_the_opening_message_names_the_change_and_the_item_so_only_the_yes_is_asked(crm, lucy):
    slots, said, _ = form(verified(lucy), "can u take the rug off my order pls", intent="change_order")

    assert slots["order_number"] == "JH600001" and slots["order_changeable"] is True
    assert slots["change_kind"] == "remove_item" and slots["change_item"] == "SKU0"
    assert slots["requested_slot"] == "confirm_change"
    assert said == ["utter_order_chosen"]  # the only order that can change, said out loud

    _, asked = run(ActionAskConfirmChange(), tracker(slots=verified(lucy, **slots)))
    assert responses(asked) == ["utter_confirm_change_item"]
    assert asked[0]["change"] == "take the Wool rug off" and asked[0]["total"] == "£29.00"
    assert asked[0]["difference"] == "£129.00"

    events, done = run(ActionChangeOrder(), tracker(slots=verified(lucy, **slots, confirm_change=True)))
    assert responses(done) == ["utter_order_changed"] and done[0]["summary"] == "2 x Linen cushion"
    [order] = [o for o in crm.store.orders.values() if o.order_number == "JH600001"]
    assert [line.name for line in order.lines] == ["Linen cushion"] and order.total_cents == 2900
    assert slots_set(events)["change_kind"] is None and slots_set(events)["order_lines"] is None


def test_a_quantity_asked_for_then_confirmed_costs_the_difference(crm, lucy):
    slots, _, _ = form(verified(lucy), "i need to change my order", intent="change_order")
    assert slots["requested_slot"] == "change_kind" and "change_item" not in slots

    more, _, _ = form(verified(lucy, **{**slots, "requested_slot": "change_kind"}), "/change_order",
                      intent="change_order", entities=[("change_kind", "set_quantity")])  # fmt: skip
    state = {**slots, **more}
    assert state["requested_slot"] == "change_item"
    _, asked = run(ActionAskChangeItem(), tracker(slots=verified(lucy, **state)))
    assert [b["title"] for b in asked[0]["buttons"]] == ["Wool rug (x1)", "Linen cushion (x2)"]

    picked, _, _ = form(verified(lucy, **state), "the cushions", intent="inform")
    state = {**state, **picked}
    assert state["change_item"] == "SKU1" and state["requested_slot"] == "change_quantity"
    counted, _, _ = form(verified(lucy, **state), "4", intent="inform")
    state = {**state, **counted}
    assert state["change_quantity"] == 4 and state["requested_slot"] == "confirm_change"

    _, asked = run(ActionAskConfirmChange(), tracker(slots=verified(lucy, **state)))
    assert responses(asked) == ["utter_confirm_change_more"] and asked[0]["difference"] == "£29.00"
    assert asked[0]["change"] == "4 x Linen cushion instead of 2"

    _, kept = run(ActionChangeOrder(), tracker(slots=verified(lucy, **state, confirm_change=False)))
    assert responses(kept) == ["utter_order_change_kept"]
    [order] = [o for o in crm.store.orders.values() if o.order_number == "JH600001"]
    assert order.total_cents == 12900 + 2900  # nothing changed on a no


def test_a_new_delivery_address_is_checked_and_changes_that_order_only(crm, lucy):
    slots, _, _ = form(verified(lucy), "can i change the delivery address on my order", intent="change_order")
    assert slots["change_kind"] == "deliver_to" and slots["requested_slot"] == "change_address"

    bad, said, messages = form(verified(lucy, **{**slots, "requested_slot": "change_address"}), "x", intent="inform")
    assert said == ["utter_contact_invalid"] and bad.get("change_address") is None
    good, _, _ = form(verified(lucy, **{**slots, "requested_slot": "change_address"}), "14 Park Road,  Leeds LS6 2AB")
    state = {**slots, **good}
    assert state["change_address"] == "14 Park Road, Leeds LS6 2AB" and state["requested_slot"] == "confirm_change"

    _, done = run(ActionChangeOrder(), tracker(slots=verified(lucy, **state, confirm_change=True)))
    assert responses(done) == ["utter_order_changed_address"]
    [order] = [o for o in crm.store.orders.values() if o.order_number == "JH600001"]
    assert order.delivery_address == "14 Park Road, Leeds LS6 2AB"
    assert crm.store.customers[lucy].address != "14 Park Road, Leeds LS6 2AB"


def test_the_only_item_cannot_be_taken_off_and_the_customer_hears_so_before_any_yes(crm):
    ola = crm.arrange.add_customer(first_name="Ola")
    crm.arrange.add_order(ola, "JH600002", status="placed", items=(("Brass lamp", 1, 4900),))

    slots, said, _ = form(verified(ola), "remove the lamp from my order", intent="change_order")

    assert said == ["utter_order_chosen", "utter_order_change_last_item"]
    assert slots["change_refused"] is True and slots["requested_slot"] is None  # no "shall I?"
    _, done = run(ActionChangeOrder(), tracker(slots=verified(ola, **slots)))
    assert done == []


def test_an_order_on_its_way_is_not_changed_and_a_return_is_offered(crm):
    ola = crm.arrange.add_customer(first_name="Ola")
    crm.arrange.add_order(ola, "JH600003", status="shipped")

    slots, _, _ = form(verified(ola, order_number="JH600003"), "take the table off", intent="change_order")
    assert slots["order_changeable"] is False and slots["requested_slot"] is None

    _, done = run(ActionChangeOrder(), tracker(slots=verified(ola, order_number="JH600003", **slots)))
    assert responses(done) == ["utter_order_change_too_late"] and done[0]["status"] == "shipped"
