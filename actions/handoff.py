"""Bringing in a person, as the bot says it: the actions read the conversation, ask the handoff desk
(handoff/desk.py), and turn its outcome into what the bot says and does.

Triggers: the customer asks for a person (`request_human`); two fallbacks in a row (actions/relationship.py);
a strongly negative message (bot/policies.py predicts `action_request_human`); a complaint from a
high-value customer (actions/service.py). When someone is available the conversation joins the queue with
the handoff packet (handoff/service.py), the customer hears their place and the expected wait, and the
bot pauses (Rasa's ConversationPaused): the agent talks through the console until they resolve it or hand
it back (`action_handback`, run by the console). When nobody is available (outside opening hours or no
agent signed in) the bot says so and takes a message, which becomes a ticket. With an external CRM the
request becomes a callback ticket in that CRM.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, ActiveLoop, ConversationPaused, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from rasa_sdk.types import DomainDict

from actions.common import REQUEST_SLOTS, channel_of, clear_request_slots, crm_call
from crm_adapter.domain import CrmUnavailable
from handoff.desk import Conversation, HandoffOutcome, HandoffRequest, Result, Said, trigger_reason
from hearth.container import get_handoff_desk, get_knowledge

log = logging.getLogger(__name__)

REASON_TEXT = {
    "asked": "",
    "fallbacks": ", as I'm not getting this right",
    "negative_sentiment": ": I can tell this has been frustrating",
    "vip_complaint": " to look at this personally",
}
PACKET_SLOTS = ("customer_first_name", "verified", *REQUEST_SLOTS, "highlight_reference", "highlight_detail")


def wait_text(wait: timedelta) -> str:
    minutes = round(wait.total_seconds() / 60)
    return "a minute or two" if minutes <= 2 else f"{minutes} minutes"


def when_text(at: datetime | None) -> str:
    return at.strftime("%A at %H:%M") if at else "soon"


# ---- reading the conversation -----------------------------------------------------------------


def transcript(tracker: Tracker) -> tuple[Said, ...]:
    """What was said in this conversation (its current session), oldest first."""
    said: list[Said] = []
    for event in tracker.events:
        if event.get("event") == "session_started":
            said = []
        elif event.get("event") in ("user", "bot") and event.get("text"):
            who = "customer" if event["event"] == "user" else "bot"
            said.append(Said(who, event["text"], event.get("timestamp")))
    return tuple(said)


def session_intents(tracker: Tracker) -> tuple[str, ...]:
    intents: list[str] = []
    for event in tracker.events:
        if event.get("event") == "session_started":
            intents = []
        elif event.get("event") == "user":
            name = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
            if name and not (event.get("text") or "").startswith("/"):
                intents.append(name)
    return tuple(intents)


def conversation(tracker: Tracker) -> Conversation:
    verified = bool(tracker.get_slot("verified"))
    return Conversation(
        sender_id=tracker.sender_id,
        channel=channel_of(tracker),
        customer_id=tracker.get_slot("customer_id") if verified else None,
        verified=verified,
        transcript=transcript(tracker),
        intents=session_intents(tracker),
        slots={name: tracker.get_slot(name) for name in PACKET_SLOTS},
        sentiment_now=((tracker.latest_message or {}).get("metadata") or {}).get("sentiment"),
    )


# ---- saying the outcome -----------------------------------------------------------------------


def _stop_request() -> list[EventType]:
    return [*clear_request_slots(), ActiveLoop(None), SlotSet("handoff_reason", None)]


def _paused(dispatcher: CollectingDispatcher, outcome: HandoffOutcome) -> list[EventType]:
    if outcome.agent_name:
        dispatcher.utter_message(
            response="utter_handoff_assigned", reason_text=REASON_TEXT.get(outcome.reason, ""), agent=outcome.agent_name
        )
    elif outcome.result is Result.ALREADY_QUEUED:
        dispatcher.utter_message(
            response="utter_handoff_already_queued", position=outcome.position, wait=wait_text(outcome.expected_wait)
        )
    else:
        dispatcher.utter_message(
            response="utter_handoff_queued",
            reason_text=REASON_TEXT.get(outcome.reason, ""),
            position=outcome.position,
            wait=wait_text(outcome.expected_wait),
        )
    return [*_stop_request(), SlotSet("handoff_id", str(outcome.handoff_id)), ConversationPaused()]


def _nobody_available(dispatcher: CollectingDispatcher, outcome: HandoffOutcome) -> list[EventType]:
    reason_text = REASON_TEXT.get(outcome.reason, "")
    if outcome.closed:
        dispatcher.utter_message(
            response="utter_handoff_closed",
            reason_text=reason_text,
            hours=outcome.hours,
            next_opening=when_text(outcome.next_opening),
        )
    else:
        dispatcher.utter_message(response="utter_handoff_busy", reason_text=reason_text)
    dispatcher.utter_message(response="utter_ask_handoff_message")
    return [*_stop_request(), ActiveLoop("handoff_message_form"), SlotSet("requested_slot", "handoff_message")]


def _unavailable(dispatcher: CollectingDispatcher, outcome: HandoffOutcome) -> list[EventType]:
    dispatcher.utter_message(response="utter_handoff_unavailable")
    return _stop_request()


def _callback(dispatcher: CollectingDispatcher, outcome: HandoffOutcome) -> list[EventType]:
    response = "utter_human_callback" if outcome.customer_known else "utter_human_callback_anonymous"
    dispatcher.utter_message(response=response, reference=outcome.ticket_reference)
    return clear_request_slots()


def _callback_failed(dispatcher: CollectingDispatcher, outcome: HandoffOutcome) -> list[EventType]:
    dispatcher.utter_message(response="utter_crm_unavailable")
    return []


def _not_triggered(dispatcher: CollectingDispatcher, outcome: HandoffOutcome) -> list[EventType]:
    return []


SAY: dict[Result, Callable[[CollectingDispatcher, HandoffOutcome], list[EventType]]] = {
    Result.QUEUED: _paused,
    Result.ALREADY_QUEUED: _paused,
    Result.NOBODY_AVAILABLE: _nobody_available,
    Result.UNAVAILABLE: _unavailable,
    Result.CALLBACK: _callback,
    Result.CALLBACK_FAILED: _callback_failed,
    Result.NOT_TRIGGERED: _not_triggered,
}


async def bring_in_person(dispatcher: CollectingDispatcher, tracker: Tracker, reason: str) -> list[EventType]:
    """Queue the conversation for a person and pause the bot, or, when nobody is available, take a message."""
    outcome = await crm_call(get_handoff_desk().bring_in, HandoffRequest(reason, conversation(tracker)))
    question = str(tracker.get_slot("knowledge_question") or "")
    if question.isdigit():  # the help centre's last answer in this conversation did not spare a person
        try:
            await crm_call(get_knowledge().handed_off, int(question))
        except CrmUnavailable as exc:
            log.warning("help centre: handoff not recorded: %s", exc)
    return SAY[outcome.result](dispatcher, outcome)


class ActionRequestHuman(Action):
    """The customer asked for a person, or wrote something strongly negative (bot/policies.py)."""

    def name(self) -> str:
        return "action_request_human"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        intent = ((tracker.latest_message or {}).get("intent") or {}).get("name")
        return await bring_in_person(dispatcher, tracker, trigger_reason(intent, tracker.get_slot("handoff_reason")))


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
        taken = await crm_call(get_handoff_desk().take_message, conversation(tracker), message)
        if taken.reference is None:
            dispatcher.utter_message(response="utter_crm_unavailable")
            return []  # the message stays in its slot
        when = (
            f"Our team will reply when they're back, {when_text(taken.back_at)}."
            if taken.back_at
            else "Our team will reply within 4 working hours."
        )
        dispatcher.utter_message(response="utter_handoff_message_taken", reference=taken.reference, reply_when=when)
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
