"""Answers from the help centre in the conversation (actions/knowledge.py): the answer with its link and "did that
help?", the honest "I don't know", the FAQ pick held to the same rule, a message not understood, the feedback, and
a handoff after an answer recorded against it. The help centre is the real one on an in-memory database."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from actions.handoff import ActionRequestHuman
from actions.knowledge import ActionAnswerFromKnowledge
from actions.relationship import ActionAnswerPending
from hearth.container import container
from tests.bot import responses, run, slots_set, tracker
from tests.help_centre import memory_knowledge

pytestmark = pytest.mark.unit


@pytest.fixture
def knowledge(crm):
    k = memory_knowledge(clock=crm.clock)
    container().replace("knowledge", k)
    return k


def faq(key: str, confidence: float = 0.9) -> dict[str, Any]:
    return {"faq": {"response": {"intent_response_key": f"faq/{key}", "confidence": confidence}}}


def ask(text: str, intent: str = "out_of_scope", **more: Any):
    return tracker(text=text, intent=intent, **more)


def asked_questions(k) -> list[tuple[str, bool, str | None, bool | None, bool]]:
    rows = k.store.questions(dt.datetime(2000, 1, 1), gaps_only=False)
    return [(q.text, q.answered, q.slug, q.helpful, q.handed_off) for q in rows]


def test_a_covered_question_is_answered_with_the_article_link_then_did_that_help(knowledge) -> None:
    events, messages = run(ActionAnswerFromKnowledge(), ask("do u sell gift cards?"))
    assert responses(messages) == ["utter_knowledge_answer", "utter_ask_knowledge_helpful"]
    said = messages[0]
    assert (
        said["title"] == "Gift cards" and said["url"] == "http://shop.test/help/gift-cards" and "£10" in said["answer"]
    )
    slots = slots_set(events)
    assert slots["knowledge_article"] == "gift-cards" and slots["awaiting"] == "knowledge_helpful"
    assert slots["knowledge_question"].isdigit()
    assert asked_questions(knowledge)[0][:3] == ("do u sell gift cards?", True, "gift-cards")


def test_an_unknown_question_gets_the_honest_answer_and_the_offer_of_a_person(knowledge) -> None:
    events, messages = run(ActionAnswerFromKnowledge(), ask("can you recommend a dentist in leeds"))
    assert responses(messages) == ["utter_knowledge_unknown"]
    assert slots_set(events)["knowledge_article"] is None and "awaiting" not in slots_set(events)
    assert asked_questions(knowledge)[0][:2] == ("can you recommend a dentist in leeds", False)


def test_the_faq_pick_answers_from_its_article_or_gives_way(knowledge) -> None:
    t = ask("how much does delivery cost", intent="faq")
    t.latest_message["response_selector"] = faq("shipping_costs")
    _, messages = run(ActionAnswerFromKnowledge(), t)
    assert messages[0]["answer"].startswith("Standard UK delivery takes 3-5 working days")
    wrong = ask("do you sell gift vouchers", intent="faq")
    wrong.latest_message["response_selector"] = faq("shipping_costs")  # the selector's confident wrong pick
    _, messages = run(ActionAnswerFromKnowledge(), wrong)
    assert messages[0]["title"] == "Gift cards"


def test_in_a_form_the_answer_comes_without_a_second_question(knowledge) -> None:
    t = ask("do u sell gift cards?", intent="faq", active_loop="return_form")
    events, messages = run(ActionAnswerFromKnowledge(), t)
    assert responses(messages) == ["utter_knowledge_answer"] and "awaiting" not in slots_set(events)


def helpful_asked(article: str = "gift-cards", question: str = "1") -> tuple[dict[str, Any], list[dict[str, Any]]]:
    slots = {"awaiting": "knowledge_helpful", "knowledge_article": article, "knowledge_question": question}
    return slots, [{"event": "bot", "text": "?", "metadata": {"utter_action": "utter_ask_knowledge_helpful"}}]


def test_yes_to_did_that_help_is_recorded_and_no_offers_a_person(knowledge) -> None:
    first = knowledge.answer("do u sell gift cards?", sender_id="s", channel="rest")
    slots, events = helpful_asked(question=str(first.question_id))
    done, messages = run(ActionAnswerPending(), tracker(slots=slots, intent="affirm", events=events))
    assert responses(messages) == ["utter_knowledge_glad"]
    assert slots_set(done) == {"awaiting": None, "knowledge_feedback": "gift-cards: helpful"}
    second = knowledge.answer("gift card for my mum?", sender_id="s", channel="rest")
    slots, events = helpful_asked(question=str(second.question_id))
    done, messages = run(ActionAnswerPending(), tracker(slots=slots, intent="deny", events=events))
    assert responses(messages) == ["utter_knowledge_sorry"]
    assert slots_set(done)["knowledge_feedback"] == "gift-cards: not helpful"
    assert [(q[0], q[3]) for q in asked_questions(knowledge)] == [
        ("gift card for my mum?", False),
        ("do u sell gift cards?", True),
    ]


def test_a_new_question_instead_of_yes_or_no_is_answered(knowledge) -> None:
    slots, events = helpful_asked()
    t = tracker(slots=slots, text="my oak table has a white ring from a mug", intent="nlu_fallback", events=events)
    done, messages = run(ActionAnswerPending(), t)
    assert responses(messages) == ["utter_knowledge_answer", "utter_ask_knowledge_helpful"]
    assert messages[0]["title"] == "Caring for oak furniture"
    assert slots_set(done)["knowledge_article"] == "caring-for-oak"


def test_a_message_not_understood_outside_a_form_is_tried_on_the_help_centre(knowledge) -> None:
    _, messages = run(ActionAnswerPending(), tracker(text="express delivery price?", intent="nlu_fallback"))
    assert responses(messages)[0] == "utter_knowledge_answer" and messages[0]["title"].startswith("Delivery")
    _, messages = run(ActionAnswerPending(), tracker(text="asdf qwerty zxcv", intent="nlu_fallback"))
    assert responses(messages) == ["utter_fallback_offer_human"]


def test_a_person_asked_for_after_an_answer_counts_against_it(knowledge) -> None:
    answer = knowledge.answer("do u sell gift cards?", sender_id="sender-1", channel="rest")
    run(ActionRequestHuman(), tracker(slots={"knowledge_question": str(answer.question_id)}, intent="request_human"))
    assert asked_questions(knowledge)[0][4] is True
