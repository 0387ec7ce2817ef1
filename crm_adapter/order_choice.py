"""Which order a request is about, the way a person at the counter would work it out.

A customer who proved who they are with an order number is talking about that order unless they say otherwise.
A customer with one order that fits the request (the only one still on its way, for "where is my order?") means
that one. Otherwise the bot lists the orders that fit, and the customer picks one by number, by button, by
position ("the first one", "the other one"), by pointing ("that one", "yes") or by what is in it ("no, the
lamp"). Pure rules: no I/O, plain values in and out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from crm_adapter.domain import CANCELLABLE_STATUSES, OPEN_ORDER_STATUSES, Order, OrderStatus

# The orders that fit each kind of request; the form's name says the kind.
FITS: dict[str, frozenset[OrderStatus]] = {
    "order_status_form": OPEN_ORDER_STATUSES,
    "cancel_order_form": CANCELLABLE_STATUSES,
    "return_form": frozenset({OrderStatus.DELIVERED}),
    "delivery_problem_form": frozenset({OrderStatus.SHIPPED, OrderStatus.OUT_FOR_DELIVERY, OrderStatus.DELIVERED}),
    "invoice_form": frozenset(set(OrderStatus) - {OrderStatus.CANCELLED}),
    "change_order_form": CANCELLABLE_STATUSES,
}
MAX_OFFERED = 5

_ORDINALS = {
    "first": 0, "1st": 0, "second": 1, "2nd": 1, "third": 2, "3rd": 2, "fourth": 3, "4th": 3, "fifth": 4, "5th": 4,
}  # fmt: skip
_DIGITS = {"1": 0, "2": 1, "3": 2, "4": 3, "5": 4}  # "number 2", "2": only in a short answer
_LAST = {"last", "bottom"}
_NEWEST = {"latest", "newest", "recent", "top"}  # the list is newest first
_OTHER = {"other", "another"}
_POINTING = {"that", "this", "it", "yes", "yeah", "yep", "yup", "correct", "right", "ok", "okay", "sure"}
_NOT_ITEM_WORDS = _POINTING | _OTHER | _LAST | _NEWEST | set(_ORDINALS) | {
    "the", "a", "an", "one", "no", "not", "nope", "sorry", "i", "meant", "mean", "order", "orders", "my", "with",
    "and", "of", "please", "pls", "its", "it's", "is", "was", "item", "items", "more", "wait", "actually",
    "thing", "about", "for", "which", "has", "in", "number", "one's", "ones", "want", "need",
}  # fmt: skip
_WORD = re.compile(r"[a-z0-9']+")


@dataclass(frozen=True)
class OfferedOrder:
    """An order as the bot showed it to the customer: enough to pick it by position or by what is in it."""

    number: str
    summary: str
    status: str
    items: tuple[str, ...] = ()

    @classmethod
    def of(cls, order: Order) -> OfferedOrder:
        return cls(order.order_number, order.summary, order.status.value, tuple(line.name for line in order.lines))

    @property
    def label(self) -> str:
        """What a button shows: number, main item, status."""
        return f"{self.number}: {self.summary} ({self.status.replace('_', ' ')})"

    def to_json(self) -> dict[str, Any]:
        return {"number": self.number, "summary": self.summary, "status": self.status, "items": list(self.items)}

    @classmethod
    def from_json(cls, value: Any) -> OfferedOrder | None:
        if not isinstance(value, dict) or not isinstance(value.get("number"), str):
            return None
        items = value.get("items")
        items = items if isinstance(items, list) else []
        return cls(value["number"], str(value.get("summary", "")), str(value.get("status", "")),
                   tuple(str(item) for item in items))  # fmt: skip


def offered_from(value: Any) -> list[OfferedOrder]:
    """The offered orders as a slot keeps them (a list of dicts); anything else is an empty list."""
    if not isinstance(value, list):
        return []
    return [order for order in (OfferedOrder.from_json(item) for item in value) if order is not None]


def fitting(form: str | None, orders: list[Order]) -> list[Order]:
    """The customer's orders that fit the request, newest first; every order when the request has no rule."""
    statuses = FITS.get(form or "")
    return [order for order in orders if statuses is None or order.status in statuses]


@dataclass(frozen=True)
class Choice:
    """What to do about "which order?": `order` is settled (and `announce` says whether to tell the customer which
    one the bot took), or the customer picks from `offer` (possibly empty: no order fits)."""

    order: Order | None = None
    announce: bool = False
    offer: tuple[Order, ...] = ()


# Requests that only an order in the right state can go through with: an order proved with that is not in that
# state is not taken for them (the lamp to return is in another, delivered, order).
STRICT = frozenset({"return_form", "cancel_order_form", "change_order_form"})


def choose(form: str | None, orders: list[Order], proof_order: str | None, request: str | None = None) -> Choice:
    """The order a request is about, before asking: the one whose items the request names ("a refund for the
    lamp"), else the one proved with, else the only one that fits."""
    fits = fitting(form, orders)
    named = _by_item(_words(request or ""), [OfferedOrder.of(order) for order in fits or orders])
    if named:
        return Choice(order=next(order for order in orders if order.order_number == named), announce=True)
    proved = next((order for order in orders if order.order_number == proof_order), None)
    if proved is not None and (form not in STRICT or proved in fits):
        return Choice(order=proved, announce=True)
    if len(fits) == 1:
        return Choice(order=fits[0], announce=True)
    return Choice(offer=tuple((fits or orders)[:MAX_OFFERED]))


def _words(text: str) -> list[str]:
    return _WORD.findall(text.casefold())


def resolve(text: str, offered: list[OfferedOrder], current: str | None = None) -> str | None:
    """The order number `text` picks from `offered` (what the bot just listed or proposed), or None when it picks
    none or more than one. `current` is the order the conversation is on, for "the other one"."""
    if not offered:
        return None
    words = _words(text)
    if not words:
        return None
    position = next((_ORDINALS[word] for word in words if word in _ORDINALS), None)
    if position is None and len(words) <= 3:
        position = next((_DIGITS[word] for word in words if word in _DIGITS), None)
    if position is not None:
        return offered[position].number if position < len(offered) else None
    if any(word in _LAST for word in words):
        return offered[-1].number
    if any(word in _NEWEST for word in words):
        return offered[0].number
    if any(word in _OTHER for word in words):
        others = [order for order in offered if order.number != current]
        return others[0].number if len(others) == 1 else None
    by_item = _by_item(words, offered)
    if by_item:
        return by_item
    if any(word in _POINTING for word in words) and len(offered) == 1 and len(words) <= 6:
        return offered[0].number
    return None


def _by_item(words: list[str], offered: list[OfferedOrder]) -> str | None:
    """The one offered order whose items (or summary) contain a word the customer used ("no, the lamp")."""
    wanted = {_singular(word) for word in words if word not in _NOT_ITEM_WORDS and len(word) >= 3}
    if not wanted:
        return None
    matches = []
    for order in offered:
        names = " ".join(order.items) or order.summary
        have = {_singular(word) for word in _words(names)}
        if wanted & have:
            matches.append(order.number)
    return matches[0] if len(matches) == 1 else None


def _singular(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


# ---- changing an order: what, which item, how many ---------------------------------------------------------

_CHANGE_WORDS = (
    ("deliver_to", r"\b(?:address|deliver(?:ed|y)? (?:it )?to|send (?:it|them) to|ship (?:it )?to|"
                   r"my work|different (?:place|house|flat)|new flat|neighbou?r)\b"),
    ("set_quantity", r"\b(?:quantity|how many|make it|change (?:it )?to (?:one|two|three|\d+)|"
                     r"only (?:want|need) (?:one|two|three|\d+)|(?:one|two|three|four|\d+) instead|"
                     r"instead of (?:one|two|three|four|\d+)|more of|another one|extra one|"
                     r"add (?:one|two|another|\d+))\b"),
    ("remove_item", r"\b(?:remove|take (?:\w+ ){0,3}(?:off|out)|delete|drop|don'?t (?:want|need)|"
                    r"no longer (?:want|need)|get rid of|without the)\b"),
)  # fmt: skip
_NUMBERS = {"zero": 0, "none": 0, "one": 1, "a single": 1, "just one": 1, "two": 2, "couple": 2, "three": 3,
            "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10}  # fmt: skip


def change_kind_in(text: str | None) -> str | None:
    """What kind of change a message asks for ("take the rug off" -> remove_item), if it says."""
    import re

    for kind, words in _CHANGE_WORDS:
        if text and re.search(words, text, re.IGNORECASE):
            return kind
    return None


def quantity_in(text: str | None) -> int | None:
    """The number a message gives ("2", "just one", "make it three"), if exactly one is given."""
    import re

    found = [int(n) for n in re.findall(r"(?<![\w.])\d{1,2}(?![\w.])", text or "")]
    words = _words(text or "")
    found += [value for name, value in _NUMBERS.items() if " " not in name and name in words]
    found += [value for name, value in _NUMBERS.items() if " " in name and name in (text or "").casefold()]
    distinct = set(found)
    return found[0] if len(distinct) == 1 else None


def line_in(text: str | None, lines: list[tuple[str, str]]) -> str | None:
    """The SKU of the one order line (sku, name) whose name has a word of `text` in it ("the rug"), if exactly one."""
    wanted = {_singular(word) for word in _words(text or "") if word not in _NOT_ITEM_WORDS and len(word) >= 3}
    matches = [sku for sku, name in lines if wanted & {_singular(word) for word in _words(name)}]
    return matches[0] if len(matches) == 1 else None
