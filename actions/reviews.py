"""Product reviews in the chat: the customer is verified, picks an item of a delivered order, gives the stars and the
words, and says whether we may show the review on the website with their first name; then it is kept
(reviews/store.py) and the customer gets the product page's link. The review shows on the customer's timeline
(history/timeline.py reads the reviews' table)."""

from __future__ import annotations

import logging
import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import VerifiedCrmAction, crm_call, entity, intent_of
from actions.forms import NOT_AN_ANSWER, VerifiedFormValidation, _answer_text, slots_after
from crm_adapter.domain import CrmUnavailable, InvalidInput, NotAllowed, NotFound
from hearth.container import container, get_product_reviews
from reviews.ports import ReviewStore
from reviews.rules import ReviewableItem, item_key, parse_stars, review_stars, review_text, split_item_key

log = logging.getLogger(__name__)

REVIEW_SLOTS = ("review_item", "review_stars", "review_text", "review_publish")
ITEMS_SLOT = "review_items"  # what the form offered: the customer's reviewable items (the bot's own, not an agent's)
# The text of a review is whatever the customer writes, praise or complaint alike; only these are not one.
NOT_A_REVIEW = {"stop", "request_human"}


def reviews() -> ReviewStore:
    return get_product_reviews()


def offered_items(tracker: Tracker) -> list[ReviewableItem]:
    raw = tracker.get_slot(ITEMS_SLOT)
    found = [ReviewableItem.from_json(x) for x in raw] if isinstance(raw, list) else []
    return [item for item in found if item is not None]


def product_link(sku: str) -> str:
    """The product page on the shop's website (its first web chat origin), or the page's path."""
    origins = container().settings.web_chat_origins
    return f"{origins[0] if origins else ''}/products/{sku}"


def _item_in_text(text: str, items: list[ReviewableItem]) -> str | None:
    """The item a typed answer names: its order and SKU, or a word of a name ("the throw") only one item has."""
    key = split_item_key(text)
    if key and any(item.key == item_key(*key) for item in items):
        return item_key(*key)
    said = set(re.findall(r"[a-z]{3,}", text.casefold())) - {"the", "and", "please", "review", "one"}
    named = [item for item in items if said & set(re.findall(r"[a-z]{3,}", item.name.casefold()))]
    return named[0].key if len(named) == 1 else None


class ValidateReviewForm(VerifiedFormValidation):
    def name(self) -> str:
        return "validate_review_form"

    async def required_slots(
        self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[str]:
        slots = await super().required_slots(domain_slots, dispatcher, tracker, domain)
        if tracker.get_slot("verified") and tracker.get_slot(ITEMS_SLOT) == []:
            return []  # nothing delivered to review: the submit action says so
        return slots

    async def get_validation_events(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        events = await super().get_validation_events(dispatcher, tracker, domain)
        slots = slots_after(tracker.slots, events)
        if slots.get("verified") and slots.get("customer_id") and slots.get(ITEMS_SLOT) is None:
            try:
                items = await crm_call(reviews().reviewable_items, str(slots["customer_id"]))
            except (CrmUnavailable, NotFound, NotAllowed) as exc:
                # nothing to offer: the form ends, and the submit action says why
                log.warning("validate_review_form: reviews unavailable: %s", exc)
                return [*events, SlotSet(ITEMS_SLOT, [])]
            events.append(SlotSet(ITEMS_SLOT, [item.to_json() for item in items]))
        return events

    async def extract_review_item(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if tracker.get_slot("requested_slot") != "review_item" or intent_of(tracker) in NOT_AN_ANSWER:
            return {}
        picked = entity(tracker, "review_item")
        text = _answer_text(tracker)
        if picked is None and text is not None:
            picked = _item_in_text(text, offered_items(tracker)) or text
        return {"review_item": picked} if picked else {}

    def validate_review_item(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        key = split_item_key(value)
        if key and any(item.key == item_key(*key) for item in offered_items(tracker)):
            return {"review_item": item_key(*key)}
        dispatcher.utter_message(response="utter_review_item_unknown")
        return {"review_item": None}

    async def extract_review_stars(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if tracker.get_slot("requested_slot") != "review_stars" or intent_of(tracker) in NOT_AN_ANSWER:
            return {}
        stars = entity(tracker, "stars")
        if stars is None:
            text = _answer_text(tracker)
            if text is None:
                return {}
            parsed = parse_stars(text)
            stars = str(parsed) if parsed is not None else text
        return {"review_stars": stars}

    def validate_review_stars(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        try:
            return {"review_stars": str(review_stars(value))}
        except InvalidInput:
            dispatcher.utter_message(response="utter_review_stars_invalid")
            return {"review_stars": None}

    async def extract_review_text(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if tracker.get_slot("requested_slot") != "review_text" or intent_of(tracker) in NOT_A_REVIEW:
            return {}
        text = ((tracker.latest_message or {}).get("text") or "").strip()
        return {"review_text": text} if text and not text.startswith("/") else {}

    def validate_review_text(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        try:
            return {"review_text": review_text(value)}
        except InvalidInput as exc:
            dispatcher.utter_message(response="utter_review_text_invalid", problem=str(exc))
            return {"review_text": None}


class ActionAskReviewItem(Action):
    """Which item: a button per reviewable item (order number, item name)."""

    def name(self) -> str:
        return "action_ask_review_item"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        buttons = [
            {"title": item.label, "payload": f'/inform{{"review_item": "{item.key}"}}'}
            for item in offered_items(tracker)
        ]
        dispatcher.utter_message(response="utter_ask_review_item", buttons=buttons)
        return []


def clear_review_slots() -> list[EventType]:
    return [SlotSet(slot, None) for slot in (*REVIEW_SLOTS, ITEMS_SLOT)]


class ActionSubmitReview(VerifiedCrmAction):
    def name(self) -> str:
        return "action_submit_review"

    async def act_for(
        self, customer_id: str, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        key = split_item_key(tracker.get_slot("review_item"))
        if key is None:  # the form ended without an item: say why (the CRM down is said by CrmAction)
            try:
                await crm_call(reviews().reviewable_items, customer_id)
            except NotAllowed:  # an external CRM, which keeps no reviews
                dispatcher.utter_message(response="utter_review_unsupported")
                return clear_review_slots()
            dispatcher.utter_message(response="utter_review_nothing_to_review")
            return clear_review_slots()
        published = tracker.get_slot("review_publish") is True
        try:
            review = await crm_call(
                reviews().submit,
                customer_id,
                key[0],
                key[1],
                review_stars(tracker.get_slot("review_stars")),
                str(tracker.get_slot("review_text") or ""),
                published,
            )
        except (NotAllowed, NotFound, InvalidInput) as exc:
            log.info("action_submit_review: refused: %s", exc)
            dispatcher.utter_message(response="utter_review_not_possible")
            return clear_review_slots()
        dispatcher.utter_message(
            response="utter_review_thanks_published" if published else "utter_review_thanks_private",
            product=review.product_name,
            stars=str(review.stars),
            link=product_link(review.sku),
        )
        if review.replaced:
            dispatcher.utter_message(response="utter_review_replaced")
        return clear_review_slots()

    def when_unavailable(self, tracker: Tracker) -> list[EventType]:
        return []  # the review stays in the conversation's slots: asked again, it can be kept when the CRM is back
