"""Which order a request is about: the rules (crm_adapter/order_choice.py), then the order forms that use them."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from actions.forms import ActionDefaultFallback, ValidateDeliveryProblemForm, ValidateOrderStatusForm
from actions.orders import ActionAskOrderNumber
from crm_adapter.domain import Order, OrderLine, OrderStatus
from crm_adapter.order_choice import OfferedOrder, choose, offered_from, resolve
from tests.bot import responses, run, slots_set, tracker

pytestmark = pytest.mark.unit

NOW = datetime(2026, 12, 1, tzinfo=timezone.utc)


def order(number: str, status: str, *items: str) -> Order:
    lines = tuple(OrderLine(f"SKU{i}", name, 1, 1000) for i, name in enumerate(items or ("Oak side table",)))
    return Order(number, "c1", OrderStatus(status), NOW, None, None, 1000, "GBP", None, None, lines)


LAMP = order("JH500001", "shipped", "Brass table lamp")
RUG = order("JH500002", "placed", "Wool rug", "Linen cushion")
MUG = order("JH500003", "delivered", "Stoneware mug")
OFFERED = [OfferedOrder.of(o) for o in (LAMP, RUG, MUG)]


def test_the_order_proved_with_is_the_one_meant_and_said_out_loud():
    choice = choose("delivery_problem_form", [LAMP, RUG, MUG], "JH500002")
    assert choice.order == RUG and choice.announce


def test_the_item_the_request_names_picks_its_order_over_the_one_proved_with():
    # "can I get a refund for the lamp": the lamp's order, though the customer proved who they are with the rug's
    lamp = order("JH500005", "delivered", "Brass table lamp")
    assert choose("return_form", [RUG, lamp, MUG], "JH500002", "can i get a refund for the lamp i bought").order == lamp
    assert choose("return_form", [RUG, lamp, MUG], "JH500002", "i want to return something").offer == (lamp, MUG)


def test_an_order_proved_with_that_cannot_go_through_the_request_is_not_taken_for_it():
    # the rug is only placed: it cannot be returned, so a return is about the one delivered order
    assert choose("return_form", [RUG, MUG], "JH500002").order == MUG
    # a status or a delivery problem is fine for any order: the one proved with
    assert choose("order_status_form", [LAMP, MUG], "JH500003").order == MUG


def test_the_only_order_that_fits_the_request_is_taken():
    # only the lamp is still on its way; only the mug can be returned; only the rug can be cancelled
    assert choose("order_status_form", [LAMP, MUG], None).order == LAMP
    assert choose("return_form", [LAMP, RUG, MUG], None).order == MUG
    assert choose("cancel_order_form", [LAMP, RUG, MUG], None).order == RUG


def test_several_that_fit_are_offered_newest_first_and_none_fitting_offers_them_all():
    both = order("JH500004", "packed", "Rattan basket")
    assert choose("order_status_form", [both, LAMP, MUG], None).offer == (both, LAMP)
    assert choose("return_form", [LAMP, RUG], None).offer == (LAMP, RUG)
    assert choose("order_status_form", [], None) == choose("order_status_form", [], "JH999999")


@pytest.mark.parametrize(
    ("text", "picked"),
    [
        ("the first one", "JH500001"),
        ("2nd", "JH500002"),
        ("number 3", "JH500003"),
        ("the last one please", "JH500003"),
        ("the most recent", "JH500001"),
        ("no, the lamp", "JH500001"),
        ("the one with the cushions", "JH500002"),
        ("its the MUG", "JH500003"),
        ("that one", None),  # three listed: "that one" points at none of them
        ("the other one", None),  # three listed and none taken: no single "other"
        ("the sofa", None),  # in none of them
        ("yes please", None),
    ],
)
def test_a_customer_picks_from_the_list_by_position_or_by_what_is_in_it(text, picked):
    assert resolve(text, OFFERED) == picked


def test_pointing_and_yes_pick_the_only_order_offered_and_the_other_one_is_the_one_not_taken():
    assert resolve("yes that one", OFFERED[:1]) == "JH500001"
    assert resolve("yes please", OFFERED[:1]) == "JH500001"
    assert resolve("no the other one", OFFERED[:2], current="JH500001") == "JH500002"


def test_offered_orders_survive_the_slot_and_junk_in_it_is_ignored():
    stored = [o.to_json() for o in OFFERED]
    assert offered_from(stored) == OFFERED
    assert offered_from("JH500001") == [] and offered_from([{"summary": "no number"}, 3]) == []


# ---- in the forms -----------------------------------------------------------------------------------------


def verified(customer_id: str, **slots):
    return {"verified": True, "customer_id": customer_id, "customer_first_name": "Anna", **slots}


def test_after_proving_with_an_order_my_order_means_that_one_and_the_bot_says_which(crm):
    anna = crm.arrange.add_customer(first_name="Anna", email="anna@example.com")
    crm.arrange.add_order(anna, "JH500011", status="delivered", items=(("Oak side table", 1, 8900),))
    crm.arrange.add_order(anna, "JH500012", status="shipped", items=(("Brass lamp", 1, 4900),))

    events, messages = run(
        ValidateDeliveryProblemForm(),
        tracker(
            slots=verified(anna, proof_order="JH500011"),
            text="about my delivery",
            intent="delivery_problem",
            active_loop="delivery_problem_form",
        ),  # fmt: skip
    )

    assert slots_set(events)["order_number"] == "JH500011"
    assert responses(messages) == ["utter_order_chosen"]
    assert (messages[0]["order_number"], messages[0]["summary"]) == ("JH500011", "Oak side table")
    assert slots_set(events)["requested_slot"] == "problem_description"  # the form goes on, no "which order?"


def test_several_open_orders_are_offered_as_buttons_with_number_item_and_status(crm):
    anna = crm.arrange.add_customer(first_name="Anna", email="anna@example.com")
    crm.arrange.add_order(anna, "JH500021", status="placed", placed_days_ago=1, items=(("Wool rug", 1, 9900),))
    crm.arrange.add_order(anna, "JH500022", status="shipped", placed_days_ago=4, items=(("Brass lamp", 1, 4900),))

    events, messages = run(
        ValidateOrderStatusForm(),
        tracker(slots=verified(anna), text="wheres my stuff", intent="order_status", active_loop="order_status_form"),
    )
    slots = slots_set(events)
    assert messages == [] and "order_number" not in slots and slots["requested_slot"] == "order_number"

    _, asked = run(ActionAskOrderNumber(), tracker(slots=verified(anna, **slots)))
    assert responses(asked) == ["utter_ask_order_pick"]
    assert [b["title"] for b in asked[0]["buttons"]] == [
        "JH500021: Wool rug (placed)",
        "JH500022: Brass lamp (shipped)",
    ]
    assert asked[0]["buttons"][1]["payload"] == '/inform{"order_number": "JH500022"}'

    picked, _ = run(
        ValidateOrderStatusForm(),
        tracker(slots=verified(anna, **slots), text="the lamp one", intent="inform", active_loop="order_status_form"),
    )
    assert slots_set(picked)["order_number"] == "JH500022"


def test_no_the_lamp_moves_the_request_to_the_other_order_instead_of_becoming_its_description(crm):
    anna = crm.arrange.add_customer(first_name="Anna", email="anna@example.com")
    crm.arrange.add_order(anna, "JH500031", status="delivered", items=(("Oak side table", 1, 8900),))
    crm.arrange.add_order(anna, "JH500032", status="delivered", items=(("Brass lamp", 1, 4900),))
    offered = [{"number": n, "summary": s, "status": "delivered", "items": [s]}
               for n, s in (("JH500031", "Oak side table"), ("JH500032", "Brass lamp"))]  # fmt: skip
    slots = verified(anna, order_number="JH500031", offered_orders=offered, requested_slot="problem_description")

    events, messages = run(
        ValidateDeliveryProblemForm(),
        tracker(
            slots=slots,
            text="no, the lamp",
            intent="deny",
            active_loop="delivery_problem_form",
            mapped={"problem_description": "no, the lamp"},
        ),  # fmt: skip
    )

    changed = slots_set(events)
    assert changed["order_number"] == "JH500032" and changed["problem_description"] is None
    assert responses(messages) == ["utter_order_switched"] and messages[0]["summary"] == "Brass lamp"
    assert changed["requested_slot"] == "problem_description"  # asked again, now about the lamp


def test_a_description_that_merely_starts_with_no_stays_a_description(crm):
    anna = crm.arrange.add_customer(first_name="Anna", email="anna@example.com")
    crm.arrange.add_order(anna, "JH500041", status="delivered")
    offered = [{"number": "JH500041", "summary": "Oak side table", "status": "delivered", "items": ["Oak side table"]}]
    slots = verified(anna, order_number="JH500041", offered_orders=offered, requested_slot="problem_description")

    events, _ = run(
        ValidateDeliveryProblemForm(),
        tracker(
            slots=slots,
            text="no one delivered it, the box never came",
            intent="delivery_problem",
            active_loop="delivery_problem_form",
            mapped={"problem_description": "no one delivered it, the box never came"},
        ),  # fmt: skip
    )

    changed = slots_set(events)
    assert "order_number" not in changed
    assert changed["problem_description"] == "no one delivered it, the box never came"


def test_an_answer_that_fits_no_question_in_a_form_asks_it_again_instead_of_losing_track():
    offered = [o.to_json() for o in OFFERED]
    events, messages = run(
        ActionDefaultFallback(),
        tracker(
            slots={"requested_slot": "order_number", "offered_orders": offered},
            text="hmm maybe",
            intent="affirm",
            active_loop="order_status_form",
        ),  # fmt: skip
    )
    assert responses(messages) == ["utter_not_an_answer", "utter_ask_order_pick"]
    assert len(messages[1]["buttons"]) == 3
    assert events == [{"event": "rewind", "timestamp": None}]

    _, said = run(
        ActionDefaultFallback(),
        tracker(
            slots={"requested_slot": "confirm_cancel"}, text="dunno", intent="affirm", active_loop="cancel_order_form"
        ),  # fmt: skip
    )
    assert responses(said) == ["utter_not_an_answer", "utter_ask_confirm_cancel"]

    _, outside = run(ActionDefaultFallback(), tracker(text="blah", intent="affirm"))
    assert responses(outside) == ["utter_default"]


def test_a_message_not_understood_in_a_form_asks_its_question_again_until_a_person_is_due(crm):
    from actions.relationship import ActionAnswerPending

    fallback = {"event": "user", "text": "zzz", "parse_data": {"intent": {"name": "nlu_fallback"}}}
    _, messages = run(
        ActionAnswerPending(),
        tracker(
            slots={"requested_slot": "problem_description"},
            text="qwpeoriu",
            intent="nlu_fallback",
            active_loop="delivery_problem_form",
        ),  # fmt: skip
    )
    assert responses(messages) == ["utter_not_an_answer", "utter_ask_problem_description"]

    _, messages = run(
        ActionAnswerPending(),
        tracker(
            slots={"requested_slot": "problem_description"},
            text="qwpeoriu",
            intent="nlu_fallback",
            active_loop="delivery_problem_form",
            events=[fallback],
        ),  # fmt: skip
    )
    assert "utter_not_an_answer" not in responses(messages)  # the second in a row brings in a person
