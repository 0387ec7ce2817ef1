"""How a customer feels: labels for sentiment scores and the trend over their recent conversations. The scores
come from the one scorer both virtualenvs share (shared/sentiment.py, VADER's compound value, -1 most negative to
1 most positive); the labels use VADER's recommended cut-offs, plus a "very negative" band that the handoff rules
can watch.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

NEGATIVE_BELOW = -0.05
POSITIVE_ABOVE = 0.05
VERY_NEGATIVE_BELOW = -0.5
# A message this negative, or one that says the customer has been let down before, is answered with an apology
# before anything is asked of them. VADER scores "third time asking" or "still waiting" as neutral, so those
# words count on their own.
UPSET_AT_OR_BELOW = -0.5
_LET_DOWN = re.compile(
    r"\b(?:(?:second|third|fourth|fifth|\d+(?:nd|rd|th)|another) time|how many times|yet again|again and again|"
    r"fed up|sick of|still (?:waiting|no|not|nothing|hasn'?t|haven'?t|isn'?t|waitin)|not good enough|unacceptable|"
    r"ridiculous|disgraceful|appalling|shocking|joke|useless|weeks? late|days? late|never again|"
    r"no one (?:has )?(?:got|gotten|come) back|nobody (?:has )?(?:got|gotten|come) back)\b",
    re.IGNORECASE,
)


def label(value: float | None) -> str:
    if value is None:
        return "unknown"
    if value < VERY_NEGATIVE_BELOW:
        return "very negative"
    if value < NEGATIVE_BELOW:
        return "negative"
    if value > POSITIVE_ABOVE:
        return "positive"
    return "neutral"


def upset(text: str | None, score: float | None) -> bool:
    """Whether a message needs an apology first: clearly negative, or telling of being let down before."""
    return (score is not None and score <= UPSET_AT_OR_BELOW) or bool(text and _LET_DOWN.search(text))


@dataclass(frozen=True)
class Trend:
    """How a customer has felt over their recent conversations (oldest first)."""

    points: tuple[float, ...]
    average: float | None
    direction: str  # improving | worsening | steady | unknown

    @property
    def label(self) -> str:
        return label(self.average)


def trend(conversation_means: Sequence[float], window: int = 3, threshold: float = 0.15) -> Trend:
    """Compares the mean of the last `window` conversations with the mean of those before them."""
    points = tuple(round(v, 3) for v in conversation_means)
    if not points:
        return Trend((), None, "unknown")
    average = round(sum(points) / len(points), 3)
    if len(points) < 2:
        return Trend(points, average, "unknown")
    recent = points[-window:] if len(points) > window else points[len(points) // 2 :]
    earlier = points[: len(points) - len(recent)]
    change = sum(recent) / len(recent) - sum(earlier) / len(earlier)
    direction = "improving" if change > threshold else "worsening" if change < -threshold else "steady"
    return Trend(points, average, direction)
