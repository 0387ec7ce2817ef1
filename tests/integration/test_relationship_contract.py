"""One contract suite for the `RelationshipService` port: the in-memory stand-in and the SQL service must behave
exactly alike.

* ``memory``     MemoryRelationship (tests/fakes/relationship.py) beside a MemoryCrmService; runs in the unit tier
* ``sqlite``     SqlRelationshipService on a migrated SQLite file
* ``postgresql`` SqlRelationshipService on PostgreSQL (skipped when no server is reachable, fails in CI)

Customers and orders are arranged with the CRM's `Arrange`; conversations (written by history ingestion in
production) and referrals with a `RelationshipArrange`. What only ingestion of real events shows (message
text, per-message sentiment, clearing text on a refusal, the tracker store after an erasure) stays in
tests/integration/test_relationship.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest

from crm_adapter.domain import Consents, CrmUnavailable, InvalidInput, NewFeedback, NotFound, SurveyPlan
from crm_adapter.ports import CrmService, RelationshipService
from crm_adapter.sql.db import make_engine, make_session_factory
from crm_adapter.sql.service import SqlCrmService
from relationship.service import SqlRelationshipService
from tests.factories import NOW, Arrange, Clock, SqlArrange
from tests.fakes import MemoryArrange, MemoryCrmService, MemoryCrmStore, RecordingCodeSender
from tests.fakes.relationship import (
    MemoryRelationship,
    MemoryRelationshipArrange,
    MemoryRelationshipStore,
    RelationshipArrange,
    SqlRelationshipArrange,
)

UNREACHABLE = "postgresql+psycopg2://hearth@127.0.0.1:1/hearth"  # nothing listens on port 1


@dataclass
class Backend:
    name: str
    service: RelationshipService
    crm: CrmService
    arrange: Arrange
    history: RelationshipArrange
    clock: Clock
    outbox: list[str]  # the addresses whose development emails erasure removed

    def with_intervals(self, **intervals: timedelta) -> RelationshipService:
        """Another service on the same store, with other frequency rules."""
        if isinstance(self.service, MemoryRelationship):
            return MemoryRelationship(self.service.store, clock=self.clock, **intervals)
        assert isinstance(self.service, SqlRelationshipService) and isinstance(self.crm, SqlCrmService)
        return SqlRelationshipService(self.crm._sessions, clock=self.clock, **intervals)


@pytest.fixture(
    params=[
        pytest.param("memory", marks=pytest.mark.unit),
        pytest.param("sqlite", marks=pytest.mark.integration),
        pytest.param("postgresql", marks=pytest.mark.integration),
    ]
)
def rel(request: pytest.FixtureRequest) -> Iterator[Backend]:
    outbox: list[str] = []

    def remove_outbox(email: str) -> int:
        outbox.append(email)
        return 0

    if request.param == "memory":
        crm_store, clock = MemoryCrmStore(), Clock()
        store = MemoryRelationshipStore(crm_store)
        yield Backend(
            "memory",
            MemoryRelationship(store, clock=clock, remove_outbox=remove_outbox),
            MemoryCrmService(crm_store, RecordingCodeSender(), clock=clock),
            MemoryArrange(crm_store),
            MemoryRelationshipArrange(store),
            clock,
            outbox,
        )
        return
    sql = request.getfixturevalue("sqlite_crm" if request.param == "sqlite" else "postgres_crm")
    service = SqlRelationshipService(sql.sessions, secret="test-secret", clock=sql.clock, remove_outbox=remove_outbox)
    yield Backend(
        request.param,
        service,
        sql.service,
        SqlArrange(sql.sessions),
        SqlRelationshipArrange(sql.sessions),
        sql.clock,
        outbox,
    )


@pytest.fixture(
    params=[
        pytest.param("memory", marks=pytest.mark.unit),
        pytest.param("sql", marks=pytest.mark.integration),
    ]
)
def unreachable(request: pytest.FixtureRequest) -> Iterator[RelationshipService]:
    if request.param == "memory":
        crm_store = MemoryCrmStore()
        MemoryArrange(crm_store).add_customer()
        crm_store.down = True
        yield MemoryRelationship(MemoryRelationshipStore(crm_store))
        return
    engine = make_engine(UNREACHABLE)
    yield SqlRelationshipService(make_session_factory(engine))
    engine.dispose()


# ---- consent ------------------------------------------------------------------------------------


def test_consents_start_unasked_and_are_kept_per_purpose(rel: Backend) -> None:
    cid = rel.arrange.add_customer()
    assert rel.service.consents(cid) == Consents(None, None, None)

    assert rel.service.set_consent(cid, "marketing", True) == Consents(None, None, True)
    assert rel.service.set_consent(cid, "service", True) == Consents(None, True, True)
    assert rel.service.set_consent(cid, "marketing", False, source="console") == Consents(None, True, False)

    assert rel.service.consents(cid) == Consents(None, True, False)
    other = rel.arrange.add_customer()
    assert rel.service.consents(other) == Consents(None, None, None)  # nobody else's answers


def test_consent_for_an_unknown_purpose_or_customer_is_refused(rel: Backend) -> None:
    cid = rel.arrange.add_customer()
    with pytest.raises(InvalidInput):
        rel.service.set_consent(cid, "newsletters", True)
    for call in (
        lambda: rel.service.consents("cus_nobody"),
        lambda: rel.service.set_consent("cus_nobody", "history", True),
    ):
        with pytest.raises(NotFound):
            call()
    assert rel.service.consents(cid) == Consents()


def test_refusing_history_unlinks_ended_conversations_and_keeps_the_current_one(rel: Backend) -> None:
    cid = rel.arrange.add_customer()
    rel.history.add_conversation(cid, "rest", "web-1", NOW - timedelta(days=3))
    rel.history.add_conversation(cid, "rest", "web-2", NOW - timedelta(hours=1), ended=False)
    assert rel.service.profile(cid).conversations == 2

    rel.service.set_consent(cid, "history", False)

    assert rel.service.consents(cid).history is False
    assert rel.service.profile(cid).conversations == 1  # the ended one no longer names the customer
    assert [c["ended_at"] for c in rel.service.export(cid)["conversations"]] == [None]


# ---- preferences --------------------------------------------------------------------------------


def test_stated_preferences_are_stored_and_checked(rel: Backend) -> None:
    cid = rel.arrange.add_customer()
    assert rel.service.preferences(cid) == {}
    stored = rel.service.set_preferences(cid, {"frequency": "monthly", "channel": "email"})
    assert stored == {"channel": "email", "frequency": "monthly"} and list(stored) == ["channel", "frequency"]
    assert rel.service.set_preferences(cid, {"channel": "sms"}) == {"channel": "sms", "frequency": "monthly"}
    with pytest.raises(InvalidInput):
        rel.service.set_preferences(cid, {"channel": "carrier pigeon"})
    with pytest.raises(NotFound):
        rel.service.preferences("cus_nobody")
    with pytest.raises(NotFound):
        rel.service.set_preferences("cus_nobody", {"channel": "email"})
    assert rel.service.preferences(cid) == {"channel": "sms", "frequency": "monthly"}


def test_preferences_are_proposed_only_with_enough_evidence_and_stored_only_when_confirmed(rel: Backend) -> None:
    cid = rel.arrange.add_customer()
    evenings = [datetime(2026, 11, d, 19, 30) for d in (2, 3, 4, 5, 9)]  # weekdays
    for at in evenings[:3]:
        rel.history.add_conversation(cid, "twilio", "whatsapp:+447700900123", at)
    assert rel.service.propose_preferences(cid) is None  # three conversations are not enough evidence
    for day in (6, 11, 12):
        rel.history.add_conversation(cid, "rest", f"web-{day}", datetime(2026, 11, day, 10, 0))
    assert rel.service.propose_preferences(cid) is None  # 3 of 6: no habit
    rel.history.add_conversation(cid, "twilio", "whatsapp:+447700900123", evenings[3])
    assert rel.service.propose_preferences(cid) is None  # 4 of 7 (57 %): still under 60 %
    rel.history.add_conversation(cid, "twilio", "whatsapp:+447700900123", evenings[4])
    rel.history.add_conversation(cid, "twilio", "whatsapp:+447700900123", evenings[4], customer_messages=0)
    proposal = rel.service.propose_preferences(cid)  # 5 of 8 (one where the customer said nothing is no evidence)
    assert proposal is not None
    assert proposal.values == {"channel": "whatsapp", "time_of_day": "evening"}
    assert proposal.description == "you usually message us in the evening on WhatsApp"
    assert rel.service.preferences(cid) == {}  # proposed, not stored
    assert rel.service.propose_preferences(cid) is None  # not again within the proposal interval
    rel.clock.advance(days=31)
    assert rel.service.propose_preferences(cid) is not None  # asked again later: still nothing stored
    rel.service.set_preferences(cid, proposal.values, source="observed")
    assert rel.service.preferences(cid) == {"channel": "whatsapp", "time_of_day": "evening"}
    rel.clock.advance(days=31)
    assert rel.service.propose_preferences(cid) is None  # what is confirmed is not proposed again
    with pytest.raises(NotFound):
        rel.service.propose_preferences("cus_nobody")


def test_a_proposal_leaves_out_what_is_already_confirmed(rel: Backend) -> None:
    cid = rel.arrange.add_customer()
    for day in (2, 3, 4, 5):
        rel.history.add_conversation(cid, "twilio", "whatsapp:+447700900123", datetime(2026, 11, day, 19, 30))
    rel.service.set_preferences(cid, {"channel": "whatsapp"})
    proposal = rel.service.propose_preferences(cid)
    assert proposal is not None and proposal.values == {"time_of_day": "evening"}


# ---- surveys ------------------------------------------------------------------------------------


def test_csat_and_nps_frequency_rules(rel: Backend) -> None:
    cid = rel.arrange.add_customer()
    service = rel.with_intervals(csat_min_interval=timedelta(hours=24), nps_period=timedelta(days=90))
    assert service.plan_survey(cid) == SurveyPlan(csat=True, nps=True)
    rel.clock.advance(hours=2)
    assert service.plan_survey(cid) == SurveyPlan(csat=False, nps=False)  # the same day: no survey
    rel.clock.advance(hours=23)
    assert service.plan_survey(cid) == SurveyPlan(csat=True, nps=False)  # NPS not within 90 days of the last ask
    rel.clock.advance(days=88)  # 89 days and an hour after NPS was asked
    assert service.plan_survey(cid).nps is False
    rel.clock.advance(days=1)
    assert service.plan_survey(cid).nps is True
    assert service.plan_survey(None) == SurveyPlan(csat=True, nps=False)  # NPS only for known customers
    assert service.plan_survey("cus_nobody") == SurveyPlan(csat=True, nps=False)
    assert service.plan_survey("cus_nobody") == SurveyPlan(csat=True, nps=False)  # nothing marked for nobody


def test_the_default_intervals(rel: Backend) -> None:
    cid = rel.arrange.add_customer()
    assert rel.service.plan_survey(cid) == SurveyPlan(csat=True, nps=True)
    rel.clock.advance(hours=23, minutes=59)
    assert rel.service.plan_survey(cid).csat is False
    rel.clock.advance(minutes=1)
    assert rel.service.plan_survey(cid) == SurveyPlan(csat=True, nps=False)


def test_feedback_is_checked_cleaned_and_kept_with_the_customer(rel: Backend) -> None:
    cid = rel.arrange.add_customer()
    first = rel.service.record_feedback(NewFeedback("csat", 5, "  quick  and\nkind ", cid, "bot", "rest", "s1"))
    second = rel.service.record_feedback(NewFeedback("csat", 2, None, cid, "person", "rest", "s1"))
    rel.service.record_feedback(NewFeedback("nps", 9, "  ", cid, "bot", "rest", "s1"))
    rel.service.record_feedback(NewFeedback("csat", 3, "anonymous", None, "bot", "rest", "s2"))
    rel.service.record_feedback(NewFeedback("csat", 4, "gone", "cus_nobody"))  # kept, without a customer
    assert second > first
    for bad in (NewFeedback("csat", 6, None, cid), NewFeedback("nps", -1, None, cid), NewFeedback("csat", None),
                NewFeedback("ces", 3, None, cid), NewFeedback("csat", 3, None, cid, resolution="robot")):  # fmt: skip
        with pytest.raises(InvalidInput):
            rel.service.record_feedback(bad)
    kept = [(f["kind"], f["score"], f["comment"]) for f in rel.service.export(cid)["feedback"]]
    assert sorted(kept) == [("csat", 2, None), ("csat", 5, "quick and kind"), ("nps", 9, None)]


# ---- sentiment, value, profile ------------------------------------------------------------------


def test_sentiment_trend_over_the_latest_scored_conversations(rel: Backend) -> None:
    cid = rel.arrange.add_customer()
    assert rel.service.sentiment_trend(cid).direction == "unknown"
    for days, scores in ((5, (-0.8, -0.6)), (4, ()), (3, (-0.2,)), (2, (0.4, 0.6)), (1, (0.8,))):
        rel.history.add_conversation(cid, "rest", "web-mood", NOW - timedelta(days=days), sentiments=scores)
    trend = rel.service.sentiment_trend(cid)
    assert trend.points == pytest.approx((-0.7, -0.2, 0.5, 0.8)) and trend.direction == "improving"
    assert rel.service.sentiment_trend(cid, last=2).points == pytest.approx((0.5, 0.8))
    with pytest.raises(NotFound):
        rel.service.sentiment_trend("cus_nobody")


def test_value_score_and_its_breakdown_in_the_profile(rel: Backend) -> None:
    cid = rel.arrange.add_customer()
    rel.arrange.add_order(cid, "JH700001", status="delivered", delivered_days_ago=10, items=(("Sofa", 1, 80000),))
    rel.arrange.add_order(cid, "JH700002", status="cancelled", items=(("Lamp", 1, 50000),))
    rel.arrange.add_order(cid, "JH700003", status="shipped", items=(("Rug", 2, 10000),))
    rel.arrange.add_order(cid, "JH700004", status="delivered", placed_days_ago=800, items=(("Old", 1, 99000),))
    for days in (5, 40, 100):
        rel.history.add_conversation(cid, "rest", "web-v", NOW - timedelta(days=days))
    rel.history.add_conversation(cid, "rest", "web-v", NOW - timedelta(days=500))
    rel.service.record_feedback(NewFeedback("nps", 3, None, cid))
    rel.clock.advance(seconds=1)
    rel.service.record_feedback(NewFeedback("nps", 10, None, cid))  # the latest one counts
    rel.service.record_feedback(NewFeedback("csat", 5, None, cid))
    rel.service.record_feedback(NewFeedback("csat", 4, None, cid))
    friend = rel.arrange.add_customer()
    rel.history.refer(friend, cid)

    value = rel.service.profile(cid).value
    # purchases: £1,000 net of £2,000 -> 25; engagement: 3/12 of 15 = 3.75 + 10 * (1 - 5/365) = 9.86;
    # advocacy: NPS 10 -> 12, CSAT 4.5 -> 4.375, one referral -> 4
    assert value.part("purchases").points == 25.0
    assert value.part("engagement").points == 13.6
    assert value.part("advocacy").points == 20.4
    assert value.score == 59.0 and value.tier == "high"
    assert "£1,000.00 net spend over 2 orders" in value.explanation and "1 referral" in value.explanation
    assert rel.service.profile(friend).value.tier == "low"


def test_the_profile_counts_what_the_customer_has(rel: Backend) -> None:
    cid = rel.arrange.add_customer(first_name="Greta", loyalty_points=340)
    rel.arrange.add_order(cid, "JH710001")
    rel.arrange.add_order(cid, "JH710002", status="delivered", delivered_days_ago=3)
    rel.arrange.add_ticket(cid, "Open one")
    rel.arrange.add_ticket(cid, "Done", status="resolved")
    rel.arrange.add_identity(cid, "telegram", "tg-1")
    rel.history.add_conversation(cid, "twilio", "+447700900123", NOW - timedelta(days=2))
    rel.service.set_consent(cid, "service", True)
    rel.service.set_preferences(cid, {"channel": "email"})
    other = rel.arrange.add_customer()
    rel.arrange.add_order(other, "JH710003")

    profile = rel.service.profile(cid)

    assert profile.customer == rel.crm.get_customer(cid) and profile.customer.first_name == "Greta"
    assert (profile.orders, profile.open_tickets, profile.conversations, profile.loyalty_points) == (2, 1, 1, 340)
    assert profile.channels == ("telegram", "twilio")
    assert profile.consents == Consents(service=True) and profile.preferences == {"channel": "email"}
    assert profile.sentiment.direction == "unknown"
    with pytest.raises(NotFound):
        rel.service.profile("cus_nobody")


# ---- data rights --------------------------------------------------------------------------------


def test_the_export_holds_everything_about_the_customer_and_nothing_else(rel: Backend) -> None:
    cid = rel.arrange.add_customer(first_name="Greta", email="greta@example.com")
    rel.arrange.add_order(cid, "JH720001", status="delivered", delivered_days_ago=3, items=(("Sofa", 1, 80000),))
    ticket = rel.arrange.add_ticket(cid, "Sofa complaint")
    rel.arrange.add_identity(cid, "telegram", "tg-2")
    rel.crm.start_return(cid, "JH720001", "too big")
    rel.history.add_conversation(cid, "rest", "web-g", NOW - timedelta(days=1), sentiments=(0.5, 0.25))
    rel.service.set_consent(cid, "history", True)
    rel.service.set_preferences(cid, {"channel": "email"})
    rel.service.record_feedback(NewFeedback("csat", 4, "fine", cid))
    other = rel.arrange.add_customer()
    rel.arrange.add_order(other, "JH720002")
    rel.service.record_feedback(NewFeedback("csat", 1, "not Greta", other))

    data = rel.service.export(cid)

    assert data["format"] == "hearth-customer-export/1" and data["exported_at"] == NOW.isoformat() + "Z"
    assert data["profile"]["email"] == "greta@example.com" and data["profile"]["customer_id"] == cid
    assert data["consents"] == {"history": True, "service": None, "marketing": None}
    assert data["preferences"] == {"channel": "email"}
    assert data["value"]["tier"] in ("low", "standard", "high", "vip") and len(data["value"]["parts"]) == 3
    assert data["channel_identities"] == [
        {"channel": "telegram", "sender_id": "tg-2", "verified_at": NOW.isoformat() + "Z"}
    ]
    assert [(o["order_number"], o["items"]) for o in data["orders"]] == [
        ("JH720001", [{"sku": "SKU0", "name": "Sofa", "quantity": 1}])
    ]
    assert [(r["status"], r["reason"]) for r in data["returns"]] == [("requested", "too big")]
    assert [(t["reference"], t["subject"]) for t in data["tickets"]] == [(ticket, "Sofa complaint")]
    assert [(f["score"], f["comment"]) for f in data["feedback"]] == [(4, "fine")]
    [conversation] = data["conversations"]
    assert (conversation["channel"], conversation["sentiment"], conversation["messages"]) == ("rest", 0.375, [])
    with pytest.raises(NotFound):
        rel.service.export("cus_nobody")


def test_erasure_removes_the_customer_and_what_their_sender_ids_left(rel: Backend) -> None:
    cid = rel.arrange.add_customer(email="greta@example.com")
    rel.arrange.add_order(cid, "JH730001", status="delivered", delivered_days_ago=3)
    rel.arrange.add_identity(cid, "telegram", "tg-3")
    rel.history.add_conversation(cid, "rest", "web-g", NOW - timedelta(days=1))
    rel.service.record_feedback(NewFeedback("csat", 4, None, None, "bot", "rest", "web-now"))  # before verifying
    other = rel.arrange.add_customer()
    rel.arrange.add_identity(other, "telegram", "tg-4")
    rel.service.set_consent(other, "marketing", True)

    receipt = rel.service.request_erasure(cid, current_sender="web-now")

    assert receipt.sender_ids == 3 and receipt.job_id > 0  # tg-3, web-g and the current web-now
    assert rel.outbox == ["greta@example.com"]
    with pytest.raises(NotFound):
        rel.crm.get_customer(cid)
    with pytest.raises(NotFound):
        rel.service.profile(cid)
    with pytest.raises(NotFound):
        rel.service.request_erasure(cid)
    assert rel.crm.recognize("telegram", "tg-3") is None
    assert rel.crm.recognize("telegram", "tg-4") is not None  # nobody else is touched
    assert rel.service.consents(other) == Consents(marketing=True)


# ---- an unreachable database --------------------------------------------------------------------


def test_every_method_says_the_database_is_unavailable(unreachable: RelationshipService) -> None:
    calls = [
        lambda: unreachable.consents("cus_x"),
        lambda: unreachable.set_consent("cus_x", "history", True),
        lambda: unreachable.preferences("cus_x"),
        lambda: unreachable.set_preferences("cus_x", {"channel": "email"}),
        lambda: unreachable.propose_preferences("cus_x"),
        lambda: unreachable.plan_survey("cus_x"),
        lambda: unreachable.record_feedback(NewFeedback("csat", 4, None, "cus_x")),
        lambda: unreachable.sentiment_trend("cus_x"),
        lambda: unreachable.profile("cus_x"),
        lambda: unreachable.export("cus_x"),
        lambda: unreachable.request_erasure("cus_x"),
    ]
    for call in calls:
        with pytest.raises(CrmUnavailable):
            call()
    assert unreachable.plan_survey(None) == SurveyPlan(csat=True, nps=False)  # nothing to look up
