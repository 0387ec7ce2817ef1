"""How a customer feels: labels for sentiment scores and the trend over their recent conversations. The scores
come from the one scorer both virtualenvs share (shared/sentiment.py, VADER's compound value, -1 most negative to
1 most positive); the labels use VADER's recommended cut-offs, plus a "very negative" band that the handoff rules
can watch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

NEGATIVE_BELOW = -0.05
POSITIVE_ABOVE = 0.05
VERY_NEGATIVE_BELOW = -0.5


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
