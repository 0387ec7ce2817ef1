"""A small help centre for tests: three short articles, and the real store, index and encoder on an in-memory
SQLite database (no file: the action tests' "no database file" check still holds)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.pool import StaticPool

from crm_adapter.sql.db import make_engine, make_session_factory
from hearth.schema import metadata
from knowledge.articles import Article, parse
from knowledge.service import Knowledge, open_help_centre
from tests.factories import Clock

GIFT_CARDS = """---
title: Gift cards
slug: gift-cards
topics: [gift-cards]
tags: [gift card, e-gift card, voucher]
last_reviewed: 2026-11-20
summary: "We sell e-gift cards from £10 to £500, emailed on the day you choose and valid for 24 months."
questions:
  - "do you sell gift vouchers"
  - "can i buy someone a gift card for their birthday"
---
Give the gift of choosing: our e-gift cards arrive by email.

## Buying an e-gift card
Choose an amount from £10 to £500 and the day it should arrive. We email it to the person you choose with your
message. E-gift cards are valid for 24 months from the day they are sent.

## Using a gift card
Enter the 16-digit code at checkout. Anything left stays on the card for next time. Gift cards can't be used to
buy other gift cards.
"""

OAK_CARE = """---
title: Caring for oak furniture
slug: caring-for-oak
topics: [care-oak]
tags: [oak, wood, furniture care]
last_reviewed: 2026-11-02
summary: "Dust oak with a soft dry cloth, wipe spills at once and re-oil it twice a year with a clear furniture oil."
questions:
  - "theres a white ring on my oak table from a mug"
---
Solid oak lasts for generations with a little care.

## Everyday care
Dust with a soft dry cloth. Wipe up spills at once and use coasters under hot or wet cups.

## White rings and marks
A white ring is trapped moisture. Lay a cotton cloth over it and press with a warm iron for a few seconds at a
time until it fades, then re-oil the area.
"""

DELIVERY = """---
title: Delivery options, times and costs
slug: delivery-options
topics: [delivery-options]
tags: [delivery, shipping]
last_reviewed: 2026-11-10
summary: "Standard UK delivery takes 3-5 working days and is free over £50 (otherwise £4.95); express costs £9.95."
faq: [shipping_times, shipping_costs]
questions:
  - "how much is delivery"
  - "what does express delivery cost"
---
## Standard delivery
Standard UK delivery takes 3-5 working days and is free on orders over £50, otherwise £4.95.

## Express delivery
Order before 2pm for next working day delivery, £9.95.
"""

ARTICLES = (GIFT_CARDS, OAK_CARE, DELIVERY)


def articles() -> list[Article]:
    return [parse(text) for text in ARTICLES]


def knowledge_at(url: str, clock: Clock | None = None, cache_dir: Path | None = None) -> Knowledge:
    """The real help centre on the database at `url` (already migrated), with the test articles."""
    sessions = make_session_factory(make_engine(url))
    return _knowledge(sessions, clock, cache_dir)


def memory_knowledge(clock: Clock | None = None, with_articles: bool = True) -> Knowledge:
    """The real help centre on an in-memory SQLite database (every table made from the metadata)."""
    engine = create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
    metadata.create_all(engine)
    knowledge = _knowledge(make_session_factory(engine), clock, None)
    if with_articles:
        for article in articles():
            knowledge.store.save(article, source="file", by="test")
    return knowledge


def _knowledge(sessions, clock: Clock | None, cache_dir: Path | None) -> Knowledge:  # type: ignore[no-untyped-def]
    return open_help_centre(sessions, "http://shop.test/help", clock=clock or Clock(), cache_dir=cache_dir)
