"""What every action shares: CRM access off the event loop, graceful failure, formatting."""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from crm_adapter.composition import get_crm
from crm_adapter.domain import CrmUnavailable, NewTicket, TicketKind
from crm_adapter.identity import UNKNOWN_CHANNEL
from crm_adapter.ports import CrmService

log = logging.getLogger(__name__)
T = TypeVar("T")

IDENTITY_SLOTS = ("identity_email", "identity_proof")
MAX_IDENTITY_ATTEMPTS = 3  # failed proofs per session before verification locks
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
)
PROFILE_SLOTS = (
    "customer_id",
    "customer_first_name",
    "verified",
    "highlight_kind",
    "highlight_reference",
    "highlight_detail",
    "verified_by",
    "link_offered",
)


async def crm_call(fn: Callable[..., T], *args: Any) -> T:
    """Run a blocking CRM call in a worker thread so the action server's event loop stays free."""
    return await asyncio.to_thread(fn, *args)


def crm() -> CrmService:
    return get_crm()


def channel_of(tracker: Tracker) -> str:
    """The channel the customer is talking on, as stamped by the server-side channel connector."""
    latest = tracker.latest_message or {}
    for metadata in (latest.get("metadata"), tracker.get_slot("session_started_metadata")):
        if isinstance(metadata, dict) and isinstance(metadata.get("channel"), str):
            return metadata["channel"]
    return tracker.get_latest_input_channel() or UNKNOWN_CHANNEL


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
            locked = (tracker.get_slot("identity_attempts") or 0) >= MAX_IDENTITY_ATTEMPTS
            dispatcher.utter_message(response="utter_identity_locked" if locked else "utter_not_verified")
            return [SlotSet(slot, None) for slot in IDENTITY_SLOTS]
        events = await self.act_for(customer_id, dispatcher, tracker, domain)
        if not any(e.get("event") == "slot" and e.get("name") == "awaiting" for e in events):
            from actions.relationship import follow_up  # one question at most: consent, or a preference

            events = [*events, *await follow_up(dispatcher, tracker, customer_id)]
        return events

    @abstractmethod
    async def act_for(
        self, customer_id: str, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """The action's work for the verified customer `customer_id`."""


def ticket_for(tracker: Tracker, kind: TicketKind, subject: str, description: str) -> NewTicket:
    """A ticket from this conversation: the verified customer (if any), the channel and the sender id."""
    return NewTicket(
        kind=kind,
        subject=subject,
        description=description,
        customer_id=tracker.get_slot("customer_id") if tracker.get_slot("verified") else None,
        channel=channel_of(tracker),
        sender_id=tracker.sender_id,
    )


def clear_request_slots() -> list[EventType]:
    return [SlotSet(slot, None) for slot in REQUEST_SLOTS]


def money(cents: int, currency: str = "GBP") -> str:
    symbol = {"GBP": "£", "EUR": "€", "USD": "$"}.get(currency, currency + " ")
    return f"{symbol}{cents / 100:,.2f}"


def day(value: datetime | None) -> str:
    return value.strftime("%A %-d %B") if value else "to be confirmed"
