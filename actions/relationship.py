"""Consent, preferences, satisfaction surveys and data rights in the conversation.

The bot asks at most one question at a time and remembers which (the `awaiting` slot); the
customer's yes, no or score comes back to `action_answer_pending`. A stale answer (the
customer talked about something else in between) is not taken as consent to anything.
The rules are in relationship/ (surveys, consent_flow, follow_up, privacy_requests, questions) and,
for linking a messaging account, crm_adapter/identity.py; these actions map their outcomes to replies.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable

from rasa_sdk import Action, Tracker
from rasa_sdk.events import AllSlotsReset, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.account import answer_email_change
from actions.common import (
    QUESTIONS,
    VerifiedCrmAction,
    ask_consent,
    channel_of,
    crm,
    crm_call,
    entity,
    intent_of,
    verified_customer,
)
from actions.forms import ask_again
from actions.handoff import bring_in_person
from actions.knowledge import answer_from_knowledge, knowledge_feedback
from actions.linking import answer_link
from crm_adapter.domain import PURPOSES, CrmUnavailable
from crm_adapter.identity import AccountLinking, Proof
from hearth.container import container, get_relationship
from relationship.consent_flow import ConsentFlow
from relationship.follow_up import FollowUp, describe_proposal
from relationship.privacy_requests import PrivacyOutcome, PrivacyRequests
from relationship.questions import not_an_answer
from relationship.surveys import SurveyAnswer, Surveys

log = logging.getLogger(__name__)
Answer = Callable[[str, str | None, CollectingDispatcher, Tracker], Awaitable[list[EventType]]]
YesNo = Callable[[str, bool, str, CollectingDispatcher, Tracker], Awaitable[list[EventType]]]

_NOT_AN_ANSWER = {"help": "utter_help", "offer_person": "utter_fallback_offer_human"}
_SURVEY_SAID = {"declined": "utter_goodbye", "unreadable": "utter_ask_score_again", "ask_nps": "utter_ask_nps",
                "thanks": "utter_feedback_thanks", "sorry": "utter_feedback_sorry",
                "unavailable": "utter_consents_unavailable"}  # fmt: skip
_CONFIRM_SAID = {"forgotten": "utter_forgotten", "kept": "utter_forget_kept", "erased": "utter_erased",
                 "erase_cancelled": "utter_erase_cancelled", "unavailable": "utter_consents_unavailable"}  # fmt: skip


def surveys() -> Surveys:
    return Surveys(get_relationship())


def privacy() -> PrivacyRequests:
    return PrivacyRequests(crm(), get_relationship(), container().export_mail.deliver)


def _text(tracker: Tracker) -> str:
    return (tracker.latest_message or {}).get("text") or ""


def just_asked(tracker: Tracker, awaiting: str) -> bool:
    """Whether the bot's last words before this message were the question now being answered."""
    events = list(tracker.events)
    latest_user = max((i for i, e in enumerate(events) if e.get("event") == "user"), default=None)
    if latest_user is None:
        return False
    for event in reversed(events[:latest_user]):
        if event.get("event") == "user":
            return False  # the customer said something else after the question
        if event.get("event") == "bot":
            response = (event.get("metadata") or {}).get("utter_action")
            return response is None or response == QUESTIONS.get(awaiting)
    return False


def fallbacks_in_a_row(tracker: Tracker) -> int:
    """How many of the customer's latest messages in a row the bot did not understand (this one included)."""
    count = 0
    for event in reversed(tracker.events):
        if event.get("event") == "session_started":
            break
        if event.get("event") == "user":
            if ((event.get("parse_data") or {}).get("intent") or {}).get("name") != "nlu_fallback":
                break
            count += 1
    return count


def intents_of(tracker: Tracker) -> list[str | None]:
    """The intent of each of the customer's messages in this conversation."""
    return [
        ((e.get("parse_data") or {}).get("intent") or {}).get("name")
        for e in tracker.events
        if e.get("event") == "user"
    ]


def handed_to_person(tracker: Tracker) -> bool:
    return any(e.get("event") == "action" and e.get("name") == "action_request_human" for e in tracker.events)


class ActionGoodbye(Action):
    """Says goodbye; after a conversation that served a request, first asks how it went (CSAT, then NPS now
    and then: relationship/surveys.py)."""

    def name(self) -> str:
        return "action_goodbye"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        asked = bool(tracker.get_slot("survey_asked"))
        start = await crm_call(surveys().start, verified_customer(tracker), intents_of(tracker), asked)
        if not start.csat:
            dispatcher.utter_message(response="utter_goodbye")
            return [SlotSet("awaiting", None)]
        dispatcher.utter_message(response=QUESTIONS["csat"])
        return [SlotSet("survey_asked", True), SlotSet("nps_due", start.nps), SlotSet("awaiting", "csat")]


class ActionAnswerPending(Action):
    """A yes, a no or a score outside a form: the answer to the question the bot asked, if it just asked one."""

    def name(self) -> str:
        return "action_answer_pending"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        awaiting = tracker.get_slot("awaiting")
        intent = intent_of(tracker)
        if not awaiting or not just_asked(tracker, awaiting):
            return await _not_an_answer(awaiting, intent, dispatcher, tracker)
        try:
            return await ANSWERS.get(awaiting, _yes_no)(awaiting, intent, dispatcher, tracker)
        except CrmUnavailable as exc:
            log.warning("answer to %s: CRM unavailable: %s", awaiting, exc)
            dispatcher.utter_message(response="utter_crm_unavailable")
            return []  # the question stays open: the customer can answer again


async def _not_an_answer(
    awaiting: str | None, intent: str | None, dispatcher: CollectingDispatcher, tracker: Tracker
) -> list[EventType]:
    asked: list[EventType] = []
    if intent == "nlu_fallback" and not tracker.active_loop_name:  # perhaps a question the help centre answers
        said, asked = await answer_from_knowledge(dispatcher, tracker)
        if said:
            return asked
    what = not_an_answer(intent, fallbacks_in_a_row(tracker))
    if what == "bring_in_person":
        return [*asked, SlotSet("awaiting", None), *await bring_in_person(dispatcher, tracker, "fallbacks")]
    if ask_again(dispatcher, tracker):  # a message not understood in the middle of a form: its question again
        return asked
    dispatcher.utter_message(response=_NOT_AN_ANSWER.get(what, "utter_anything_else"))
    return [*asked, SlotSet("awaiting", None)] if awaiting else asked


async def _knowledge_helpful(
    awaiting: str, intent: str | None, dispatcher: CollectingDispatcher, tracker: Tracker
) -> list[EventType]:
    """Yes or no to "Did that answer your question?"; a message not understood instead is a new question."""
    if intent in ("affirm", "deny"):
        return await knowledge_feedback(awaiting, intent, dispatcher, tracker)
    return [SlotSet("awaiting", None), *await _not_an_answer(None, intent, dispatcher, tracker)]


async def _score(
    awaiting: str, intent: str | None, dispatcher: CollectingDispatcher, tracker: Tracker
) -> list[EventType]:
    answer = SurveyAnswer(
        kind=awaiting,
        intent=intent,
        text=_text(tracker),
        rating=entity(tracker, "rating"),
        customer_id=verified_customer(tracker),
        handed_to_person=handed_to_person(tracker),
        nps_due=bool(tracker.get_slot("nps_due")),
        channel=channel_of(tracker),
        sender_id=tracker.sender_id,
    )
    step = await crm_call(surveys().answer, answer)
    dispatcher.utter_message(
        response=_SURVEY_SAID[step.result], **({"range": step.range_text} if step.result == "unreadable" else {})
    )
    if step.result == "unreadable":
        return []
    if step.result == "ask_nps":
        return [SlotSet("awaiting", "nps"), SlotSet("nps_due", False)]
    return [SlotSet("awaiting", None), *([SlotSet("nps_due", False)] if step.result == "declined" else [])]


async def _yes_no(
    awaiting: str, intent: str | None, dispatcher: CollectingDispatcher, tracker: Tracker
) -> list[EventType]:
    """A question answered with yes or no; anything else asks it again."""
    if intent not in ("affirm", "deny"):
        proposal = json.loads(tracker.get_slot("proposal") or "{}")
        values = {"description": describe_proposal(proposal)} if awaiting == "preferences" else {}
        dispatcher.utter_message(response=QUESTIONS[awaiting], **values)
        return []
    customer_id = verified_customer(tracker)
    if not customer_id:
        dispatcher.utter_message(response="utter_not_verified")
        return [SlotSet("awaiting", None)]
    return await YES_NO[awaiting](awaiting, intent == "affirm", customer_id, dispatcher, tracker)


async def _consent(
    awaiting: str, yes: bool, customer_id: str, dispatcher: CollectingDispatcher, tracker: Tracker
) -> list[EventType]:
    review = bool(tracker.get_slot("consent_review"))
    step = await crm_call(
        ConsentFlow(get_relationship()).answer, customer_id, awaiting.removeprefix("consent_"), yes, review
    )
    if step.next_purpose:
        return ask_consent(dispatcher, step.next_purpose)
    if step.unavailable:
        dispatcher.utter_message(response="utter_consents_unavailable")
        return [SlotSet("awaiting", None)]
    dispatcher.utter_message(response="utter_consents_saved")
    return [SlotSet("awaiting", None), SlotSet("consent_review", False)]


async def _confirm(
    awaiting: str, yes: bool, customer_id: str, dispatcher: CollectingDispatcher, tracker: Tracker
) -> list[EventType]:
    answer = await crm_call(privacy().confirm, customer_id, awaiting, yes, tracker.sender_id)
    dispatcher.utter_message(response=_CONFIRM_SAID[answer.result])
    return [AllSlotsReset()] if answer.result == "erased" else [SlotSet("awaiting", None)]


async def _proposal(
    awaiting: str, yes: bool, customer_id: str, dispatcher: CollectingDispatcher, tracker: Tracker
) -> list[EventType]:
    values = json.loads(tracker.get_slot("proposal") or "{}")
    step = await crm_call(FollowUp(AccountLinking(crm()), get_relationship()).answer_proposal, customer_id, values, yes)
    if step.result == "unavailable":
        dispatcher.utter_message(response="utter_consents_unavailable")
        return [SlotSet("awaiting", None)]
    if step.result == "saved":
        dispatcher.utter_message(response="utter_preferences_saved", preferences=step.saved)
    else:
        dispatcher.utter_message(response="utter_preferences_not_saved")
    return [SlotSet("awaiting", None), SlotSet("proposal", None)]


async def _step_up(
    awaiting: str, intent: str | None, dispatcher: CollectingDispatcher, tracker: Tracker
) -> list[EventType]:
    """The code sent to the address on file before an erasure, after an order number as the only proof."""
    customer_id = verified_customer(tracker)
    if not customer_id:
        dispatcher.utter_message(response="utter_not_verified")
        return [SlotSet("awaiting", None)]
    proof = Proof.from_text(_text(tracker))
    code = entity(tracker, "otp_code") or (proof.value if proof and proof.kind == "code" else None)
    failures = tracker.get_slot("identity_attempts")
    step = await crm_call(privacy().step_up, customer_id, awaiting, intent, code, failures)
    said = _STEP_UP_SAID[step.result]
    for response in said:
        dispatcher.utter_message(response=response)
    if step.result == "confirm" and step.question:
        dispatcher.utter_message(response=QUESTIONS[step.question])
    events: list[EventType] = [SlotSet("awaiting", step.question if step.result == "confirm" else None)]
    if step.result in ("ask_code_again", "code_wrong"):
        dispatcher.utter_message(response=QUESTIONS[awaiting])
        events = []
    if step.failures is not None:
        events.append(SlotSet("identity_attempts", float(step.failures)))
    return events


_STEP_UP_SAID: dict[str, tuple[str, ...]] = {
    "confirm": (),
    "ask_code_again": (),
    "code_wrong": ("utter_erase_code_wrong",),
    "code_locked": ("utter_erase_code_locked",),
    "cancelled": ("utter_erase_cancelled",),
}


ANSWERS: dict[str, Answer] = {
    "csat": _score,
    "nps": _score,
    "link_channel": answer_link,
    "link_code": answer_link,
    "email_current_code": answer_email_change,
    "email_new_code": answer_email_change,
    "erase_code": _step_up,
    "knowledge_helpful": _knowledge_helpful,
}
YES_NO: dict[str, YesNo] = {
    **{f"consent_{purpose}": _consent for purpose in PURPOSES},
    "forget_me": _confirm,
    "erase": _confirm,
    "preferences": _proposal,
}


class ActionPrivacyRequest(VerifiedCrmAction):
    """What the customer asked about their data, once they are verified (relationship/privacy_requests.py)."""

    def name(self) -> str:
        return "action_privacy_request"

    async def act_for(
        self, customer_id: str, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        request, text = tracker.get_slot("privacy_request"), tracker.get_slot("preference_text") or ""
        outcome = await crm_call(privacy().handle, customer_id, request, text, tracker.get_slot("verified_by"))
        return [SlotSet("privacy_request", None), SlotSet("preference_text", None), *_said(outcome, dispatcher)]


def _said(outcome: PrivacyOutcome, dispatcher: CollectingDispatcher) -> list[EventType]:
    """The reply to a privacy request, and the question it leaves open."""
    if outcome.result == "confirm" and outcome.question:
        dispatcher.utter_message(response=QUESTIONS[outcome.question])
        return [SlotSet("awaiting", outcome.question)]
    if outcome.result == "step_up" and outcome.question:
        dispatcher.utter_message(response="utter_erase_code_sent", email=outcome.email)
        dispatcher.utter_message(response=QUESTIONS[outcome.question])
        return [SlotSet("awaiting", outcome.question)]
    if outcome.result == "consents" and outcome.question:
        dispatcher.utter_message(response="utter_consents_current", **outcome.consents)
        return [
            SlotSet("consent_review", True),
            SlotSet("consent_asked", True),
            *ask_consent(dispatcher, outcome.question),
        ]
    said = {
        "preferences_unclear": ("utter_preferences_unclear", {}),
        "preferences_saved": ("utter_preferences_saved", {"preferences": outcome.text}),
        "export_sent": ("utter_export_sent", {"size": outcome.size, "email": outcome.email}),
        "export_failed": ("utter_export_failed", {}),
        "summary": ("utter_my_data", {"summary": outcome.text}),
        **{
            result: (f"utter_{result}", {"email": outcome.email})
            for result in ("newsletter_on", "newsletter_already_on", "newsletter_off", "newsletter_already_off")
        },
        "unavailable": ("utter_consents_unavailable", {}),
    }
    response, values = said[outcome.result]
    dispatcher.utter_message(response=response, **values)
    return []
