"""A message that does not answer the question the bot has open (or comes when none is open): the customer
is steered back, and after `FALLBACKS_BEFORE_A_PERSON` messages in a row the bot did not understand, a person
is brought in."""

from __future__ import annotations

from typing import Literal

FALLBACKS_BEFORE_A_PERSON = 2
NotAnAnswer = Literal["bring_in_person", "help", "offer_person", "anything_else"]


def not_an_answer(intent: str | None, fallbacks_in_a_row: int) -> NotAnAnswer:
    """What to do with a message that answers nothing; `fallbacks_in_a_row` counts this one."""
    if intent == "nlu_fallback":
        return "bring_in_person" if fallbacks_in_a_row >= FALLBACKS_BEFORE_A_PERSON else "offer_person"
    return "help" if intent == "inform" else "anything_else"
