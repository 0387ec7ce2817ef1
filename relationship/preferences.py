"""Contact preferences: what a customer tells us, and what we observe and offer to remember.

Stated preferences are read from plain sentences ("email me in the evenings, once a
month is plenty"). Observed ones come from the relationship history: the channel and
time of day of the customer's conversations. An observation becomes a proposal only with
enough evidence (at least `MIN_CONVERSATIONS` conversations, and one channel or time of
day in at least `MIN_SHARE` of them); nothing observed is stored until the customer
confirms it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

MIN_CONVERSATIONS = 4
MIN_SHARE = 0.6

VALUES: dict[str, tuple[str, ...]] = {
    "channel": ("email", "sms", "whatsapp", "phone", "web chat", "telegram", "messenger", "slack"),
    "time_of_day": ("morning", "afternoon", "evening", "weekend"),
    "frequency": ("only when needed", "weekly", "monthly"),
    "language": ("english", "french", "german", "spanish", "italian", "dutch", "polish", "portuguese"),
    "tone": ("formal", "casual"),
}
LABELS = {"channel": "channel", "time_of_day": "time of day", "frequency": "how often", "language": "language",
          "tone": "tone"}  # fmt: skip

_STATEMENTS: tuple[tuple[str, str, str], ...] = (
    # (key, value, pattern): first match per key wins
    ("channel", "whatsapp", r"whats\s?app"),
    ("channel", "sms", r"\b(sms|texts?|text messages?|texting)\b"),
    ("channel", "email", r"\b(e-?mails?|e-?mailing)\b"),
    ("channel", "phone", r"\b(call(s|ing)?|phone me|ring me|by phone|on the phone)\b"),
    ("channel", "telegram", r"\btelegram\b"),
    ("channel", "messenger", r"\b(messenger|facebook)\b"),
    ("channel", "slack", r"\bslack\b"),
    ("channel", "web chat", r"\b(web ?chat|this chat|the chat|website)\b"),
    ("time_of_day", "morning", r"\bmornings?\b"),
    ("time_of_day", "afternoon", r"\bafternoons?\b"),
    ("time_of_day", "evening", r"\b(evenings?|after work|tonight|at night)\b"),
    ("time_of_day", "weekend", r"\bweekends?\b"),
    ("frequency", "monthly", r"\b(monthly|once a month|a month|per month)\b"),
    ("frequency", "weekly", r"\b(weekly|once a week|a week|per week)\b"),
    ("frequency", "only when needed", r"\b(less often|so often|too often|so much|too much|only (when|if)|important)\b"),
    ("frequency", "only when needed", r"\b(necessary|rarely)\b"),
    ("tone", "casual", r"\b(casual|informal|less formal|relaxed|friendly)\b"),
    ("tone", "formal", r"\b(formal|professional)\b"),
)
_LANGUAGES = {"english": "english", "french": "french", "français": "french", "german": "german",
              "deutsch": "german", "spanish": "spanish", "español": "spanish", "italian": "italian",
              "dutch": "dutch", "polish": "polish", "portuguese": "portuguese"}  # fmt: skip


def parse_statement(text: str) -> dict[str, str]:
    """The preferences a sentence states, e.g. {"channel": "email", "time_of_day": "evening"}."""
    lowered = " ".join(text.lower().split())
    found: dict[str, str] = {}
    for word, language in _LANGUAGES.items():
        if re.search(rf"\b{word}\b", lowered):
            found["language"] = language
            break
    for key, value, pattern in _STATEMENTS:
        if key in found:
            continue
        if key == "tone" and "informal" in lowered and value == "formal":
            continue
        if re.search(pattern, lowered):
            found[key] = value
    return found


def valid(key: str, value: str) -> bool:
    return value in VALUES.get(key, ())


def channel_kind(channel: str, sender_id: str = "") -> str:
    """The kind of channel a customer would recognise, from Rasa's input channel name."""
    channel = channel.lower()
    if channel == "twilio":
        return "whatsapp" if sender_id.startswith("whatsapp:") else "sms"
    if channel in ("rest", "socketio", "webchat", "web"):
        return "web chat"
    if channel in ("facebook", "messenger"):
        return "messenger"
    return channel if channel in VALUES["channel"] else "web chat"


def time_of_day(at: datetime) -> str:
    if at.weekday() >= 5:
        return "weekend"
    if 5 <= at.hour < 12:
        return "morning"
    if 12 <= at.hour < 17:
        return "afternoon"
    return "evening"


@dataclass(frozen=True)
class Observation:
    key: str
    value: str
    count: int
    total: int

    @property
    def share(self) -> float:
        return self.count / self.total if self.total else 0.0


def observe(conversations: Sequence[tuple[str, str, datetime]]) -> list[Observation]:
    """What stands out in (channel, sender id, started at) of the customer's conversations; [] without
    enough evidence."""
    total = len(conversations)
    if total < MIN_CONVERSATIONS:
        return []
    found: list[Observation] = []
    channels = Counter(channel_kind(channel, sender) for channel, sender, _ in conversations)
    times = Counter(time_of_day(at) for _, _, at in conversations)
    for key, counter in (("channel", channels), ("time_of_day", times)):
        value, count = counter.most_common(1)[0]
        if count / total >= MIN_SHARE:
            found.append(Observation(key, value, count, total))
    return found


def describe(observations: Sequence[Observation]) -> str:
    """ "you usually message us in the evening on WhatsApp" for the bot's proposal."""
    by_key = {o.key: o.value for o in observations}
    when = by_key.get("time_of_day")
    where = by_key.get("channel")
    when_text = {"weekend": "at the weekend"}.get(when or "", f"in the {when}") if when else ""
    where_text = f"on {_display(where)}" if where else ""
    return " ".join(part for part in ("you usually message us", when_text, where_text) if part)


def _display(channel: str) -> str:
    names = {"whatsapp": "WhatsApp", "sms": "text message", "email": "email", "web chat": "our web chat"}
    return names.get(channel, channel.capitalize())
