"""Satisfaction (CSAT) and recommendation (NPS) surveys in the conversation: who is asked, how a score is
read from what the customer typed, and what a low score means.

- Only a conversation that served a request is surveyed (not one made only of greetings and small talk),
  at most once per conversation, within the frequency rules of relationship/survey_store.py (`plan_survey`).
- CSAT is 1 to 5, NPS 0 to 10; a score is read from a rating button, else the first number (digits or a
  word) typed, and whatever follows it is the comment.
- A CSAT of 2 or less, or an NPS of 6 or less (a detractor), is a low score: the customer hears an apology.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from crm_adapter.domain import CrmUnavailable, InvalidInput, NewFeedback, SurveyPlan
from crm_adapter.ports import RelationshipService
from crm_adapter.validation import clean_text
from relationship.unavailable import RelationshipUnavailable

log = logging.getLogger(__name__)

SCORE_RANGES = {"csat": (1, 5), "nps": (0, 10)}
LOW_SCORE_AT_MOST = {"csat": 2, "nps": 6}
# Intents that are not a request the bot served: a conversation made only of these gets no survey.
NOT_A_REQUEST = frozenset(
    {"greet", "goodbye", "thank", "affirm", "deny", "bot_challenge", "help", "out_of_scope", "nlu_fallback",
     "chitchat", "rate", "inform", "stop", "session_start"}
)  # fmt: skip
# Answers to a survey question that mean "no thanks".
DECLINING = frozenset({"deny", "stop", "goodbye"})
NUMBER_WORDS = {w: n for n, w in enumerate("zero one two three four five six seven eight nine ten".split())}
_NUMBER = re.compile(r"\b(10|[0-9])\b|\b(" + "|".join(NUMBER_WORDS) + r")\b")
_SCALE = re.compile(r"^\s*(/\s*(5|10)|out of (5|10|five|ten)|stars?)", re.IGNORECASE)


def due(
    csat_asked_at: datetime | None,
    nps_asked_at: datetime | None,
    now: datetime,
    csat_min_interval: timedelta,
    nps_period: timedelta,
) -> SurveyPlan:
    """Which surveys a known customer may be asked now: CSAT at most once per `csat_min_interval`, NPS (only
    with CSAT) at most once per `nps_period`, both counted from the last time they were asked."""
    csat = csat_asked_at is None or now - csat_asked_at >= csat_min_interval
    nps = csat and (nps_asked_at is None or now - nps_asked_at >= nps_period)
    return SurveyPlan(csat=csat, nps=nps)


def checked_comment(feedback: NewFeedback) -> str | None:
    """Refuses feedback that cannot be stored (InvalidInput naming the field); returns its comment, cleaned."""
    if feedback.kind not in SCORE_RANGES:
        raise InvalidInput("kind", "Feedback is csat or nps.")
    low, high = SCORE_RANGES[feedback.kind]
    if feedback.score is None or not low <= feedback.score <= high:
        raise InvalidInput("score", f"A {feedback.kind.upper()} score is a whole number from {low} to {high}.")
    if feedback.resolution not in (None, "bot", "person"):
        raise InvalidInput("resolution", "Resolution is bot or person.")
    return " ".join(clean_text(feedback.comment or "").split())[:2000] or None


def served(intents: Iterable[str | None]) -> bool:
    """Did the customer ask for something in this conversation (not only greetings and small talk)?"""
    return any(intent not in NOT_A_REQUEST for intent in intents)


def is_low(kind: str, score: int) -> bool:
    return score <= LOW_SCORE_AT_MOST[kind]


@dataclass(frozen=True)
class Score:
    value: int
    comment: str | None = None


def parse_score(text: str, low: int, high: int, rating: str | None = None) -> Score | None:
    """The score from a button's `rating`, else the first number in `text` (with any comment typed after
    it); None when there is none within low..high."""
    if rating is not None:
        try:
            value = int(rating)
        except ValueError:
            return None
        return Score(value) if low <= value <= high else None
    match = _NUMBER.search(text.lower())
    if not match:
        return None
    value = int(match.group(1)) if match.group(1) else NUMBER_WORDS[match.group(2)]
    if not low <= value <= high:
        return None
    comment = _SCALE.sub("", text[match.end() :]).strip(" ,.-:;!") or None
    return Score(value, comment)


@dataclass(frozen=True)
class SurveyStart:
    """Whether to ask CSAT now, and whether NPS follows it."""

    csat: bool
    nps: bool = False


@dataclass(frozen=True)
class SurveyAnswer:
    """A message answering a survey question."""

    kind: str  # csat | nps
    intent: str | None
    text: str
    rating: str | None  # a rating button's value
    customer_id: str | None  # the verified customer, if any
    handed_to_person: bool  # a person was brought into this conversation
    nps_due: bool  # NPS is to follow this CSAT
    channel: str
    sender_id: str


@dataclass(frozen=True)
class SurveyStep:
    result: Literal["declined", "unreadable", "ask_nps", "thanks", "sorry", "unavailable"]
    low: int = 0
    high: int = 0

    @property
    def range_text(self) -> str:
        return f"{self.low} to {self.high}"


class Surveys:
    def __init__(self, relationship: RelationshipService) -> None:
        self._relationship = relationship

    def start(self, customer_id: str | None, intents: Iterable[str | None], asked_already: bool) -> SurveyStart:
        """At goodbye: survey this conversation? Marks what it plans as asked (relationship/survey_store.py)."""
        if asked_already or not served(intents):
            return SurveyStart(False)
        try:
            plan = self._relationship.plan_survey(customer_id)
        except (CrmUnavailable, RelationshipUnavailable) as exc:
            log.info("no survey: %s", exc)
            return SurveyStart(False)
        return SurveyStart(plan.csat, plan.csat and plan.nps)

    def answer(self, answer: SurveyAnswer) -> SurveyStep:
        """Record the score; CrmUnavailable is raised (the question stays open)."""
        low, high = SCORE_RANGES[answer.kind]
        if answer.intent in DECLINING:
            return SurveyStep("declined", low, high)
        score = parse_score(answer.text, low, high, answer.rating)
        if score is None:
            return SurveyStep("unreadable", low, high)
        feedback = NewFeedback(
            kind=answer.kind,
            score=score.value,
            comment=score.comment,
            customer_id=answer.customer_id,
            resolution=("person" if answer.handed_to_person else "bot") if answer.kind == "csat" else None,
            channel=answer.channel,
            sender_id=answer.sender_id,
        )
        try:
            self._relationship.record_feedback(feedback)
        except InvalidInput:
            return SurveyStep("unreadable", low, high)
        except RelationshipUnavailable:
            return SurveyStep("unavailable", low, high)
        if answer.kind == "csat" and answer.nps_due:
            return SurveyStep("ask_nps", low, high)
        return SurveyStep("sorry" if is_low(answer.kind, score.value) else "thanks", low, high)
