"""What every action shares: CRM access off the event loop, graceful failure, formatting."""

from __future__ import annotations

import asyncio
import json
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from crm_adapter.domain import CrmUnavailable, NewTicket, TicketKind
from crm_adapter.identity import UNKNOWN_CHANNEL, AccountLinking, ChannelAccount, LinkOffer, session_locked
from crm_adapter.ports import CrmService, WebsiteSignIns
from hearth.container import get_crm, get_relationship, get_website_sign_ins
from relationship.follow_up import ConsentQuestion, ConversationSoFar, FollowUp, FollowUpQuestion

log = logging.getLogger(__name__)
T = TypeVar("T")

IDENTITY_SLOTS = ("identity_email", "identity_proof")
# What a request collects; cleared when the request is done, dropped, or handed to a person.
REQUEST_SLOTS = (
    "order_number",
    "problem_description",
    "return_reason",
    "confirm_cancel",
    "new_email",
    "new_phone",
    "new_address",
    "complaint_text",
    "payment_issue",
    "change_kind",
    "change_item",
    "change_quantity",
    "change_address",
    "confirm_change",
    "review_item",
    "review_stars",
    "review_text",
    "review_publish",
)
# What the bot keeps for itself while a request runs (not shown to an agent); cleared with the request's slots.
REQUEST_WORKING_SLOTS = (
    "offered_orders",
    "order_cancellable",
    "cancel_refund",
    "request_text",
    "order_changeable",
    "order_lines",
    "change_refused",
    "reset_email",
    "review_items",
)
# The questions the bot asks outside a form, by the value of the `awaiting` slot that remembers them.
QUESTIONS = {
    "consent_history": "utter_ask_consent_history",
    "consent_service": "utter_ask_consent_service",
    "consent_marketing": "utter_ask_consent_marketing",
    "forget_me": "utter_ask_forget_me",
    "erase": "utter_ask_erase",
    "preferences": "utter_ask_preferences",
    "csat": "utter_ask_csat",
    "nps": "utter_ask_nps",
    "link_channel": "utter_ask_link_channel",
    "link_code": "utter_ask_link_code",
    "email_current_code": "utter_ask_email_current_code",
    "email_new_code": "utter_ask_email_new_code",
    "erase_code": "utter_ask_erase_code",
    "knowledge_helpful": "utter_ask_knowledge_helpful",
}
PROFILE_SLOTS = (
    "customer_id",
    "customer_first_name",
    "verified",
    "highlight_kind",
    "highlight_reference",
    "highlight_detail",
    "verified_by",
    "link_offered",
    "proof_order",
)


async def crm_call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a blocking CRM call in a worker thread so the action server's event loop stays free."""
    return await asyncio.to_thread(fn, *args, **kwargs)


def crm() -> CrmService:
    return get_crm()


def website_sign_ins() -> WebsiteSignIns:
    return get_website_sign_ins()


def channel_of(tracker: Tracker) -> str:
    """The channel the customer is talking on, as stamped by the server-side channel connector."""
    latest = tracker.latest_message or {}
    for metadata in (latest.get("metadata"), tracker.get_slot("session_started_metadata")):
        if isinstance(metadata, dict) and isinstance(metadata.get("channel"), str):
            return metadata["channel"]
    return tracker.get_latest_input_channel() or UNKNOWN_CHANNEL


def account_of(tracker: Tracker) -> ChannelAccount:
    return ChannelAccount(channel_of(tracker), tracker.sender_id)


def verified_customer(tracker: Tracker) -> str | None:
    return tracker.get_slot("customer_id") if tracker.get_slot("verified") else None


def intent_of(tracker: Tracker) -> str | None:
    """The latest message's intent."""
    return ((tracker.latest_message or {}).get("intent") or {}).get("name")


def entity(tracker: Tracker, name: str) -> str | None:
    """The latest message's first value of entity `name`, as text."""
    value = next(tracker.get_latest_entity_values(name), None)
    return str(value) if value is not None else None


class CrmAction(Action, ABC):
    """An action that talks to the CRM; if the CRM can't be reached the customer hears so, and the chat goes on."""

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        try:
            return await self.act(dispatcher, tracker, domain)
        except CrmUnavailable as exc:
            log.warning("%s: CRM unavailable: %s", self.name(), exc)
            dispatcher.utter_message(response="utter_crm_unavailable")
            return self.when_unavailable(tracker)

    @abstractmethod
    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        """The action's work; CrmUnavailable raised here becomes a helpful reply."""

    def when_unavailable(self, tracker: Tracker) -> list[EventType]:
        """Events to return when the CRM is down; by default keep every slot, so nothing is lost."""
        return []


class VerifiedCrmAction(CrmAction):
    """A CRM action that only runs for a verified customer (forms verify before they submit)."""

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        customer_id = tracker.get_slot("customer_id")
        if not tracker.get_slot("verified") or not customer_id:
            # The failed-attempt count is kept: a locked session stays locked until it ends.
            locked = session_locked(tracker.get_slot("identity_attempts"))
            dispatcher.utter_message(response="utter_identity_locked" if locked else "utter_not_verified")
            return [SlotSet(slot, None) for slot in IDENTITY_SLOTS]
        events = await self.act_for(customer_id, dispatcher, tracker, domain)
        if not any(e.get("event") == "slot" and e.get("name") == "awaiting" for e in events):
            events = [*events, *await follow_up(dispatcher, tracker, customer_id)]  # one question at most
        return events

    @abstractmethod
    async def act_for(
        self, customer_id: str, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """The action's work for the verified customer `customer_id`."""


async def follow_up(dispatcher: CollectingDispatcher, tracker: Tracker, customer_id: str) -> list[EventType]:
    """After a request is done for a verified customer: a link offer, a consent question or a preference
    proposal (relationship/follow_up.py), or nothing."""
    so_far = ConversationSoFar(
        link_offered=bool(tracker.get_slot("link_offered")),
        consent_asked=bool(tracker.get_slot("consent_asked")),
        verified_by=tracker.get_slot("verified_by"),
    )
    service = FollowUp(AccountLinking(crm()), get_relationship())
    return ask(dispatcher, await crm_call(service.next_question, customer_id, account_of(tracker), so_far))


def ask(dispatcher: CollectingDispatcher, question: FollowUpQuestion | None) -> list[EventType]:
    """Put a question to the customer and remember it (`awaiting`); a link offer for an account linked
    already says so instead."""
    if isinstance(question, LinkOffer):
        if question.already_linked:
            dispatcher.utter_message(response="utter_channel_already_linked", channel=question.label)
            return []
        dispatcher.utter_message(response=QUESTIONS["link_channel"], channel=question.label)
        return [SlotSet("link_offered", True), SlotSet("awaiting", "link_channel")]
    if isinstance(question, ConsentQuestion):
        return [SlotSet("consent_asked", True), *ask_consent(dispatcher, question.purpose)]
    if question is None:
        return []
    dispatcher.utter_message(response=QUESTIONS["preferences"], description=question.description)
    return [SlotSet("proposal", json.dumps(question.values)), SlotSet("awaiting", "preferences")]


def ask_consent(dispatcher: CollectingDispatcher, purpose: str) -> list[EventType]:
    dispatcher.utter_message(response=QUESTIONS[f"consent_{purpose}"])
    return [SlotSet("awaiting", f"consent_{purpose}")]


def ticket_for(
    tracker: Tracker, kind: TicketKind, subject: str, description: str, order_number: str | None = None
) -> NewTicket:
    """A ticket from this conversation: the verified customer (if any), the channel, the sender id and the order it
    is about (if any)."""
    return NewTicket(
        kind=kind,
        subject=subject,
        description=description,
        customer_id=tracker.get_slot("customer_id") if tracker.get_slot("verified") else None,
        channel=channel_of(tracker),
        sender_id=tracker.sender_id,
        order_number=order_number,
    )


def clear_request_slots() -> list[EventType]:
    return [SlotSet(slot, None) for slot in REQUEST_SLOTS + REQUEST_WORKING_SLOTS]


def money(cents: int, currency: str = "GBP") -> str:
    symbol = {"GBP": "£", "EUR": "€", "USD": "$"}.get(currency, currency + " ")
    return f"{symbol}{cents / 100:,.2f}"


def day(value: datetime | None) -> str:
    return value.strftime("%A %-d %B") if value else "to be confirmed"
