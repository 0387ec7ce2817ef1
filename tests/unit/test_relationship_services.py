"""The relationship services' rules on their own: survey eligibility, score reading, the low-score rule,
the consent order, the follow-up question, privacy requests, and what an external CRM answers."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from crm_adapter.domain import Consents, CrmUnavailable, InvalidInput, NewFeedback, SurveyPlan
from crm_adapter.identity import AccountLinking, ChannelAccount, LinkOffer
from hearth.container import Container
from hearth.settings import Settings
from relationship import consent_flow, questions, surveys
from relationship.consent_flow import ConsentFlow
from relationship.follow_up import ConsentQuestion, ConversationSoFar, FollowUp, describe_saved
from relationship.privacy_requests import PrivacyRequests, size_text
from relationship.surveys import Score, SurveyAnswer, Surveys, parse_score
from relationship.unavailable import ExternalCrmRelationship, RelationshipUnavailable

pytestmark = pytest.mark.unit
EXTERNAL: Any = ExternalCrmRelationship()


def NO_MAIL(email: str, first_name: str, bundle: dict[str, Any]) -> int:  # noqa: N802 - a constant's role
    raise AssertionError("no export is delivered here")


class Relationship:
    """A relationship port that records what it is asked."""

    def __init__(
        self, plan: SurveyPlan | Exception = SurveyPlan(csat=True, nps=False), consents: Consents = Consents()
    ):
        self.plan, self.stored_consents = plan, consents
        self.feedback: list[NewFeedback] = []
        self.planned: list[str | None] = []

    def plan_survey(self, customer_id: str | None) -> SurveyPlan:
        self.planned.append(customer_id)
        if isinstance(self.plan, Exception):
            raise self.plan
        return self.plan

    def record_feedback(self, feedback: NewFeedback) -> int:
        low, high = surveys.SCORE_RANGES[feedback.kind]
        if feedback.score is None or not low <= feedback.score <= high:
            raise InvalidInput("score", "out of range")
        self.feedback.append(feedback)
        return len(self.feedback)

    def set_consent(self, customer_id: str, purpose: str, granted: bool, source: str = "chat") -> Consents:
        self.stored_consents = replace(self.stored_consents, **{purpose: granted})
        return self.stored_consents

    def consents(self, customer_id: str) -> Consents:
        return self.stored_consents


# ---- surveys -------------------------------------------------------------------------


def test_only_a_conversation_that_served_a_request_is_surveyed():
    assert not surveys.served(["greet", "thank", "goodbye"])
    assert surveys.served(["greet", "order_status", "goodbye"])
    port = Relationship()
    service = Surveys(port)
    assert service.start("C1", ["greet", "goodbye"], asked_already=False) == surveys.SurveyStart(False)
    assert service.start("C1", ["order_status"], asked_already=True) == surveys.SurveyStart(False)
    assert port.planned == []  # the frequency rules are not even asked
    assert service.start("C1", ["order_status"], asked_already=False) == surveys.SurveyStart(True, False)
    both = Surveys(Relationship(SurveyPlan(csat=True, nps=True)))
    assert both.start(None, ["return_item"], False) == surveys.SurveyStart(True, True)


def test_no_survey_when_the_crm_is_down_or_keeps_no_relationship():
    down = Surveys(Relationship(CrmUnavailable("down")))
    assert down.start("C1", ["order_status"], False).csat is False
    assert Surveys(EXTERNAL).start("C1", ["order_status"], False).csat is False


@pytest.mark.parametrize(
    ("text", "low", "high", "expected"),
    [
        ("ten", 0, 10, Score(10)),
        ("zero, never", 0, 10, Score(0, "never")),
        ("Three stars: the parcel was late", 1, 5, Score(3, "the parcel was late")),
        ("I'd say 8 out of ten!", 0, 10, Score(8)),
        ("4 / 5 - quick", 1, 5, Score(4, "quick")),
        ("0", 1, 5, None),
        ("eleven", 0, 10, None),  # no number word or digit it knows
        ("100", 0, 10, None),
    ],
)
def test_scores_in_words_and_digits(text, low, high, expected):
    assert parse_score(text, low, high) == expected


def test_a_rating_button_wins_over_the_text_and_must_be_in_range():
    assert parse_score("5 stars", 1, 5, rating="2") == Score(2)
    assert parse_score("5", 1, 5, rating="6") is None
    assert parse_score("5", 1, 5, rating="five") is None


@pytest.mark.parametrize(
    ("kind", "score", "low"),
    [("csat", 1, True), ("csat", 2, True), ("csat", 3, False), ("nps", 6, True), ("nps", 7, False), ("nps", 0, True)],
)
def test_the_low_score_rule(kind, score, low):
    assert surveys.is_low(kind, score) is low


def answer(kind: str, text: str, **changes: Any) -> SurveyAnswer:
    base = SurveyAnswer(kind, "rate", text, None, "C1", False, False, "telegram", "777")
    return replace(base, **changes)


def test_a_survey_answer_is_recorded_and_says_what_comes_next():
    port = Relationship()
    service = Surveys(port)
    assert service.answer(answer("csat", "2 - slow", handed_to_person=True, nps_due=True)).result == "ask_nps"
    assert service.answer(answer("nps", "6")).result == "sorry"
    assert service.answer(answer("csat", "3")).result == "thanks"
    assert [(f.kind, f.score, f.comment, f.resolution) for f in port.feedback] == [
        ("csat", 2, "slow", "person"),
        ("nps", 6, None, None),
        ("csat", 3, None, "bot"),
    ]
    assert port.feedback[0].customer_id == "C1" and port.feedback[0].channel == "telegram"


def test_a_survey_answer_that_is_no_score():
    port = Relationship()
    service = Surveys(port)
    unreadable = service.answer(answer("nps", "great"))
    assert unreadable.result == "unreadable" and unreadable.range_text == "0 to 10"
    assert service.answer(answer("csat", "no thanks", intent="deny")).result == "declined"
    assert service.answer(answer("csat", "1", rating="9")).result == "unreadable"
    assert port.feedback == []
    assert Surveys(EXTERNAL).answer(answer("csat", "4")).result == "unavailable"


# ---- consent ---------------------------------------------------------------------------


def test_consent_is_asked_in_order_skipping_what_was_answered():
    assert consent_flow.FIRST_PURPOSE == "history"
    assert consent_flow.first_unanswered(Consents()) == "history"
    assert consent_flow.first_unanswered(Consents(history=True, service=None, marketing=False)) == "service"
    assert consent_flow.first_unanswered(Consents(True, False, True)) is None
    answered = Consents(history=False, service=True, marketing=None)
    assert consent_flow.next_purpose("history", answered, review=False) == "marketing"
    assert consent_flow.next_purpose("history", answered, review=True) == "service"
    assert consent_flow.next_purpose("marketing", Consents(), review=True) is None


def test_a_consent_answer_is_stored_and_leads_to_the_next_question():
    port = Relationship()
    flow = ConsentFlow(port)
    assert flow.first_question("C1") == "history"
    assert flow.answer("C1", "history", False, review=False) == consent_flow.ConsentStep("service")
    assert flow.answer("C1", "service", True, review=False) == consent_flow.ConsentStep("marketing")
    assert flow.answer("C1", "marketing", False, review=False) == consent_flow.ConsentStep(None)
    assert port.stored_consents == Consents(history=False, service=True, marketing=False)
    assert ConsentFlow(EXTERNAL).answer("C1", "history", True, False).unavailable


# ---- the question that is not answered ----------------------------------------------------


def test_two_messages_not_understood_in_a_row_bring_in_a_person():
    assert questions.not_an_answer("nlu_fallback", 1) == "offer_person"
    assert questions.not_an_answer("nlu_fallback", 2) == "bring_in_person"
    assert questions.not_an_answer("inform", 5) == "help"
    assert questions.not_an_answer("affirm", 0) == "anything_else"


# ---- follow-up and privacy requests ---------------------------------------------------------


class Crm:
    """Just enough of a CRM for a link offer: nobody is linked yet."""

    def recognize(self, channel: str, sender_id: str) -> None:
        return None


def test_the_follow_up_offers_a_link_before_consent_and_nothing_where_no_relationship_is_kept():
    linking = AccountLinking(Crm())
    port = Relationship()
    so_far = ConversationSoFar(link_offered=False, consent_asked=False, verified_by="order")
    telegram, web = ChannelAccount("telegram", "777"), ChannelAccount("socketio", "abc")
    assert FollowUp(linking, port).next_question("C1", telegram, so_far) == LinkOffer("Telegram account")
    assert FollowUp(linking, port).next_question("C1", web, so_far) == ConsentQuestion("history")
    assert FollowUp(linking, EXTERNAL).next_question("C1", web, so_far) is None
    assert FollowUp(linking, EXTERNAL).answer_proposal("C1", {"channel": "sms"}, yes=True).result == "unavailable"
    assert FollowUp(linking, EXTERNAL).answer_proposal("C1", {"channel": "sms"}, yes=False).result == "not_saved"


def test_privacy_requests_where_no_relationship_is_kept():
    requests = PrivacyRequests(Crm(), EXTERNAL, NO_MAIL)
    for request in ("forget_me", "erase", "consents", "export", "summary", None):
        assert requests.handle("C1", request).result == "unavailable"
    assert requests.handle("C1", "preferences", "by pigeon").result == "unavailable"
    assert requests.handle("C1", "preferences", "email me").result == "unavailable"
    assert requests.confirm("C1", "forget_me", True, "777").result == "unavailable"
    assert requests.confirm("C1", "erase", False, "777").result == "erase_cancelled"  # nothing to do on a no


def test_privacy_request_wording():
    assert describe_saved({"channel": "sms", "frequency": "monthly"}) == "channel: sms, how often: monthly"
    assert size_text(900) == "900 bytes" and size_text(2048) == "2.0 KB"
    port = Relationship(consents=Consents(history=True))
    outcome = PrivacyRequests(Crm(), port, NO_MAIL).handle("C1", "consents")
    assert outcome.question == "history"
    assert outcome.consents == {"history": "yes", "service": "not asked yet", "marketing": "not asked yet"}
    assert PrivacyRequests(Crm(), port, NO_MAIL).handle("C1", "erase").question == "erase"


def test_an_external_crm_gets_a_relationship_that_says_it_keeps_nothing():
    settings = Settings.from_env({"CRM_BACKEND": "http", "CRM_HTTP_BASE_URL": "http://crm.example"})
    relationship = Container(settings).relationship
    assert isinstance(relationship, ExternalCrmRelationship)
    with pytest.raises(RelationshipUnavailable, match="keeps no relationship profile"):
        relationship.profile("C1")


def test_the_crm_api_over_an_external_crm_says_it_keeps_no_profile():
    from fastapi.testclient import TestClient

    from crm_api import create_app

    client = TestClient(create_app(Crm(), token=None, relationship=EXTERNAL))
    answer = client.get("/v1/customers/C-1/profile")
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "profile_unavailable"
