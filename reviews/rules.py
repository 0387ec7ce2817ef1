"""What a product review is and the rules it follows, on plain values (the stores keep them, `ReviewStore` in
reviews/ports.py).

- Only an item of one of the customer's own delivered orders can be reviewed.
- One review per customer per item (SKU): a second one replaces the first.
- 1 to 5 stars; the text says something (at least 3 characters) and is at most 2,000 characters.
- A review is shown on the website only when the customer agreed to it, with their first name and last initial.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from crm_adapter.domain import InvalidInput, NotAllowed, OrderStatus

MAX_TEXT = 2000
MIN_TEXT = 3
STARS = (1, 2, 3, 4, 5)
REVIEWABLE_ITEMS = 10  # the chat offers the customer's most recent delivered items, up to this many
_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5}
_STARS_IN_TEXT = re.compile(r"^\W*(?:(?P<digit>[1-5])|(?P<word>one|two|three|four|five))\b(?:\s*(?:/\s*5|out of 5))?"
                            r"(?:\s*(?:stars?|\*+|★+))?\W*$", re.IGNORECASE)  # fmt: skip
_STAR_GLYPHS = re.compile(r"^\s*(?P<glyphs>★{1,5}|\*{1,5})\s*$")


@dataclass(frozen=True)
class ReviewableItem:
    """An item of one of the customer's delivered orders, and the stars they gave it if they reviewed it already."""

    order_number: str
    sku: str
    name: str
    reviewed_stars: int | None = None

    @property
    def key(self) -> str:
        return item_key(self.order_number, self.sku)

    @property
    def label(self) -> str:
        return f"{self.order_number}: {self.name}"

    def to_json(self) -> dict[str, Any]:
        return {"order_number": self.order_number, "sku": self.sku, "name": self.name}

    @classmethod
    def from_json(cls, data: Any) -> ReviewableItem | None:
        if not isinstance(data, dict) or not all(isinstance(data.get(k), str) for k in ("order_number", "sku", "name")):
            return None
        return cls(data["order_number"], data["sku"], data["name"])


@dataclass(frozen=True)
class Review:
    review_id: int
    customer_id: str
    order_number: str
    sku: str
    product_name: str
    stars: int
    text: str
    published: bool  # the customer agreed to show it on the website with their first name and last initial
    created_at: datetime
    updated_at: datetime
    replaced: bool = False  # submitting it replaced the customer's earlier review of the item


@dataclass(frozen=True)
class PublishedReview:
    author: str  # "Omar H."
    stars: int
    text: str
    written_at: datetime


@dataclass(frozen=True)
class Product:
    sku: str
    name: str


@dataclass(frozen=True)
class ProductReviews:
    """A product page's reviews: the published ones, newest first, with their count and average."""

    sku: str
    name: str
    reviews: tuple[PublishedReview, ...]

    @property
    def count(self) -> int:
        return len(self.reviews)

    @property
    def average(self) -> float | None:
        return round(sum(r.stars for r in self.reviews) / len(self.reviews), 1) if self.reviews else None


def item_key(order_number: str, sku: str) -> str:
    """How the chat names an item of an order: "JH100002:FUR-001"."""
    return f"{order_number}:{sku}"


def split_item_key(value: Any) -> tuple[str, str] | None:
    order, sep, sku = str(value or "").strip().partition(":")
    return (order.upper(), sku.upper()) if sep and order and sku else None


def review_stars(value: Any) -> int:
    try:
        stars = int(str(value).strip())
    except (TypeError, ValueError):
        stars = 0
    if stars not in STARS:
        raise InvalidInput("stars", "A review has 1 to 5 stars.")
    return stars


def parse_stars(text: Any) -> int | None:
    """Stars as a customer types them: "4", "4 stars", "four", "4/5", "★★★★"; None when it is not that."""
    raw = str(text or "")
    found = _STARS_IN_TEXT.match(raw)
    if found:
        return int(found["digit"]) if found["digit"] else _WORDS[found["word"].casefold()]
    glyphs = _STAR_GLYPHS.match(raw)
    return len(glyphs["glyphs"]) if glyphs else None


def review_text(text: Any) -> str:
    """The review's words, trimmed (line breaks kept, runs of spaces folded); `InvalidInput("text")` when empty or
    longer than MAX_TEXT characters."""
    lines = [" ".join(line.split()) for line in str(text or "").strip().splitlines()]
    cleaned = "\n".join(lines).strip()
    if len(cleaned) < MIN_TEXT:
        raise InvalidInput("text", "A review needs a few words about the product.")
    if len(cleaned) > MAX_TEXT:
        raise InvalidInput(
            "text", f"A review can be up to {MAX_TEXT:,} characters; this one has {len(cleaned):,}. Please shorten it."
        )
    return cleaned


def check_reviewable(order_number: str, status: OrderStatus) -> None:
    if status != OrderStatus.DELIVERED:
        raise NotAllowed(
            "not_delivered",
            f"Order {order_number} is {status.value.replace('_', ' ')}: items can be reviewed once delivered.",
        )


def public_name(first_name: str, last_name: str) -> str:
    """First name and last initial, as a published review shows its author: "Omar H."."""
    initial = last_name.strip()[:1].upper()
    return f"{first_name.strip()} {initial}." if initial else first_name.strip()
