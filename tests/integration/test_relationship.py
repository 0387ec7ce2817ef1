"""Consent enforcement, erasure across every store, preference proposals, survey frequency, value and
sentiment, on real SQLite and PostgreSQL databases and a tracker store shaped like Rasa's."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy import text as sql

from crm_adapter.domain import InvalidInput, NewFeedback
from crm_adapter.sql.models import CustomerRow
from hearth.schema import metadata
from history.ingest import HistoryIngestion
from history.rows import ConversationRow, MessageRow
from history.sources import TRACKER_EVENTS, TrackerStoreSource
from history.timeline import SqlHistoryService
from history.tracker_events import TrackerEvents
from nlu_review.rows import NluReviewRow
from relationship.rows import FeedbackRow, PrivacyJobRow
from relationship.service import SqlRelationshipService
from tests.conftest import SqlCrm
from tests.factories import NOW, Clock, add_customer, add_identity, add_order, add_ticket
from tests.history_events import T0, Chat, write_tracker_events
from worker.jobs import standard_jobs
from worker.runner import Worker

pytestmark = pytest.mark.integration

AFTER_CHATS = datetime.utcfromtimestamp(T0) + timedelta(hours=3)


def relationship(crm: SqlCrm, clock: Clock | None = None) -> SqlRelationshipService:
    return SqlRelationshipService(crm.sessions, secret="test-secret", clock=clock or crm.clock)


def ingest(crm: SqlCrm, tracker_url: str, clock: Clock | None = None) -> Worker:
    """History ingestion and the worker's jobs (privacy jobs among them), run until caught up."""
    clock = clock or Clock(AFTER_CHATS)
    ingestion = HistoryIngestion(crm.sessions, TrackerStoreSource(tracker_url, clock=lambda: T0 + 86400), clock=clock)
    jobs = standard_jobs(crm.sessions, clock, tracker=TrackerEvents(tracker_url), privacy_settle=timedelta(0))
    worker = Worker(ingestion, jobs)
    worker.catch_up()
    return worker


def verified_chat(sender: str, customer_id: str, email: str, clock: float = T0, name: str = "Greta Lindqvist") -> Chat:
    """A conversation in which the customer says personal things before and after verifying."""
    chat = Chat(sender, clock=clock).session_start()
    chat.turn(f"hi, this is {name}", "greet", ("action_greet", "Hi, I'm Juno."))
    chat.user(f"my email is {email}", "identify").action("identify_form")
    chat.slot("identity_email", email).slot("customer_id", customer_id).slot("verified", True)
    chat.action("action_confirm_identity").bot(
        f"Thanks {name.split()[0]}, you're verified.", "utter_identity_confirmed"
    )
    chat.action("action_listen")
    chat.turn("ugh this is awful, my parcel is lost again", "delivery_problem", ("utter_sorry", "I'm sorry."))
    chat.user("blorp snuffle", "nlu_fallback", confidence=0.2).action("utter_default").bot("Sorry?", "utter_default")
    chat.action("action_listen")
    return chat


def tracker_texts(tracker_url: str, sender: str) -> list[str]:
    engine = create_engine(tracker_url)
    with engine.connect() as conn:
        rows = conn.execute(select(TRACKER_EVENTS.c.data).where(TRACKER_EVENTS.c.sender_id == sender)).scalars()
        texts = [json.loads(r).get("text") for r in rows]
    engine.dispose()
    return [t for t in texts if t]


def test_without_history_consent_no_message_text_is_stored(sql_crm: SqlCrm, tracker_url: str) -> None:
    refusing = add_customer(sql_crm.sessions, "Greta", "Lindqvist", email="greta@example.com")
    keeping = add_customer(sql_crm.sessions, "Kai", "Moreno", email="kai@example.com")
    relationship(sql_crm).set_consent(refusing, "history", False)
    relationship(sql_crm).set_consent(keeping, "history", True)
    refused_chat = verified_chat("web-greta", refusing, "greta@example.com")
    kept_chat = verified_chat("web-kai", keeping, "kai@example.com", name="Kai Moreno")
    # a new session ends the first conversation
    refused_chat.wait(4000).session_start().turn("hello again", "greet", ("action_greet", "Welcome back, Greta!"))
    write_tracker_events(create_engine(tracker_url), [refused_chat, kept_chat])
    ingest(sql_crm, tracker_url)

    with sql_crm.sessions() as s:
        kept = s.scalars(select(MessageRow).join(ConversationRow).where(ConversationRow.customer_id == keeping)).all()
        assert any(m.text and "Kai Moreno" in m.text for m in kept)  # the same chat, with consent: kept
        ended = s.scalars(select(ConversationRow).where(ConversationRow.sender_id.like("deidentified-%"))).all()
        assert len(ended) == 1 and ended[0].customer_id is None and ended[0].outcome is not None
        current = s.scalars(select(ConversationRow).where(ConversationRow.customer_id == refusing)).all()
        refused_messages = s.scalars(
            select(MessageRow).where(MessageRow.conversation_id.in_([c.id for c in [*ended, *current]]))
        ).all()
        assert refused_messages and all(m.text is None for m in refused_messages)
        customer_messages = [m for m in refused_messages if m.sender == "customer"]
        assert any(m.sentiment is not None and m.sentiment < -0.3 for m in customer_messages)  # minimal record
        assert all(v in ("***", None, True, False) for m in customer_messages for v in (m.slots or {}).values())
        reviews = s.scalars(select(NluReviewRow.text)).all()
        assert reviews == ["blorp snuffle"]  # Kai's; none of Greta's
        assert s.scalar(select(PrivacyJobRow.status).where(PrivacyJobRow.kind == "redact")) == "done"
    # Rasa's tracker store: the ended session has no text left; the current one is still whole
    assert tracker_texts(tracker_url, "web-greta") == ["hello again", "Welcome back, Greta!"]
    assert "Kai Moreno" in json.dumps(tracker_texts(tracker_url, "web-kai"))


def test_refusing_history_later_removes_what_was_kept(sql_crm: SqlCrm, tracker_url: str) -> None:
    customer = add_customer(sql_crm.sessions, "Greta", "Lindqvist", email="greta@example.com")
    chat = verified_chat("web-greta", customer, "greta@example.com")
    chat.wait(4000).session_start().turn("hello again", "greet", ("action_greet", "Welcome back!"))
    write_tracker_events(create_engine(tracker_url), [chat])
    ingest(sql_crm, tracker_url)
    with sql_crm.sessions() as s:
        assert s.scalar(select(MessageRow.id).where(MessageRow.text == "hi, this is Greta Lindqvist")) is not None

    consents = relationship(sql_crm).set_consent(customer, "history", False)
    assert consents.history is False
    ingest(sql_crm, tracker_url)

    with sql_crm.sessions() as s:
        # only the later session, where nobody was identified, keeps its words
        kept = s.scalars(select(MessageRow.text).where(MessageRow.text.is_not(None)).order_by(MessageRow.id)).all()
        assert kept == ["hello again", "Welcome back!"]
        assert s.scalars(select(NluReviewRow)).all() == []
        linked = s.scalars(select(ConversationRow).where(ConversationRow.customer_id == customer)).all()
        assert linked == []  # the ended conversation is no longer linked to them
    assert tracker_texts(tracker_url, "web-greta") == ["hello again", "Welcome back!"]


def everything_containing(crm: SqlCrm, tracker_url: str, needles: list[str]) -> list[str]:
    """Every row, in every CRM table and in the tracker store, whose values mention one of the needles."""
    found = []
    with crm.sessions() as s:
        for table in metadata.sorted_tables:
            for row in s.execute(select(table)).all():
                flat = json.dumps([str(v) for v in row]).lower()
                found += [f"{table.name}: {n}" for n in needles if n.lower() in flat]
    engine = create_engine(tracker_url)
    with engine.connect() as conn:
        for row in conn.execute(select(TRACKER_EVENTS)).all():
            flat = json.dumps([str(v) for v in row]).lower()
            found += [f"tracker events: {n}" for n in needles if n.lower() in flat]
    engine.dispose()
    return found


def test_erasure_leaves_nothing_in_any_store(sql_crm: SqlCrm, tracker_url: str, tmp_path: Path) -> None:
    from crm_adapter.notify import ExportMail, OutboxCodeSender
    from hearth.settings import Smtp

    mail = ExportMail(Smtp(host=None), tmp_path / "outbox")  # no mail server: the development outbox
    OutboxCodeSender(tmp_path / "outbox").send_code("greta@example.com", "Greta", "123456")  # and its codes

    customer = add_customer(sql_crm.sessions, "Greta", "Lindqvist", email="greta@example.com", phone="+447700900555")
    other = add_customer(sql_crm.sessions, "Kai", "Moreno", email="kai@example.com")
    add_order(sql_crm.sessions, customer, "JH555001", status="delivered", delivered_days_ago=3)
    add_ticket(sql_crm.sessions, customer, "Greta's sofa complaint")
    add_identity(sql_crm.sessions, customer, "telegram", "tg-99001")
    service = SqlRelationshipService(
        sql_crm.sessions, secret="test-secret", clock=sql_crm.clock, remove_outbox=mail.remove
    )
    service.set_consent(customer, "marketing", True)
    service.set_preferences(customer, {"channel": "email"})
    service.record_feedback(NewFeedback("csat", 4, "Greta liked it", customer, "bot", "rest", "web-greta"))
    # anonymous first: a conversation and a feedback row on the same device before verifying
    anonymous = Chat("web-greta").session_start().turn("is anyone there? Greta here", "greet", ("x", "Hi"))
    anonymous.wait(4000)
    chat = verified_chat("web-greta", customer, "greta@example.com", clock=anonymous.clock)
    kai = verified_chat("web-kai", other, "kai@example.com", name="Kai Moreno")
    write_tracker_events(create_engine(tracker_url), [anonymous, chat, kai])
    ingest(sql_crm, tracker_url)
    mail.deliver("greta@example.com", "Greta", service.export(customer))
    assert list((tmp_path / "outbox").iterdir())
    # a person was asked for twice: once before she verified (anonymous), once after; notes on both
    from handoff.agents import SqlAgentService
    from handoff.service import NewHandoff, SqlHandoffService

    handoffs = SqlHandoffService(sql_crm.sessions)
    sam = SqlAgentService(sql_crm.sessions).create_agent("sam", "Sam Taylor", "a-long-agent-password", "agent")
    for who in (None, customer):
        packet = {"conversation": {"transcript": [{"who": "customer", "text": "Greta here, my sofa JH555001"}]}}
        place = handoffs.request(NewHandoff("web-greta", "rest", who, "asked", None, packet))
        handoffs.add_note(place.handoff.handoff_id, sam.agent_id, "Greta Lindqvist wants a call")
        with sql_crm.sessions.begin() as s:
            s.execute(sql("UPDATE handoffs SET status = 'resolved' WHERE id = :id"), {"id": place.handoff.handoff_id})

    receipt = service.request_erasure(customer, current_sender="web-greta")
    assert receipt.sender_ids == 2
    # the turn that asked is saved by Rasa after the action: it must go too
    after = Chat("web-greta", clock=chat.clock).turn("yes, erase everything", "affirm", ("utter_erased", "Erased."))
    write_tracker_events(create_engine(tracker_url), [after])
    ingest(sql_crm, tracker_url)

    needles = ["greta@example.com", "+447700900555", "7700900555", "Greta", "Lindqvist", customer, "web-greta",
               "tg-99001", "JH555001"]  # fmt: skip
    assert everything_containing(sql_crm, tracker_url, needles) == []
    assert not list((tmp_path / "outbox").iterdir())
    with sql_crm.sessions() as s:
        job = s.scalars(select(PrivacyJobRow).where(PrivacyJobRow.kind == "erase")).one()
        assert job.status == "done" and job.customer_id is None and job.sender_ids is None
        assert job.removed["tracker_events"] > 0
        assert s.get(CustomerRow, other) is not None  # nobody else is touched
    assert "Kai Moreno" in json.dumps(tracker_texts(tracker_url, "web-kai"))


def conversation_at(crm: SqlCrm, customer_id: str, channel: str, sender: str, started: datetime) -> None:
    with crm.sessions.begin() as s:
        s.add(
            ConversationRow(
                customer_id=customer_id,
                channel=channel,
                sender_id=sender,
                started_at=started,
                ended_at=started + timedelta(minutes=5),
                customer_message_count=3,
                message_count=6,
            )
        )


def test_preferences_are_proposed_only_with_enough_evidence_and_stored_only_when_confirmed(sql_crm: SqlCrm) -> None:
    customer = add_customer(sql_crm.sessions)
    clock = Clock(NOW)
    service = relationship(sql_crm, clock)
    evenings = [datetime(2026, 11, d, 19, 30) for d in (2, 3, 4, 5, 9)]  # weekdays
    for at in evenings[:3]:
        conversation_at(sql_crm, customer, "twilio", "whatsapp:+447700900123", at)
    assert service.propose_preferences(customer) is None  # three conversations are not enough evidence
    for day in (6, 11, 12):
        conversation_at(sql_crm, customer, "rest", f"web-{day}", datetime(2026, 11, day, 10, 0))
    assert service.propose_preferences(customer) is None  # 3 of 6: no habit
    conversation_at(sql_crm, customer, "twilio", "whatsapp:+447700900123", evenings[3])
    assert service.propose_preferences(customer) is None  # 4 of 7 (57 %): still under 60 %
    conversation_at(sql_crm, customer, "twilio", "whatsapp:+447700900123", evenings[4])
    proposal = service.propose_preferences(customer)  # 5 of 8
    assert proposal is not None
    assert proposal.values == {"channel": "whatsapp", "time_of_day": "evening"}
    assert proposal.description == "you usually message us in the evening on WhatsApp"
    assert service.preferences(customer) == {}  # proposed, not stored
    assert service.propose_preferences(customer) is None  # not again within the proposal interval
    clock.advance(days=31)
    assert service.propose_preferences(customer) is not None  # asked again later: still nothing stored
    assert service.preferences(customer) == {}
    service.set_preferences(customer, proposal.values, source="observed")
    assert service.preferences(customer) == {"channel": "whatsapp", "time_of_day": "evening"}
    clock.advance(days=31)
    assert service.propose_preferences(customer) is None  # what is confirmed is not proposed again
    with pytest.raises(InvalidInput):
        service.set_preferences(customer, {"channel": "carrier pigeon"})


def test_csat_and_nps_frequency_rules(sql_crm: SqlCrm) -> None:
    customer = add_customer(sql_crm.sessions)
    clock = Clock(NOW)
    service = SqlRelationshipService(
        sql_crm.sessions, clock=clock, csat_min_interval=timedelta(hours=24), nps_period=timedelta(days=90)
    )
    first = service.plan_survey(customer)
    assert (first.csat, first.nps) == (True, True)
    clock.advance(hours=2)
    assert service.plan_survey(customer).csat is False  # a second conversation the same day: no survey
    clock.advance(hours=23)
    later = service.plan_survey(customer)
    assert (later.csat, later.nps) == (True, False)  # CSAT again, NPS not within 90 days of the last ask
    clock.advance(days=88)  # 89 days and an hour after NPS was asked
    assert service.plan_survey(customer).nps is False
    clock.advance(days=1)
    assert service.plan_survey(customer).nps is True
    anonymous = service.plan_survey(None)
    assert (anonymous.csat, anonymous.nps) == (True, False)  # NPS only for known customers

    service.record_feedback(NewFeedback("csat", 5, "  quick  and\nkind ", customer, "bot", "rest", "s1"))
    service.record_feedback(NewFeedback("csat", 2, None, customer, "person", "rest", "s1"))
    service.record_feedback(NewFeedback("nps", 9, None, customer, None, "rest", "s1"))
    for bad in (NewFeedback("csat", 6, None, customer), NewFeedback("nps", -1, None, customer),
                NewFeedback("csat", 3, None, customer, resolution="robot")):  # fmt: skip
        with pytest.raises(InvalidInput):
            service.record_feedback(bad)
    with sql_crm.sessions() as s:
        rows = s.execute(select(FeedbackRow.kind, FeedbackRow.score, FeedbackRow.resolution, FeedbackRow.comment)).all()
    assert sorted(rows) == [("csat", 2, "person", None), ("csat", 5, "bot", "quick and kind"), ("nps", 9, None, None)]
    page = SqlHistoryService(sql_crm.sessions).timeline(customer)
    assert sorted(e.title for e in page.entries if e.kind == "feedback") == [
        "Recommendation score: 9/10",
        "Satisfaction: 2/5 (resolved by a person)",
        "Satisfaction: 5/5 (resolved by the bot)",
    ]


def test_value_score_and_its_breakdown(sql_crm: SqlCrm) -> None:
    customer = add_customer(sql_crm.sessions)
    add_order(sql_crm.sessions, customer, "JH700001", status="delivered", delivered_days_ago=10,
              items=(("Sofa", 1, 80000),))  # fmt: skip
    add_order(sql_crm.sessions, customer, "JH700002", status="cancelled", items=(("Lamp", 1, 50000),))
    add_order(sql_crm.sessions, customer, "JH700003", status="shipped", items=(("Rug", 2, 10000),))
    for days in (5, 40, 100):
        conversation_at(sql_crm, customer, "rest", "web-v", NOW - timedelta(days=days))
    service = relationship(sql_crm, Clock(NOW))
    service.record_feedback(NewFeedback("nps", 10, None, customer))
    service.record_feedback(NewFeedback("csat", 5, None, customer))
    service.record_feedback(NewFeedback("csat", 4, None, customer))
    friend = add_customer(sql_crm.sessions)
    with sql_crm.sessions.begin() as s:
        s.get(CustomerRow, friend).referred_by = customer  # type: ignore[union-attr]

    value = service.value(customer)
    # purchases: £1,000 net of £2,000 -> 25; engagement: 3/12 of 15 = 3.75 + 10 * (1 - 5/365) = 9.86;
    # advocacy: NPS 10 -> 12, CSAT 4.5 -> 4.375, one referral -> 4
    assert value.part("purchases").points == 25.0
    assert value.part("engagement").points == 13.6
    assert value.part("advocacy").points == 20.4
    assert value.score == 59.0 and value.tier == "high"
    assert "£1,000.00 net spend over 2 orders" in value.explanation
    assert "1 referral" in value.explanation
    assert relationship(sql_crm).profile(friend).value.tier == "low"


def test_sentiment_per_message_per_conversation_and_trend(sql_crm: SqlCrm, tracker_url: str) -> None:
    customer = add_customer(sql_crm.sessions, email="greta@example.com")
    chats, clock = [], T0
    for text in ("this is terrible, I am so angry", "still bad, very disappointed", "thanks, that was great!",
                 "brilliant, love it, thank you so much"):  # fmt: skip
        chat = verified_chat("web-mood", customer, "greta@example.com", clock=clock)
        chat.turn(text, "chitchat", ("utter_ok", "OK"))
        chats.append(chat)
        clock = chat.clock + 4000
    write_tracker_events(create_engine(tracker_url), chats)
    ingest(sql_crm, tracker_url)
    with sql_crm.sessions() as s:
        scored = s.execute(select(MessageRow.text, MessageRow.sentiment).where(MessageRow.sender == "customer")).all()
        convs = s.scalars(select(ConversationRow).order_by(ConversationRow.id)).all()
    scores = dict(scored)
    assert scores["this is terrible, I am so angry"] < -0.5 < 0.5 < scores["brilliant, love it, thank you so much"]
    assert all(s is None for t, s in scored if t is None)
    assert len(convs) == 4 and all(c.sentiment_count == 5 and c.sentiment_min is not None for c in convs)
    trend = relationship(sql_crm).sentiment_trend(customer)
    assert len(trend.points) == 4 and trend.direction == "improving"
    assert trend.points[0] < trend.points[-1]
