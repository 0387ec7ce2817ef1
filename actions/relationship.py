"""Consent, preferences, satisfaction surveys and data rights in the conversation.

The bot asks at most one question at a time and remembers which (the `awaiting` slot); the
customer's yes, no or score comes back to `action_answer_pending`. A stale answer (the
customer talked about something else in between) is not taken as consent to anything.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import AllSlotsReset, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import VerifiedCrmAction, channel_of, crm, crm_call
from actions.handoff import bring_in_person
from actions.linking import LINK_QUESTIONS, answer_link, offer_link
from crm_adapter.composition import get_relationship
from crm_adapter.domain import PURPOSES, CrmUnavailable, InvalidInput, NewFeedback, NotFound
from crm_adapter.notify import deliver_export
from crm_adapter.ports import RelationshipService
from relationship import preferences as prefs

log = logging.getLogger(__name__)

# Intents that are not a request the bot served: a conversation made only of these gets no survey.
NOT_A_REQUEST = frozenset(
    {"greet", "goodbye", "thank", "affirm", "deny", "bot_challenge", "help", "out_of_scope", "nlu_fallback",
     "chitchat", "rate", "inform", "stop", "session_start"}
)  # fmt: skip
QUESTIONS = {
    "consent_history": "utter_ask_consent_history",
    "consent_service": "utter_ask_consent_service",
    "consent_marketing": "utter_ask_consent_marketing",
    "forget_me": "utter_ask_forget_me",
    "erase": "utter_ask_erase",
    "preferences": "utter_ask_preferences",
    "csat": "utter_ask_csat",
    "nps": "utter_ask_nps",
    **LINK_QUESTIONS,
}
SCORE_RANGES = {"csat": (1, 5), "nps": (0, 10)}
_NUMBER_WORDS = {w: n for n, w in enumerate("zero one two three four five six seven eight nine ten".split())}


def relationship() -> RelationshipService | None:
    return get_relationship()


def _yes_no(value: bool | None) -> str:
    return "not asked yet" if value is None else "yes" if value else "no"


def _intent(tracker: Tracker) -> str | None:
    return ((tracker.latest_message or {}).get("intent") or {}).get("name")


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


def parse_score(tracker: Tracker, low: int, high: int) -> tuple[int | None, str | None]:
    """The score (from a button's entity, or the first number typed) and any comment typed after it."""
    entity = next(tracker.get_latest_entity_values("rating"), None)
    if entity is not None:
        try:
            value = int(str(entity))
        except ValueError:
            return None, None
        return (value, None) if low <= value <= high else (None, None)
    text = (tracker.latest_message or {}).get("text") or ""
    match = re.search(r"\b(10|[0-9])\b|\b(" + "|".join(_NUMBER_WORDS) + r")\b", text.lower())
    if not match:
        return None, None
    value = int(match.group(1)) if match.group(1) else _NUMBER_WORDS[match.group(2)]
    if not low <= value <= high:
        return None, None
    rest = text[match.end() :]
    rest = re.sub(r"^\s*(/\s*(5|10)|out of (5|10|five|ten)|stars?)", "", rest, flags=re.IGNORECASE)
    comment = rest.strip(" ,.-:;!") or None
    return value, comment


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


def served(tracker: Tracker) -> bool:
    """Did the customer ask for something in this conversation (not only greetings and small talk)?"""
    return any(
        e.get("event") == "user" and ((e.get("parse_data") or {}).get("intent") or {}).get("name") not in NOT_A_REQUEST
        for e in tracker.events
    )


def handed_to_person(tracker: Tracker) -> bool:
    return any(e.get("event") == "action" and e.get("name") == "action_request_human" for e in tracker.events)


async def follow_up(dispatcher: CollectingDispatcher, tracker: Tracker, customer_id: str) -> list[EventType]:
    """After a request is done for a verified customer: offer to remember this messaging account (once per
    conversation), else ask for consent if they never gave it (once per conversation), otherwise offer to
    remember what the history shows about how they like to be contacted."""
    offered = await offer_link(dispatcher, tracker, customer_id)
    if offered:
        return offered
    service = relationship()
    if service is None:
        return []
    try:
        if not tracker.get_slot("consent_asked"):
            missing = (await crm_call(service.consents, customer_id)).missing
            if missing:
                dispatcher.utter_message(response=f"utter_ask_consent_{missing[0]}")
                return [SlotSet("consent_asked", True), SlotSet("awaiting", f"consent_{missing[0]}")]
        proposal = await crm_call(service.propose_preferences, customer_id)
    except (CrmUnavailable, NotFound) as exc:
        log.info("no follow-up question: %s", exc)
        return []
    if proposal is None:
        return []
    dispatcher.utter_message(response="utter_ask_preferences", description=proposal.description)
    return [SlotSet("proposal", json.dumps(proposal.values)), SlotSet("awaiting", "preferences")]


class ActionGoodbye(Action):
    """Says goodbye; after a conversation that served a request, first asks how it went (CSAT, then NPS now
    and then), within the frequency rules of relationship/service.py."""

    def name(self) -> str:
        return "action_goodbye"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        service = relationship()
        if tracker.get_slot("survey_asked") or service is None or not served(tracker):
            dispatcher.utter_message(response="utter_goodbye")
            return [SlotSet("awaiting", None)]
        customer_id = tracker.get_slot("customer_id") if tracker.get_slot("verified") else None
        try:
            plan = await crm_call(service.plan_survey, customer_id)
        except CrmUnavailable:
            plan = None
        if plan is None or not plan.csat:
            dispatcher.utter_message(response="utter_goodbye")
            return [SlotSet("awaiting", None)]
        dispatcher.utter_message(response="utter_ask_csat")
        return [SlotSet("survey_asked", True), SlotSet("nps_due", plan.nps), SlotSet("awaiting", "csat")]


class ActionAnswerPending(Action):
    """A yes, a no or a score outside a form: the answer to the question the bot asked, if it just asked one."""

    def name(self) -> str:
        return "action_answer_pending"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        awaiting = tracker.get_slot("awaiting")
        intent = _intent(tracker)
        if not awaiting or not just_asked(tracker, awaiting):
            if intent == "nlu_fallback" and fallbacks_in_a_row(tracker) >= 2:
                return [SlotSet("awaiting", None), *await bring_in_person(dispatcher, tracker, "fallbacks")]
            stray = {"inform": "utter_help", "nlu_fallback": "utter_fallback_offer_human"}
            dispatcher.utter_message(response=stray.get(intent or "", "utter_anything_else"))
            return [SlotSet("awaiting", None)] if awaiting else []
        if awaiting in LINK_QUESTIONS:
            try:
                return await answer_link(awaiting, intent, dispatcher, tracker)
            except CrmUnavailable as exc:
                log.warning("answer to %s: CRM unavailable: %s", awaiting, exc)
                dispatcher.utter_message(response="utter_crm_unavailable")
                return []
        service = relationship()
        if service is None:
            dispatcher.utter_message(response="utter_consents_unavailable")
            return [SlotSet("awaiting", None)]
        try:
            if awaiting in SCORE_RANGES:
                return await self._score(awaiting, service, dispatcher, tracker)
            if intent not in ("affirm", "deny"):
                dispatcher.utter_message(response=QUESTIONS[awaiting], **self._question_values(tracker, awaiting))
                return []
            customer_id = tracker.get_slot("customer_id") if tracker.get_slot("verified") else None
            if not customer_id:
                dispatcher.utter_message(response="utter_not_verified")
                return [SlotSet("awaiting", None)]
            return await self._yes_no(awaiting, intent == "affirm", customer_id, service, dispatcher, tracker)
        except CrmUnavailable as exc:
            log.warning("answer to %s: CRM unavailable: %s", awaiting, exc)
            dispatcher.utter_message(response="utter_crm_unavailable")
            return []  # the question stays open: the customer can answer again

    @staticmethod
    def _question_values(tracker: Tracker, awaiting: str) -> dict[str, Any]:
        if awaiting == "preferences":
            values = json.loads(tracker.get_slot("proposal") or "{}")
            return {"description": prefs.describe([prefs.Observation(k, v, 0, 0) for k, v in values.items()])}
        return {}

    async def _yes_no(
        self,
        awaiting: str,
        yes: bool,
        customer_id: str,
        service: RelationshipService,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
    ) -> list[EventType]:
        done: list[EventType] = [SlotSet("awaiting", None)]
        if awaiting.startswith("consent_"):
            purpose = awaiting.removeprefix("consent_")
            consents = await crm_call(service.set_consent, customer_id, purpose, yes, "chat")
            later = PURPOSES[PURPOSES.index(purpose) + 1 :]
            review = bool(tracker.get_slot("consent_review"))
            upcoming = [p for p in later if review or consents.get(p) is None]
            if upcoming:
                dispatcher.utter_message(response=f"utter_ask_consent_{upcoming[0]}")
                return [SlotSet("awaiting", f"consent_{upcoming[0]}")]
            dispatcher.utter_message(response="utter_consents_saved")
            return [*done, SlotSet("consent_review", False)]
        if awaiting == "forget_me":
            if yes:
                await crm_call(service.set_consent, customer_id, "history", False, "chat")
            dispatcher.utter_message(response="utter_forgotten" if yes else "utter_forget_kept")
            return done
        if awaiting == "erase":
            if not yes:
                dispatcher.utter_message(response="utter_erase_cancelled")
                return done
            await crm_call(service.request_erasure, customer_id, tracker.sender_id)
            dispatcher.utter_message(response="utter_erased")
            return [AllSlotsReset()]
        # preferences
        values = json.loads(tracker.get_slot("proposal") or "{}")
        if yes and values:
            saved = await crm_call(service.set_preferences, customer_id, values, "observed")
            dispatcher.utter_message(response="utter_preferences_saved", preferences=describe_saved(saved))
        else:
            dispatcher.utter_message(response="utter_preferences_not_saved")
        return [*done, SlotSet("proposal", None)]

    async def _score(
        self, kind: str, service: RelationshipService, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> list[EventType]:
        low, high = SCORE_RANGES[kind]
        if _intent(tracker) in ("deny", "stop", "goodbye"):
            dispatcher.utter_message(response="utter_goodbye")
            return [SlotSet("awaiting", None), SlotSet("nps_due", False)]
        score, comment = parse_score(tracker, low, high)
        if score is None:
            dispatcher.utter_message(response="utter_ask_score_again", range=f"{low} to {high}")
            return []
        verified = tracker.get_slot("verified")
        feedback = NewFeedback(
            kind=kind,
            score=score,
            comment=comment,
            customer_id=tracker.get_slot("customer_id") if verified else None,
            resolution=("person" if handed_to_person(tracker) else "bot") if kind == "csat" else None,
            channel=channel_of(tracker),
            sender_id=tracker.sender_id,
        )
        try:
            await crm_call(service.record_feedback, feedback)
        except InvalidInput:
            dispatcher.utter_message(response="utter_ask_score_again", range=f"{low} to {high}")
            return []
        if kind == "csat" and tracker.get_slot("nps_due"):
            dispatcher.utter_message(response="utter_ask_nps")
            return [SlotSet("awaiting", "nps"), SlotSet("nps_due", False)]
        low_score = score <= 2 if kind == "csat" else score <= 6
        dispatcher.utter_message(response="utter_feedback_sorry" if low_score else "utter_feedback_thanks")
        return [SlotSet("awaiting", None)]


def describe_saved(saved: dict[str, str]) -> str:
    return ", ".join(f"{prefs.LABELS.get(k, k)}: {v}" for k, v in saved.items())


class ActionPrivacyRequest(VerifiedCrmAction):
    """What the customer asked about their data, once they are verified: a summary, an export, erasure,
    "stop remembering me", their consents, or how they want to be contacted."""

    def name(self) -> str:
        return "action_privacy_request"

    async def act_for(
        self, customer_id: str, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        request = tracker.get_slot("privacy_request")
        cleared: list[EventType] = [SlotSet("privacy_request", None), SlotSet("preference_text", None)]
        service = relationship()
        if service is None:
            dispatcher.utter_message(response="utter_consents_unavailable")
            return cleared
        if request == "forget_me":
            dispatcher.utter_message(response="utter_ask_forget_me")
            return [*cleared, SlotSet("awaiting", "forget_me")]
        if request == "erase":
            dispatcher.utter_message(response="utter_ask_erase")
            return [*cleared, SlotSet("awaiting", "erase")]
        if request == "consents":
            consents = await crm_call(service.consents, customer_id)
            dispatcher.utter_message(
                response="utter_consents_current", **{p: _yes_no(consents.get(p)) for p in PURPOSES}
            )
            dispatcher.utter_message(response="utter_ask_consent_history")
            return [*cleared, SlotSet("consent_review", True), SlotSet("consent_asked", True),
                    SlotSet("awaiting", "consent_history")]  # fmt: skip
        if request == "preferences":
            stated = prefs.parse_statement(tracker.get_slot("preference_text") or "")
            if not stated:
                dispatcher.utter_message(response="utter_preferences_unclear")
                return cleared
            saved = await crm_call(service.set_preferences, customer_id, stated, "customer")
            dispatcher.utter_message(response="utter_preferences_saved", preferences=describe_saved(saved))
            return cleared
        if request == "export":
            bundle = await crm_call(service.export, customer_id)
            customer = await crm_call(crm().get_customer, customer_id)
            try:
                size = await crm_call(deliver_export, customer.email, customer.first_name, bundle)
            except OSError as exc:
                log.warning("export for a customer could not be delivered: %s", exc)
                dispatcher.utter_message(response="utter_export_failed")
                return cleared
            dispatcher.utter_message(response="utter_export_sent", size=_size(size), email=customer.email)
            return cleared
        profile = await crm_call(service.profile, customer_id)
        dispatcher.utter_message(response="utter_my_data", summary=summary_text(profile))
        return cleared


def _size(n: int) -> str:
    return f"{n / 1024:.1f} KB" if n >= 1024 else f"{n} bytes"


def summary_text(profile: Any) -> str:
    """The readable answer to "what do you know about me"."""
    c = profile.customer
    lines = [
        f"- Name: {c.first_name} {c.last_name}; email {c.email}; phone {c.phone or 'none'}; "
        f"address {c.address or 'none'}",
        f"- {profile.orders} order{'s' if profile.orders != 1 else ''}, {profile.open_tickets} open ticket"
        f"{'s' if profile.open_tickets != 1 else ''}, {profile.loyalty_points:,} loyalty points",
        f"- {profile.conversations} conversation{'s' if profile.conversations != 1 else ''} with us"
        + (f" on {', '.join(profile.channels)}" if profile.channels else ""),
        "- Consents: "
        + "; ".join(
            f"{label} {_yes_no(profile.consents.get(p))}"
            for p, label in (
                ("history", "remember conversations"),
                ("service", "service messages"),
                ("marketing", "offers and news"),
            )
        ),  # fmt: skip
        "- Contact preferences: " + (describe_saved(profile.preferences) or "none saved"),
        f"- How our conversations have felt: {profile.sentiment.label}"
        + (f", {profile.sentiment.direction}" if profile.sentiment.direction != "unknown" else ""),
        f"- Relationship score {profile.value.score:g}/100 ({profile.value.tier}): {profile.value.explanation}",
    ]
    return "\n".join(lines)
