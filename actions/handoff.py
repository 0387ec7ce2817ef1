"""Bringing in a person: the four triggers, the packet, the queue, and the bot's silence while a person talks.

Triggers: the customer asks for a person (`request_human`); two fallbacks in a row (actions/relationship.py);
a strongly negative message (bot/policies.py predicts `action_request_human`); a complaint from a
high-value customer (actions/service.py). When someone is available the conversation joins the queue with
the handoff packet (handoff/service.py), the customer hears their place and the expected wait, and the
bot pauses (Rasa's ConversationPaused): the agent talks through the console until they resolve it or hand
it back (`action_handback`, run by the console). When nobody is available (outside opening hours or no
agent signed in) the bot says so and takes a message, which becomes a ticket.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, ActiveLoop, ConversationPaused, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from rasa_sdk.types import DomainDict

from actions.common import REQUEST_SLOTS, channel_of, clear_request_slots, crm, crm_call, ticket_for
from crm_adapter.composition import HandoffDesk, get_handoff_desk, get_relationship
from crm_adapter.domain import OPEN_ORDER_STATUSES, CrmUnavailable, NotFound, TicketKind
from handoff.service import NewHandoff, build_packet

log = logging.getLogger(__name__)

REASON_TEXT = {
    "asked": "",
    "fallbacks": ", as I'm not getting this right",
    "negative_sentiment": ": I can tell this has been frustrating",
    "vip_complaint": " to look at this personally",
}
PACKET_SLOTS = ("customer_first_name", "verified", *REQUEST_SLOTS, "highlight_reference", "highlight_detail")


def utcnow() -> datetime:
    return datetime.utcnow().replace(microsecond=0)


def wait_text(wait: timedelta) -> str:
    minutes = round(wait.total_seconds() / 60)
    return "a minute or two" if minutes <= 2 else f"{minutes} minutes"


def reason_for(tracker: Tracker) -> str:
    """Why a person is being brought in when the trigger is the message itself: the customer asked, or the
    escalation policy (bot/policies.py) said why in the `handoff_reason` slot."""
    latest = tracker.latest_message or {}
    if (latest.get("intent") or {}).get("name") == "request_human":
        return "asked"
    return tracker.get_slot("handoff_reason") or "asked"


def transcript(tracker: Tracker) -> list[dict[str, Any]]:
    """What was said in this conversation (its current session), oldest first."""
    said = []
    for event in tracker.events:
        if event.get("event") == "session_started":
            said = []
        elif event.get("event") in ("user", "bot") and event.get("text"):
            who = "customer" if event["event"] == "user" else "bot"
            said.append({"who": who, "text": event["text"], "at": event.get("timestamp")})
    return said


def session_intents(tracker: Tracker) -> list[str]:
    intents: list[str] = []
    for event in tracker.events:
        if event.get("event") == "session_started":
            intents = []
        elif event.get("event") == "user":
            name = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
            if name and not (event.get("text") or "").startswith("/"):
                intents.append(name)
    return intents


def _packet(tracker: Tracker, reason: str, customer_id: str | None) -> tuple[dict[str, Any], str | None]:
    """(packet, value tier); runs in a worker thread (blocking CRM calls)."""
    profile = orders = tickets = None
    relationship = get_relationship()
    if customer_id and relationship is not None:
        try:
            profile = relationship.profile(customer_id)
            orders = [o for o in crm().list_orders(customer_id, 20) if o.status in OPEN_ORDER_STATUSES]
            tickets = crm().list_tickets(customer_id, open_only=True)
        except NotFound:
            profile = None
    said = transcript(tracker)
    if profile is not None and profile.consents.history is False:
        said = []  # history refused: the agent reads the live conversation in the console; nothing is kept
    latest = tracker.latest_message or {}
    packet = build_packet(
        reason=reason,
        verified=bool(tracker.get_slot("verified")),
        profile=profile,
        orders=orders or [],
        tickets=tickets or [],
        transcript=said,
        intents=session_intents(tracker),
        slots={name: tracker.get_slot(name) for name in PACKET_SLOTS},
        sentiment_now=(latest.get("metadata") or {}).get("sentiment"),
    )
    return packet, profile.value.tier if profile is not None else None


async def bring_in_person(dispatcher: CollectingDispatcher, tracker: Tracker, reason: str) -> list[EventType]:
    """Queue the conversation for a person and pause the bot, or, when nobody is available, take a message."""
    desk = get_handoff_desk()
    if desk is None:
        return await _callback_ticket(dispatcher, tracker)
    stop_request: list[EventType] = [*clear_request_slots(), ActiveLoop(None), SlotSet("handoff_reason", None)]
    try:
        existing = await crm_call(desk.handoffs.open_for, tracker.sender_id)
        online = await crm_call(desk.agents.online_agents)
        if existing is not None:
            place = await crm_call(desk.handoffs.place, existing.handoff_id, len(online))
            dispatcher.utter_message(
                response="utter_handoff_already_queued",
                position=max(place.position, 1),
                wait=wait_text(place.expected_wait),
            )
            return [*stop_request, SlotSet("handoff_id", str(existing.handoff_id)), ConversationPaused()]
        now = utcnow()
        if not desk.hours.is_open(now) or not online:
            return stop_request + _nobody_available(dispatcher, desk, reason, now)
        customer_id = tracker.get_slot("customer_id") if tracker.get_slot("verified") else None
        packet, tier = await crm_call(_packet, tracker, reason, customer_id)
        new = NewHandoff(tracker.sender_id, channel_of(tracker), customer_id, reason, tier, packet)
        place = await crm_call(desk.handoffs.request, new, len(online))
    except CrmUnavailable as exc:
        log.warning("handoff: CRM unavailable: %s", exc)
        dispatcher.utter_message(response="utter_handoff_unavailable")
        return stop_request
    dispatcher.utter_message(
        response="utter_handoff_queued",
        reason_text=REASON_TEXT.get(reason, ""),
        position=place.position,
        wait=wait_text(place.expected_wait),
    )
    return [*stop_request, SlotSet("handoff_id", str(place.handoff.handoff_id)), ConversationPaused()]


def _nobody_available(
    dispatcher: CollectingDispatcher, desk: HandoffDesk, reason: str, now: datetime
) -> list[EventType]:
    if desk.hours.is_open(now):
        dispatcher.utter_message(response="utter_handoff_busy", reason_text=REASON_TEXT.get(reason, ""))
    else:
        opening = desk.hours.next_opening(now)
        dispatcher.utter_message(
            response="utter_handoff_closed",
            reason_text=REASON_TEXT.get(reason, ""),
            hours=desk.hours.text,
            next_opening=opening.strftime("%A at %H:%M") if opening else "soon",
        )
    dispatcher.utter_message(response="utter_ask_handoff_message")
    return [ActiveLoop("handoff_message_form"), SlotSet("requested_slot", "handoff_message")]


async def _callback_ticket(dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
    """With an external CRM there is no queue here: a callback ticket in that CRM, with the last messages."""
    last_words = [t["text"] for t in transcript(tracker) if t["who"] == "customer"][-5:]
    description = "Customer asked for a person. Last messages:\n" + "\n".join(f"> {t}" for t in last_words)
    try:
        created = await crm_call(
            crm().open_ticket, ticket_for(tracker, TicketKind.CALLBACK, "Customer asked for a person", description)
        )
    except CrmUnavailable:
        dispatcher.utter_message(response="utter_crm_unavailable")
        return []
    anonymous = created.customer_id is None
    dispatcher.utter_message(
        response="utter_human_callback_anonymous" if anonymous else "utter_human_callback", reference=created.reference
    )
    return clear_request_slots()


class ActionRequestHuman(Action):
    """The customer asked for a person, or wrote something strongly negative (bot/policies.py)."""

    def name(self) -> str:
        return "action_request_human"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        return await bring_in_person(dispatcher, tracker, reason_for(tracker))


class ValidateHandoffMessageForm(FormValidationAction):
    def name(self) -> str:
        return "validate_handoff_message_form"

    def validate_handoff_message(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = " ".join(str(value or "").split())
        if len(text) < 3:
            dispatcher.utter_message(response="utter_ask_handoff_message")
            return {"handoff_message": None}
        return {"handoff_message": text[:5000]}


class ActionLeaveMessage(Action):
    """Nobody was available: the customer's message, with the conversation, becomes a ticket for the team."""

    def name(self) -> str:
        return "action_leave_message"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        message = tracker.get_slot("handoff_message") or ""
        said = [f"{t['who']}: {t['text']}" for t in transcript(tracker)][-20:]
        description = f"Message for the team: {message}\n\nThe conversation:\n" + "\n".join(said)
        try:
            created = await crm_call(
                crm().open_ticket, ticket_for(tracker, TicketKind.CALLBACK, f"Message: {message[:80]}", description)
            )
        except CrmUnavailable:
            dispatcher.utter_message(response="utter_crm_unavailable")
            return []  # the message stays in its slot
        desk = get_handoff_desk()
        opening = desk.hours.next_opening(utcnow()) if desk is not None else None
        when = (
            f"Our team will reply when they're back, {opening.strftime('%A at %H:%M')}."
            if opening and desk is not None and not desk.hours.is_open(utcnow())
            else "Our team will reply within 4 working hours."
        )
        dispatcher.utter_message(response="utter_handoff_message_taken", reference=created.reference, reply_when=when)
        return [SlotSet("handoff_message", None)]


class ActionHandback(Action):
    """Run by the console when an agent resolves the conversation or hands it back: the bot speaks again,
    with everything it knew (slots) and knowing who it is talking to."""

    def name(self) -> str:
        return "action_handback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        agent = tracker.get_slot("handoff_agent") or "Our team"
        resolved = tracker.get_slot("handoff_outcome") == "resolved"
        dispatcher.utter_message(response="utter_handoff_resolved" if resolved else "utter_handback", agent=agent)
        # Listening again: the next message is a fresh turn for the rules (the console ran this action, so
        # Rasa predicts nothing after it; the messages sent during the handoff were never predicted on).
        return [SlotSet("handoff_id", None), SlotSet("handoff_outcome", None), ActionExecuted("action_listen")]
