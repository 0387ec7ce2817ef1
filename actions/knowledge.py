"""Answers from the help centre (knowledge/service.py): a scripted FAQ, a question out of scope, a message not
understood. A confident match is answered short, with the article's title and link, then "Did that answer your
question?" (outside a form); otherwise the bot says it does not know and offers a person. The outcome goes on the
conversation as slots (`knowledge_article`, `knowledge_feedback`: history puts them in the relationship history) and
on the question's record (analytics, the console's gaps page)."""

from __future__ import annotations

import logging

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import channel_of, crm_call, intent_of, verified_customer
from crm_adapter.domain import CrmUnavailable
from hearth.container import get_knowledge
from knowledge.service import KnowledgeAnswer

log = logging.getLogger(__name__)


def _faq_key(tracker: Tracker) -> str | None:
    """The scripted FAQ answer the response selector picked for this message (faq/<key>), if any."""
    selected = ((tracker.latest_message or {}).get("response_selector") or {}).get("faq") or {}
    key = (selected.get("response") or {}).get("intent_response_key") or ""
    return key.split("/", 1)[1] if key.startswith("faq/") else None


async def answer_from_knowledge(dispatcher: CollectingDispatcher, tracker: Tracker) -> tuple[bool, list[EventType]]:
    """The help centre's answer to the latest message, said with its link (True); False, with nothing said, when
    it has no confident one or cannot be reached."""
    text = ((tracker.latest_message or {}).get("text") or "").strip()
    if not text or text.startswith("/"):
        return False, []
    try:
        answer: KnowledgeAnswer = await crm_call(
            get_knowledge().answer,
            text,
            sender_id=tracker.sender_id,
            channel=channel_of(tracker),
            customer_id=verified_customer(tracker),
            faq_key=_faq_key(tracker) if intent_of(tracker) == "faq" else None,
        )
    except CrmUnavailable as exc:
        log.warning("help centre unavailable: %s", exc)
        return False, []
    events: list[EventType] = [SlotSet("knowledge_question", str(answer.question_id))]
    if not answer.answered:
        return False, [*events, SlotSet("knowledge_article", None)]
    dispatcher.utter_message(response="utter_knowledge_answer", answer=answer.text, title=answer.title, url=answer.url)
    events.append(SlotSet("knowledge_article", answer.slug))
    if tracker.active_loop_name:  # in a form, its question comes next: no second question
        return True, events
    dispatcher.utter_message(response="utter_ask_knowledge_helpful")
    return True, [*events, SlotSet("awaiting", "knowledge_helpful")]


class ActionAnswerFromKnowledge(Action):
    """A question the intents do not cover (out of scope) or a scripted FAQ: the help centre's answer, or the honest
    "I don't know" with the offer of a person."""

    def name(self) -> str:
        return "action_answer_from_knowledge"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        said, events = await answer_from_knowledge(dispatcher, tracker)
        if not said:
            dispatcher.utter_message(response="utter_knowledge_unknown")
        return events


async def knowledge_feedback(
    awaiting: str, intent: str | None, dispatcher: CollectingDispatcher, tracker: Tracker
) -> list[EventType]:
    """The yes or no to "Did that answer your question?"; anything else asks it again."""
    if intent not in ("affirm", "deny"):
        dispatcher.utter_message(response="utter_ask_knowledge_helpful")
        return []
    helpful = intent == "affirm"
    question = tracker.get_slot("knowledge_question")
    if question and str(question).isdigit():
        try:
            await crm_call(get_knowledge().feedback, int(question), helpful)
        except CrmUnavailable as exc:
            log.warning("help centre feedback not recorded: %s", exc)
    article = tracker.get_slot("knowledge_article") or ""
    dispatcher.utter_message(response="utter_knowledge_glad" if helpful else "utter_knowledge_sorry")
    return [
        SlotSet("awaiting", None),
        SlotSet("knowledge_feedback", f"{article}: {'helpful' if helpful else 'not helpful'}"),
    ]
