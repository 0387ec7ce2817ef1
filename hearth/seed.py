"""Realistic demo data for an empty CRM: customers, orders, returns, tickets, past conversations.

Deterministic: the same seed and the same `now` give the same data. A few fixed demo customers
(DEMO_CUSTOMERS) are always present so the README and the end-to-end tests can talk about them by name;
their past conversations are plain transcripts spread over the last 400 days. Everyone else's carry what
history ingestion records and analytics counts (intents, misunderstandings, sentiment, survey answers),
and most fall inside the console's default analytics range, so the analytics page has something to show.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from faker import Faker
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from crm_adapter.sql.models import ChannelIdentityRow, CustomerRow, OrderItemRow, OrderRow, ReturnRow, TicketRow
from hearth.settings import DEFAULT_WEBSITE_DEMO_PASSWORD
from history.rows import ConversationRow, MessageRow
from relationship.rows import ConsentRow, FeedbackRow, PreferenceRow
from shared import sentiment
from shared.passwords import hash_password

CATALOGUE = [
    ("FUR-001", "Oak side table", 8900),
    ("FUR-002", "Linen armchair", 34900),
    ("FUR-003", "Walnut bookcase", 27900),
    ("FUR-004", "Rattan bench", 15900),
    ("FUR-005", "Extendable dining table", 54900),
    ("LGT-001", "Brass floor lamp", 12900),
    ("LGT-002", "Ceramic table lamp", 5900),
    ("LGT-003", "Pendant light", 7900),
    ("KIT-001", "Cast iron casserole", 8900),
    ("KIT-002", "Stoneware dinner set", 6900),
    ("KIT-003", "Chef's knife", 4900),
    ("KIT-004", "Copper kettle", 5400),
    ("BED-001", "Cotton duvet cover", 5900),
    ("BED-002", "Wool throw", 7400),
    ("BED-003", "Feather pillow pair", 3900),
    ("RUG-001", "Jute rug 160x230", 11900),
    ("RUG-002", "Berber wool rug", 24900),
    ("PLT-001", "Fiddle leaf fig", 4500),
    ("PLT-002", "Olive tree in pot", 6900),
    ("PLT-003", "Snake plant", 2400),
]
CARRIERS = ["DPD", "Royal Mail", "Evri", "DHL"]
COMPLAINT_SUBJECTS = [
    "Courier left parcel in the rain",
    "Item arrived scratched",
    "Refund taking too long",
    "Missing screws for assembly",
    "Rude delivery driver",
    "Wrong colour delivered",
    "Late delivery for gift",
]
CHANNELS = ["web", "telegram", "whatsapp", "rest"]
RESERVED_ORDER_NUMBERS = 101_000  # seeded orders are numbered from JH101000 up, at random

# Past conversations of the customers other than the demo ones: most inside the console's default analytics range
# (the last 30 days; a margin for time zones), none in the last hour; the rest up to 400 days back.
RECENT_SHARE = 2 / 3
RECENT_DAYS = 28
EARLIEST_HOURS = 48  # the seeded history ends two days ago: today's figures are the live conversations'
# What analytics shows of them: misunderstandings, and the survey answers.
FALLBACK_SHARE = 0.12
UNCLEAR = ("the thing from before", "hmm what about it", "can you sort the thing", "??", "and the other one")
FALLBACK_REPLY = "Sorry, I didn't quite get that. Could you rephrase it? Or I can get a person from our team to help."
FALLBACK_RESPONSE = "utter_fallback_offer_human"
RATED_SHARE = 0.4
NPS_SHARE = 0.4
CSAT_BOT = (5, 5, 5, 4, 4, 4, 3, 2)
CSAT_AFTER_FALLBACK = (4, 3, 3, 2, 1)
CSAT_PERSON = (5, 5, 4, 4, 3, 2, 1)
NPS = (10, 10, 9, 9, 9, 8, 8, 7, 6, 5, 3, 0)


@dataclass(frozen=True)
class Transcript:
    summary: str
    outcome: str
    turns: tuple[tuple[str, str, str | None, float | None], ...]  # sender, text, intent, confidence


C, B = "customer", "bot"
TRANSCRIPTS = (
    Transcript(
        "Asked where {order} was; the bot gave the tracking details.",
        "resolved_by_bot",
        (
            (C, "hi, where is my order {order}?", "order_status", 0.97),
            (B, "Your order {order} ({item}) is on its way. Expected delivery: in 2 days.", None, None),
            (C, "great, thanks", "thank", 0.94),
            (B, "You're welcome! Anything else I can help with?", None, None),
        ),
    ),
    Transcript(
        "Started a return of the {item} from {order}.",
        "resolved_by_bot",
        (
            (C, "I'd like to send back the {item}", "start_return", 0.91),
            (B, "Sure. Briefly, why are you returning it?", None, None),
            (C, "it doesn't fit the space", None, None),
            (B, "Your return is set up. A free returns label is on its way to your email.", None, None),
        ),
    ),
    Transcript(
        "Reported the {item} from {order} arrived damaged; a person arranged a replacement.",
        "handed_off",
        (
            (C, "my {item} arrived damaged", "delivery_problem", 0.88),
            (B, "I'm sorry about that. I've reported it for order {order}.", None, None),
            (C, "can I talk to someone please", "request_human", 0.96),
            (B, "Of course. I've asked a member of our team to get back to you.", None, None),
            ("agent", "Hi {first}, I've arranged a replacement for you, arriving Thursday.", None, None),
        ),
    ),
    Transcript(
        "Checked the loyalty points balance.",
        "resolved_by_bot",
        (
            (C, "how many points have I got", "loyalty_points", 0.95),
            (B, "You have {points} loyalty points.", None, None),
        ),
    ),
    Transcript(
        "Asked about delivery costs.",
        "resolved_by_bot",
        (
            (C, "how much is delivery?", "faq", 0.9),
            (B, "Standard UK delivery is free over £50, otherwise £4.95.", None, None),
            (C, "ok bye", "goodbye", 0.93),
            (B, "Thanks for chatting with Juniper Home. Take care!", None, None),
        ),
    ),
    Transcript(
        "Unhappy about a late refund for {order}; handed to a person.",
        "handed_off",
        (
            (C, "I've been waiting two weeks for my refund, this is ridiculous", "refund_status", 0.62),
            (B, "I'm sorry it's taking so long. Let me get a person from our team to look at it.", None, None),
            ("agent", "Hi {first}, the refund for {order} went out today; it can take 3 days to show.", None, None),
        ),
    ),
)


@dataclass(frozen=True)
class DemoCustomer:
    customer_id: str
    first_name: str
    last_name: str
    email: str
    channel: str
    sender_id: str
    order_number: str
    order_status: str
    consented_at_signup: bool = True  # False: the bot asks for consent in the first conversation


# Always seeded, with these exact facts, for the README and the end-to-end tests.
DEMO_CUSTOMERS = (
    DemoCustomer("cus_demo_anna", "Anna", "Berg", "anna.berg@example.com", "rest", "demo-anna", "JH100001", "shipped"),
    DemoCustomer(
        "cus_demo_omar", "Omar", "Haddad", "omar.haddad@example.com", "rest", "demo-omar", "JH100002", "delivered"
    ),
    DemoCustomer(
        "cus_demo_lucy", "Lucy", "Chen", "lucy.chen@example.com", "rest", "demo-lucy", "JH100003", "placed", False
    ),
)


def is_empty(sessions: sessionmaker[Session]) -> bool:
    with sessions() as s:
        return (s.scalar(select(func.count()).select_from(CustomerRow)) or 0) == 0


def seed(
    sessions: sessionmaker[Session],
    customers: int = 300,
    seed_value: int = 20261122,
    now: datetime | None = None,
    website_password: str = DEFAULT_WEBSITE_DEMO_PASSWORD,
) -> dict[str, int]:
    """Fill an empty CRM. Returns row counts per table. Only the demo customers can sign in on the shop's
    website, with `website_password` (WEBSITE_DEMO_PASSWORD); nobody else has a password there."""
    now = (now or datetime.utcnow()).replace(microsecond=0)
    fake = Faker("en_GB")
    fake.seed_instance(seed_value)
    with sessions.begin() as s:
        seeder = _Seeder(
            s, random.Random(seed_value), random.Random(seed_value + 1), random.Random(seed_value + 2), fake, now,
            website_password,
        )  # fmt: skip
        people = seeder.people(customers)
        for index, person in enumerate(people):
            seeder.customer(index, person, people)
    return seeder.counts


Person = tuple[str, str, str, str]  # customer id, first name, last name, email


@dataclass
class _Seeder:
    """Adds one customer after another, with everything that is theirs. Every random choice comes from `rng` in
    a fixed order, except the analytics details of past conversations, which come from `details`, and the order
    numbers, which come from `numbers`."""

    s: Session
    rng: random.Random
    details: random.Random
    numbers: random.Random
    fake: Faker
    now: datetime
    website_password: str
    counts: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(
            ("customers", "orders", "returns", "tickets", "conversations", "messages", "feedback",
             "channel_identities"), 0
        )
    )  # fmt: skip
    order_numbers: set[str] = field(default_factory=lambda: {d.order_number for d in DEMO_CUSTOMERS})
    ticket_seq: int = 1000

    def people(self, customers: int) -> list[Person]:
        """The demo customers, then made-up people with distinct emails up to `customers`."""
        fake, rng = self.fake, self.rng
        emails: set[str] = set()
        people = [(d.customer_id, d.first_name, d.last_name, d.email) for d in DEMO_CUSTOMERS]
        while len(people) < customers:
            first, last = fake.first_name(), fake.last_name()
            email = f"{first}.{last}{rng.randint(1, 99)}@example.{rng.choice(['com', 'org', 'net'])}".lower()
            email = email.replace("'", "").replace(" ", "")
            if email in emails:
                continue
            emails.add(email)
            people.append((f"cus_{rng.getrandbits(48):012x}", first, last, email))
        return people

    def customer(self, index: int, person: Person, people: list[Person]) -> None:
        s, rng, fake = self.s, self.rng, self.fake
        customer_id, first, last, email = person
        demo = DEMO_CUSTOMERS[index] if index < len(DEMO_CUSTOMERS) else None
        joined = self.now - timedelta(days=rng.randint(30, 1500))
        s.add(
            CustomerRow(
                id=customer_id,
                first_name=first,
                last_name=last,
                email=email,
                phone=f"+447700900{rng.randint(0, 999):03d}",
                address=f"{fake.building_number()} {fake.street_name()}, {fake.city()} {fake.postcode()}",
                loyalty_points=rng.choice([0, 50, 120, 340, 560, 880, 1450, 2300, 3100]),
                created_at=joined,
                updated_at=joined,
                # about one in ten came on a friend's recommendation (advocacy in relationship/value.py)
                referred_by=people[rng.randrange(index)][0] if index > 3 and rng.random() < 0.1 else None,
                website_password_hash=hash_password(self.website_password) if demo else None,
            )
        )
        self.counts["customers"] += 1
        s.flush()
        # orders: the demo customers get one recent order in a known state, everyone gets some history
        orders = [self.order(customer_id, demo if k == 0 else None, demo is not None) for k in range(rng.randint(1, 5))]
        self.ticket(customer_id, demo)
        self.conversations(customer_id, first, orders, demo)
        self.signup_facts(customer_id, demo, joined)

    def order_number(self) -> str:
        """A new order number drawn at random, never in sequence: an order number is a proof of identity
        (crm_adapter/identity.py), so one customer's number must not lead to the next. JH100000-JH100999 stay
        free for the demo customers' documented orders and the numbers tests use as nobody's."""
        while True:
            number = f"JH{self.numbers.randrange(RESERVED_ORDER_NUMBERS, 1_000_000)}"
            if number not in self.order_numbers:
                self.order_numbers.add(number)
                return number

    def order(self, customer_id: str, demo: DemoCustomer | None, of_demo: bool) -> tuple[str, str]:
        """An order (and now and then its return): `demo`'s own one, or a past one. Returns its number and the
        name of its first item."""
        s, rng = self.s, self.rng
        if demo:
            age = {"shipped": 2, "delivered": 6, "placed": 0.2}[demo.order_status]
            number, status = demo.order_number, demo.order_status
        else:
            number = self.order_number()
            age = rng.uniform(30 if of_demo else 0.1, 700)
            status = _order_status(rng, age)
        placed = self.now - timedelta(days=age)
        items = rng.sample(CATALOGUE, rng.randint(1, 3))
        lines = [
            OrderItemRow(sku=sku, name=name, quantity=rng.choice([1, 1, 1, 2]), unit_price_cents=price)
            for sku, name, price in items
        ]
        shipped = status in {"shipped", "out_for_delivery", "delivered"}
        order = OrderRow(
            order_number=number,
            customer_id=customer_id,
            status=status,
            placed_at=placed,
            expected_delivery=placed + timedelta(days=5) if status not in {"delivered", "cancelled"} else None,
            delivered_at=placed + timedelta(days=4) if status == "delivered" else None,
            cancelled_at=placed + timedelta(hours=3) if status == "cancelled" else None,
            total_cents=sum(li.quantity * li.unit_price_cents for li in lines),
            currency="GBP",
            carrier=rng.choice(CARRIERS) if shipped else None,
            tracking_number=f"{rng.randint(10**11, 10**12 - 1)}" if shipped else None,
        )
        order.items = lines
        s.add(order)
        self.counts["orders"] += 1
        s.flush()
        if order.delivered_at is not None and not of_demo and rng.random() < 0.1:
            s.add(
                ReturnRow(
                    rma_number=f"RMA-S{order.id:05d}",
                    order_id=order.id,
                    customer_id=customer_id,
                    reason=rng.choice(["Didn't suit the room", "Arrived damaged", "Changed my mind"]),
                    status=rng.choice(["requested", "received", "refunded"]),
                    refund_cents=order.total_cents,
                    created_at=order.delivered_at + timedelta(days=3),
                    refunded_at=order.delivered_at + timedelta(days=9) if rng.random() < 0.5 else None,
                )
            )
            self.counts["returns"] += 1
        return number, lines[0].name

    def ticket(self, customer_id: str, demo: DemoCustomer | None) -> None:
        """About one customer in five has a complaint ticket; Anna's is still open."""
        rng = self.rng
        if not ((demo and demo.first_name == "Anna") or (not demo and rng.random() < 0.2)):
            return
        self.ticket_seq += 1
        opened = self.now - timedelta(days=rng.randint(1, 60))
        subject = "Item arrived scratched" if demo else rng.choice(COMPLAINT_SUBJECTS)
        self.s.add(
            TicketRow(
                reference=f"TK-S{self.ticket_seq}",
                customer_id=customer_id,
                kind="complaint",
                status="open" if demo else rng.choice(["open", "pending", "resolved", "resolved"]),
                priority="normal",
                subject=subject,
                description=subject,
                channel=rng.choice(CHANNELS),
                created_at=opened,
                updated_at=opened,
            )
        )
        self.counts["tickets"] += 1

    def conversations(
        self, customer_id: str, first: str, orders: list[tuple[str, str]], demo: DemoCustomer | None
    ) -> None:
        """Past conversations about this customer's own orders, each with its outcome; for everyone but the demo
        customers also what analytics reads: counts, intents, sentiment, and now and then a rating."""
        for _ in range(self.rng.randint(0, 3)):
            convo = _past_conversation(self.rng, customer_id, first, orders, self.now, recent=demo is None)
            if demo is None:
                _record_analytics(self.details, convo)
            self.s.add(convo)
            self.counts["conversations"] += 1
            self.counts["messages"] += len(convo.messages)
            if demo is None:
                self.s.flush()
                ratings = _ratings(self.details, convo)
                self.s.add_all(ratings)
                self.counts["feedback"] += len(ratings)

    def signup_facts(self, customer_id: str, demo: DemoCustomer | None, joined: datetime) -> None:
        """The consents given at signup, now and then a preferred channel, and the demo customers' identities."""
        s, rng = self.s, self.rng
        signup_consents = (("history", True), ("service", True), ("marketing", rng.random() < 0.4))
        for purpose, granted in signup_consents if demo is None or demo.consented_at_signup else ():
            s.add(
                ConsentRow(
                    customer_id=customer_id, purpose=purpose, granted=granted, source="signup", updated_at=joined
                )
            )
        if rng.random() < 0.3:
            s.add(
                PreferenceRow(
                    customer_id=customer_id,
                    key="channel",
                    value=rng.choice(CHANNELS),
                    confirmed=True,
                    updated_at=joined,
                )
            )
        if demo:
            s.add(
                ChannelIdentityRow(
                    customer_id=customer_id,
                    channel=demo.channel,
                    sender_id=demo.sender_id,
                    verified_at=joined,
                    last_seen_at=joined,
                )
            )
            self.counts["channel_identities"] += 1


def _order_status(rng: random.Random, age: float) -> str:
    """The status of an order placed `age` days ago."""
    if age < 1:
        return "placed"
    if age < 2:
        return "packed"
    if age < 4:
        return "shipped"
    if age < 5:
        return "out_for_delivery"
    return rng.choice(["delivered"] * 8 + ["cancelled"])


def _age_in_days(draw: float, recent: bool) -> float:
    """How long ago a past conversation started, from one uniform draw in [0, 1). The demo customers' spread over
    400 days; most of everyone else's fall inside the console's default analytics range (the last 30 days)."""
    if not recent:
        return 1 + 399 * draw  # the very value rng.uniform(1, 400) gives for the same draw
    if draw < RECENT_SHARE:
        return EARLIEST_HOURS / 24 + (RECENT_DAYS - EARLIEST_HOURS / 24) * draw / RECENT_SHARE
    return RECENT_DAYS + 2 + (398 - RECENT_DAYS) * (draw - RECENT_SHARE) / (1 - RECENT_SHARE)


def _past_conversation(
    rng: random.Random, customer_id: str, first: str, orders: list[tuple[str, str]], now: datetime, recent: bool
) -> ConversationRow:
    """One past conversation of a customer about one of their orders, on a transcript, with its outcome."""
    started = now - timedelta(days=_age_in_days(rng.random(), recent))
    channel = rng.choice(CHANNELS)
    number, item = rng.choice(orders)
    topic = rng.choice(TRANSCRIPTS)
    convo = ConversationRow(
        customer_id=customer_id,
        channel=channel,
        sender_id=f"{channel}-{rng.getrandbits(32):08x}",
        started_at=started,
        ended_at=started + timedelta(minutes=rng.randint(1, 15)),
        outcome=topic.outcome if rng.random() < 0.9 else "abandoned",
        summary=topic.summary.format(order=number, item=item),
    )
    at = started
    for sender, text, intent, confidence in topic.turns:
        convo.messages.append(
            MessageRow(
                sender=sender,
                text=text.format(order=number, item=item, first=first, points=rng.randint(50, 900)),
                intent=intent,
                confidence=confidence,
                created_at=at,
            )
        )
        at += timedelta(seconds=rng.randint(2, 40))
    return convo


def _record_analytics(rng: random.Random, convo: ConversationRow) -> None:
    """Fills in what history ingestion records of a conversation and analytics counts: now and then an opening
    message the bot did not understand, the counts, the intents in order of first use, the customer's sentiment."""
    if rng.random() < FALLBACK_SHARE:
        said = MessageRow(
            sender=C, text=rng.choice(UNCLEAR), intent="nlu_fallback", confidence=round(rng.uniform(0.2, 0.45), 2)
        )
        reply = MessageRow(sender=B, text=FALLBACK_REPLY, response=FALLBACK_RESPONSE)
        said.created_at = convo.started_at
        reply.created_at = convo.started_at + timedelta(seconds=rng.randint(1, 3))
        later = timedelta(seconds=rng.randint(5, 30))
        for message in convo.messages:
            message.created_at += later
        convo.messages[:0] = [said, reply]
        convo.fallback_count = 2  # the intent and the reply, as ingestion counts them
    intents: dict[str, int] = {}
    moods = []
    for message in convo.messages:
        if message.sender != C:
            continue
        if message.intent:
            intents[message.intent] = intents.get(message.intent, 0) + 1
        message.sentiment = sentiment.score(message.text)
        if message.sentiment is not None:
            moods.append(message.sentiment)
    convo.message_count = len(convo.messages)
    convo.customer_message_count = sum(m.sender == C for m in convo.messages)
    convo.intents = intents or None
    convo.sentiment_sum, convo.sentiment_count = sum(moods), len(moods)
    convo.sentiment_min = min(moods, default=None)
    convo.handed_off = convo.outcome == "handed_off"
    convo.last_event_at = max(m.created_at for m in convo.messages)
    convo.ended_at = max(convo.ended_at or convo.started_at, convo.last_event_at)


def _ratings(rng: random.Random, convo: ConversationRow) -> list[FeedbackRow]:
    """What the customer answered to the survey after a resolved conversation, if asked and answered: CSAT
    (lower after a misunderstanding), sometimes NPS as well."""
    if convo.outcome not in {"resolved_by_bot", "handed_off"} or rng.random() >= RATED_SHARE:
        return []
    person = convo.outcome == "handed_off"
    scale = CSAT_PERSON if person else CSAT_AFTER_FALLBACK if convo.fallback_count else CSAT_BOT
    assert convo.ended_at is not None
    given = {"customer_id": convo.customer_id, "conversation_id": convo.id, "channel": convo.channel,
             "sender_id": convo.sender_id}  # fmt: skip
    ratings = [
        FeedbackRow(
            kind="csat",
            score=rng.choice(scale),
            resolution="person" if person else "bot",
            created_at=convo.ended_at + timedelta(seconds=30),
            **given,
        )
    ]
    if rng.random() < NPS_SHARE:
        ratings.append(
            FeedbackRow(kind="nps", score=rng.choice(NPS), created_at=convo.ended_at + timedelta(minutes=1), **given)
        )
    return ratings
