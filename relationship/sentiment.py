"""Sentiment of a customer's message, from VADER (vaderSentiment on PyPI).

Why VADER: a lexicon and rules tuned for short, informal social-media text (capitals,
"!!!", emoticons, "not good", "but"), which is what customers type into a chat. It
ships its lexicon inside the package, so nothing is downloaded at run time, and it
scores a message in well under a millisecond on one core. It knows English only, like
the bot.

The score is VADER's compound value, from -1 (most negative) to 1 (most positive);
the labels use VADER's recommended cut-offs, plus a "very negative" band that the
handoff rules can watch.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

NEGATIVE_BELOW = -0.05
POSITIVE_ABOVE = 0.05
VERY_NEGATIVE_BELOW = -0.5

_lock = threading.Lock()
_analyzer = None


def _vader():  # type: ignore[no-untyped-def]
    global _analyzer
    if _analyzer is None:
        with _lock:
            if _analyzer is None:
                from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

                _analyzer = SentimentIntensityAnalyzer()
    return _analyzer


def score(text: str | None) -> float | None:
    """The compound sentiment of `text`, rounded to 3 places; None when there is nothing to score."""
    if not text or not text.strip():
        return None
    compound = _vader().polarity_scores(text[:2000])["compound"]
    return round(float(compound), 3)


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
