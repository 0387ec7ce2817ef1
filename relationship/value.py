"""Customer value: purchases + engagement + advocacy, as a score from 0 to 100 with its reasons.

The score is meant to be read by people (agents, team leads) and by the handoff queue,
so every point can be explained:

- purchases, up to 50: net spend in the last 24 months (orders delivered or on their way,
  less refunds); 50 points at £2,000.
- engagement, up to 25: conversations in the last 12 months (15 points at 12 or more) and
  how recent the last one is (10 points today, none after a year).
- advocacy, up to 25: the latest recommendation score (NPS 9-10: 12 points, 7-8: 6,
  0-6: none), average satisfaction (CSAT 5: 5 points, 1: none), referrals (4 each,
  up to 8) and product reviews published on the website (2 each, up to 6).

Tiers: vip 70 and above, high 45, standard 20, low below 20.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

SPEND_FOR_FULL_PURCHASES_CENTS = 200_000
PURCHASES_MAX = 50.0
CONVERSATIONS_FOR_FULL_FREQUENCY = 12
FREQUENCY_MAX = 15.0
RECENCY_MAX = 10.0
RECENCY_DAYS = 365
NPS_POINTS = ((9, 12.0), (7, 6.0), (0, 0.0))
CSAT_MAX = 5.0
REFERRAL_POINTS = 4.0
REFERRALS_MAX = 8.0
REVIEW_POINTS = 2.0
REVIEWS_MAX = 6.0
ADVOCACY_MAX = 25.0
TIERS = (("vip", 70.0), ("high", 45.0), ("standard", 20.0), ("low", 0.0))


@dataclass(frozen=True)
class ValueFacts:
    """What the score is computed from (gathered by the CRM service)."""

    net_spend_cents: int  # last 24 months
    orders: int  # last 24 months, not cancelled
    conversations: int  # last 12 months
    last_contact_at: datetime | None
    latest_nps: int | None
    average_csat: float | None
    referrals: int
    published_reviews: int = 0  # product reviews shown on the website with the customer's consent


@dataclass(frozen=True)
class ValuePart:
    name: str  # purchases | engagement | advocacy
    points: float
    max_points: float
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class CustomerValue:
    score: float
    tier: str
    parts: tuple[ValuePart, ...]
    facts: ValueFacts

    def part(self, name: str) -> ValuePart:
        return next(p for p in self.parts if p.name == name)

    @property
    def explanation(self) -> str:
        return "; ".join(f"{p.name} {p.points:g}/{p.max_points:g} ({', '.join(p.reasons)})" for p in self.parts)


def tier_for(score: float) -> str:
    return next(name for name, floor in TIERS if score >= floor)


def compute(facts: ValueFacts, now: datetime) -> CustomerValue:
    spend = max(0, facts.net_spend_cents)
    purchases = round(PURCHASES_MAX * min(1.0, spend / SPEND_FOR_FULL_PURCHASES_CENTS), 1)
    purchase_reasons = (f"£{spend / 100:,.2f} net spend over {facts.orders} order{'s' if facts.orders != 1 else ''}",)

    frequency = FREQUENCY_MAX * min(1.0, facts.conversations / CONVERSATIONS_FOR_FULL_FREQUENCY)
    if facts.last_contact_at is None:
        recency, recency_reason = 0.0, "no contact yet"
    else:
        days = max(0, (now - facts.last_contact_at).days)
        recency = RECENCY_MAX * max(0.0, 1 - days / RECENCY_DAYS)
        recency_reason = f"last contact {days} day{'s' if days != 1 else ''} ago"
    engagement = round(frequency + recency, 1)
    engagement_reasons = (
        f"{facts.conversations} conversation{'s' if facts.conversations != 1 else ''} in 12 months",
        recency_reason,
    )

    advocacy_reasons: list[str] = []
    nps_points = 0.0
    if facts.latest_nps is not None:
        nps_points = next(points for floor, points in NPS_POINTS if facts.latest_nps >= floor)
        advocacy_reasons.append(f"would recommend us {facts.latest_nps}/10")
    csat_points = 0.0
    if facts.average_csat is not None:
        csat_points = CSAT_MAX * max(0.0, (facts.average_csat - 1) / 4)
        advocacy_reasons.append(f"average satisfaction {facts.average_csat:.1f}/5")
    referral_points = min(REFERRALS_MAX, REFERRAL_POINTS * facts.referrals)
    if facts.referrals:
        advocacy_reasons.append(f"{facts.referrals} referral{'s' if facts.referrals != 1 else ''}")
    review_points = min(REVIEWS_MAX, REVIEW_POINTS * facts.published_reviews)
    if facts.published_reviews:
        n = facts.published_reviews
        advocacy_reasons.append(f"{n} product review{'s' if n != 1 else ''}")
    advocacy = round(min(ADVOCACY_MAX, nps_points + csat_points + referral_points + review_points), 1)

    parts = (
        ValuePart("purchases", purchases, PURCHASES_MAX, purchase_reasons),
        ValuePart("engagement", engagement, FREQUENCY_MAX + RECENCY_MAX, engagement_reasons),
        ValuePart("advocacy", advocacy, ADVOCACY_MAX, tuple(advocacy_reasons) or ("no feedback yet",)),
    )
    score = round(purchases + engagement + advocacy, 1)
    return CustomerValue(score=score, tier=tier_for(score), parts=parts, facts=facts)
