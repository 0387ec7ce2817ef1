"""Product reviews: the rules on plain values, and the chat's form and actions on the in-memory CRM (the review
store's contract suite is tests/integration/test_reviews_contract.py)."""

from __future__ import annotations

import pytest

from actions.reviews import ActionAskReviewItem, ActionSubmitReview, ValidateReviewForm
from actions.service import ActionStopRequest
from crm_adapter.domain import InvalidInput, NotAllowed, OrderStatus
from reviews.rules import check_reviewable, parse_stars, public_name, review_stars, review_text, split_item_key
from tests.bot import domain, responses, run, slots_set, tracker

pytestmark = pytest.mark.unit

TABLE = (("Oak side table", 1, 8900), ("Linen throw", 2, 5900))


# ---- the rules ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "stars"),
    [
        ("4", 4),
        ("4 stars", 4),
        ("  5 Stars!", 5),
        ("four", 4),
        ("Four stars", 4),
        ("one star", 1),
        ("3/5", 3),
        ("2 out of 5", 2),
        ("★★★", 3),
        ("*****", 5),
        ("6", None),
        ("0 stars", None),
        ("10", None),
        ("four stars but the legs wobble", None),
        ("", None),
        ("great", None),
    ],
)
def test_stars_as_customers_type_them(typed: str, stars: int | None) -> None:
    assert parse_stars(typed) == stars


def test_stars_text_and_names_follow_the_rules() -> None:
    assert [review_stars(v) for v in (1, "5", " 3 ")] == [1, 5, 3]
    for bad in (0, 6, "x", None, 4.5):
        with pytest.raises(InvalidInput):
            review_stars(bad)
    assert review_text("  Lovely   table.\n\n  Solid  oak. ") == "Lovely table.\n\nSolid oak."
    assert review_text("x" * 2000) == "x" * 2000
    with pytest.raises(InvalidInput, match="up to 2,000 characters; this one has 2,001"):
        review_text("x" * 2001)
    with pytest.raises(InvalidInput, match="a few words"):
        review_text(" \n ")
    assert public_name("Omar", "haddad") == "Omar H." and public_name("Cher", "") == "Cher"
    assert split_item_key("jh100002:fur-001") == ("JH100002", "FUR-001") and split_item_key("lamp") is None
    check_reviewable("JH1", OrderStatus.DELIVERED)
    with pytest.raises(NotAllowed, match="once delivered"):
        check_reviewable("JH1", OrderStatus.SHIPPED)


# ---- the form ----------------------------------------------------------------------------------------------


@pytest.fixture
def omar(crm) -> str:
    customer = crm.arrange.add_customer(first_name="Omar", last_name="Haddad", email="omar@example.com")
    crm.arrange.add_order(customer, "JH500001", status="delivered", delivered_days_ago=4, items=TABLE)
    crm.arrange.add_order(customer, "JH500002", status="shipped", items=(("Brass lamp", 1, 12900),))
    return customer


def verified(customer_id: str, **slots):
    return {"verified": True, "customer_id": customer_id, "customer_first_name": "Omar", "consent_asked": True, **slots}


OFFERED = [
    {"order_number": "JH500001", "sku": "SKU0", "name": "Oak side table"},
    {"order_number": "JH500001", "sku": "SKU1", "name": "Linen throw"},
]


def form(slots: dict, text: str, **message):
    events, messages = run(ValidateReviewForm(), tracker(slots=slots, text=text, active_loop="review_form", **message))
    return slots_set(events), messages


def test_the_form_verifies_first(crm, omar) -> None:
    slots, _ = form({}, "i want to review my table", intent="leave_review")
    # every slot still needed, the email first: Rasa's form asks for it; nothing about the customer is looked up
    assert "requested_slot" not in slots and "review_items" not in slots and crm.store.reviews == []


def test_a_verified_customer_is_offered_the_items_of_delivered_orders_as_buttons(crm, omar) -> None:
    slots, _ = form(verified(omar), "i want to leave a review", intent="leave_review")
    assert slots["review_items"] == OFFERED and slots["requested_slot"] == "review_item"

    events, messages = run(ActionAskReviewItem(), tracker(slots=verified(omar, review_items=OFFERED)))
    [message] = messages
    assert message["response"] == "utter_ask_review_item"
    assert [(b["title"], b["payload"]) for b in message["buttons"]] == [
        ("JH500001: Oak side table", '/inform{"review_item": "JH500001:SKU0"}'),
        ("JH500001: Linen throw", '/inform{"review_item": "JH500001:SKU1"}'),
    ]


def test_nothing_delivered_ends_the_form_and_says_so(crm) -> None:
    waiting = crm.arrange.add_customer()
    crm.arrange.add_order(waiting, "JH500010", status="placed")
    slots, _ = form(verified(waiting), "write a review", intent="leave_review")
    assert slots["review_items"] == [] and slots["requested_slot"] is None

    events, messages = run(ActionSubmitReview(), tracker(slots=verified(waiting, review_items=[])))
    assert responses(messages) == ["utter_review_nothing_to_review"] and crm.store.reviews == []


def asking(omar: str, slot: str, **more):
    return verified(omar, review_items=OFFERED, requested_slot=slot, **more)


def test_the_item_from_a_button_or_its_name_and_never_one_not_offered(crm, omar) -> None:
    slots, _ = form(asking(omar, "review_item"), '/inform{"review_item": "JH500001:SKU1"}',
                    entities=[("review_item", "JH500001:SKU1")])  # fmt: skip
    assert slots["review_item"] == "JH500001:SKU1" and slots["requested_slot"] == "review_stars"

    slots, _ = form(asking(omar, "review_item"), "the throw please")
    assert slots["review_item"] == "JH500001:SKU1"

    slots, messages = form(asking(omar, "review_item"), "", entities=[("review_item", "JH500002:SKU0")])
    assert slots["review_item"] is None and responses(messages) == ["utter_review_item_unknown"]


@pytest.mark.parametrize(("typed", "entities", "stars"), [("", [("stars", "4")], "4"), ("four", [], "4"),
                                                          ("5 stars", [], "5")])  # fmt: skip
def test_stars_from_a_button_or_typed(crm, omar, typed, entities, stars) -> None:
    slots, _ = form(asking(omar, "review_stars", review_item="JH500001:SKU0"), typed, entities=entities)
    assert slots["review_stars"] == stars and slots["requested_slot"] == "review_text"


def test_stars_out_of_range_are_asked_again(crm, omar) -> None:
    slots, messages = form(asking(omar, "review_stars", review_item="JH500001:SKU0"), "7 stars")
    assert slots["review_stars"] is None and "utter_review_stars_invalid" in responses(messages)
    buttons = [b["payload"] for b in domain()["responses"]["utter_ask_review_stars"][0]["buttons"]]
    assert sorted(buttons) == [f'/inform{{"stars": "{n}"}}' for n in range(1, 6)]


def test_the_text_whatever_it_says_and_a_clear_error_when_too_long(crm, omar) -> None:
    base = asking(omar, "review_text", review_item="JH500001:SKU0", review_stars="2")
    slots, _ = form(base, "Terrible, it arrived scratched!", intent="complain")  # a complaint is a review too
    assert slots["review_text"] == "Terrible, it arrived scratched!" and slots["requested_slot"] == "review_publish"

    slots, messages = form(base, "x" * 2001)
    assert slots["review_text"] is None
    [message] = [m for m in messages if m["response"] == "utter_review_text_invalid"]
    assert "up to 2,000 characters" in message["problem"]

    slots, _ = form(base, "stop", intent="stop")  # not a review: the form lets the stop rule run
    assert "review_text" not in slots


def test_the_publish_question_is_yes_or_no() -> None:
    mappings = domain()["slots"]["review_publish"]["mappings"]
    assert {(m["intent"], m["value"]) for m in mappings} == {("affirm", True), ("deny", False)}
    assert all(
        m["conditions"] == [{"active_loop": "review_form", "requested_slot": "review_publish"}] for m in mappings
    )
    assert "first name" in domain()["responses"]["utter_ask_review_publish"][0]["text"]


# ---- keeping it --------------------------------------------------------------------------------------------


def submit(crm, omar, publish: bool, **more):
    slots = verified(omar, review_items=OFFERED, review_item="JH500001:SKU0", review_stars="4",
                     review_text="Solid oak, easy to build.", review_publish=publish, **more)  # fmt: skip
    events, messages = run(ActionSubmitReview(), tracker(slots=slots))
    return slots_set(events), messages


def test_a_published_review_is_kept_and_thanked_with_the_product_page(crm, omar) -> None:
    slots, messages = submit(crm, omar, True)
    [record] = crm.store.reviews
    assert (record.sku, record.stars, record.text, record.published) == ("SKU0", 4, "Solid oak, easy to build.", True)
    assert messages[0]["response"] == "utter_review_thanks_published"
    assert messages[0]["product"] == "Oak side table" and messages[0]["link"].endswith("/products/SKU0")
    assert all(slots[s] is None for s in ("review_item", "review_stars", "review_text", "review_publish"))
    assert [r.author for r in crm.reviews.product("SKU0").reviews] == ["Omar H."]
    assert "1 product review" in crm.relationship.value(omar).explanation


def test_without_consent_it_is_kept_but_not_shown(crm, omar) -> None:
    _, messages = submit(crm, omar, False)
    assert messages[0]["response"] == "utter_review_thanks_private"
    assert crm.store.reviews[0].published is False and crm.reviews.product("SKU0").reviews == ()


def test_a_second_review_replaces_the_first_and_says_so(crm, omar) -> None:
    submit(crm, omar, True)
    _, messages = submit(crm, omar, False)
    assert "utter_review_replaced" in responses(messages) and len(crm.store.reviews) == 1


def test_an_item_that_cannot_be_reviewed_is_refused_politely(crm, omar) -> None:
    slots = verified(omar, review_item="JH500002:SKU0", review_stars="5", review_text="Bright.", review_publish=True)
    _, messages = run(ActionSubmitReview(), tracker(slots=slots))
    assert responses(messages)[0] == "utter_review_not_possible" and crm.store.reviews == []


def test_not_verified_keeps_nothing(crm, omar) -> None:
    slots = {"review_item": "JH500001:SKU0", "review_stars": "5", "review_text": "Nice.", "review_publish": True}
    _, messages = run(ActionSubmitReview(), tracker(slots=slots))
    assert responses(messages) == ["utter_not_verified"] and crm.store.reviews == []


def test_an_external_crm_keeps_no_reviews_and_the_customer_hears_so(crm, omar) -> None:
    from hearth.container import container
    from reviews.unavailable import ExternalCrmReviews

    container().replace("product_reviews", ExternalCrmReviews())
    slots, messages = form(verified(omar), "i want to leave a review", intent="leave_review")
    assert slots["review_items"] == [] and slots["requested_slot"] is None and messages == []
    _, messages = run(ActionSubmitReview(), tracker(slots=verified(omar, review_items=[])))
    assert responses(messages) == ["utter_review_unsupported"]


def test_the_crm_down_ends_the_form_and_is_said_once(crm_down) -> None:
    slots, messages = form(verified("cus_x"), "i want to leave a review", intent="leave_review")
    assert slots["review_items"] == [] and messages == []
    _, messages = run(ActionSubmitReview(), tracker(slots=verified("cus_x", review_items=[])))
    assert responses(messages) == ["utter_crm_unavailable"]


def test_the_crm_down_is_said_and_the_review_kept_in_the_conversation(crm_down) -> None:
    slots = verified("cus_x", review_item="JH500001:SKU0", review_stars="5", review_text="Nice.", review_publish=True)
    events, messages = run(ActionSubmitReview(), tracker(slots=slots))
    assert responses(messages) == ["utter_crm_unavailable"] and events == []


def test_stopping_forgets_the_review(crm, omar) -> None:
    slots = verified(omar, review_items=OFFERED, review_item="JH500001:SKU0", review_stars="3")
    events, _ = run(ActionStopRequest(), tracker(slots=slots, intent="stop"))
    assert all(slots_set(events)[s] is None for s in ("review_items", "review_item", "review_stars"))
