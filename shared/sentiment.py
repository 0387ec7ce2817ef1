"""The one sentiment scorer: VADER's compound score of a message, used by the Rasa server's channel connectors
(to bring in a person when a customer is upset) and by history ingestion (the customer's record).

Why VADER (vaderSentiment on PyPI, installed in both virtualenvs): a lexicon and rules tuned for short, informal
social-media text (capitals, "!!!", emoticons, "not good", "but"), which is what customers type into a chat. It
ships its lexicon inside the package, so nothing is downloaded at run time, and it scores a message in well under
a millisecond on one core. It knows English only, like the bot. The package is imported on first use, so this
module itself needs only the standard library.
"""

from __future__ import annotations

import threading
from typing import Any

MAX_CHARS = 2000  # longer messages are scored on their beginning

_lock = threading.Lock()
_analyzer: Any = None


def _vader() -> Any:
    global _analyzer
    if _analyzer is None:
        with _lock:
            if _analyzer is None:
                from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

                _analyzer = SentimentIntensityAnalyzer()
    return _analyzer


def score(text: str | None) -> float | None:
    """The compound sentiment of `text` (-1 most negative .. 1 most positive), rounded to 3 places; None when
    there is nothing to score."""
    if not text or not text.strip():
        return None
    return round(float(_vader().polarity_scores(text[:MAX_CHARS])["compound"]), 3)
