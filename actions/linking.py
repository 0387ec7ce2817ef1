"""Answers to the link questions (remember this messaging account? the emailed code), mapped to replies.
The rules, and why nothing is linked without a one-time code and a yes, are in crm_adapter/identity.py."""

from __future__ import annotations

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import QUESTIONS, account_of, crm, crm_call, entity, verified_customer
from crm_adapter.identity import AccountLinking, LinkStep

# What each step says: the responses, then whether the question is closed, then the identity_attempts slot.
_SAID = {
    "not_verified": ("utter_not_verified",),
    "declined": ("utter_link_declined",),
    "ask_again": ("utter_ask_link_channel",),
    "code_sent": ("utter_link_code_sent", "utter_ask_link_code"),
    "ask_code_again": ("utter_ask_link_code",),
    "code_wrong": ("utter_link_code_wrong", "utter_ask_link_code"),
    "code_locked": ("utter_link_code_locked",),
    "linked": ("utter_channel_linked",),
    "failed": ("utter_link_failed",),
}
_CLOSES = {"not_verified", "declined", "code_locked", "linked", "failed"}


async def answer_link(
    awaiting: str, intent: str | None, dispatcher: CollectingDispatcher, tracker: Tracker
) -> list[EventType]:
    """The customer's answer to a link question (`awaiting` is link_channel or link_code)."""
    step = await crm_call(
        AccountLinking(crm()).answer,
        awaiting,
        intent,
        verified_customer(tracker),
        account_of(tracker),
        verified_by=tracker.get_slot("verified_by"),
        code=entity(tracker, "otp_code"),
        text=(tracker.latest_message or {}).get("text") or "",
        failures=tracker.get_slot("identity_attempts"),
    )
    for response in _SAID[step.result]:
        dispatcher.utter_message(response=response, **_values(response, step))
    events: list[EventType] = [SlotSet("awaiting", None)] if step.result in _CLOSES else []
    if step.result == "code_sent":
        events.append(SlotSet("awaiting", "link_code"))
    if step.failures is not None:
        events.append(SlotSet("identity_attempts", float(step.failures) if step.result == "linked" else step.failures))
    return events


def _values(response: str, step: LinkStep) -> dict[str, str]:
    if response == "utter_link_code_sent":
        return {"channel": step.label or "", "email": step.masked_email or ""}
    if response in ("utter_link_declined", QUESTIONS["link_channel"], "utter_channel_linked"):
        return {"channel": step.label or ""}
    return {}
