"""History ingestion and the timeline on real SQLite and PostgreSQL databases.

Rasa's event log is a table shaped like its SQL tracker store (tests/history_events.py);
the end-to-end tests run the same against the real Rasa server.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, insert, select, update

from crm_adapter.domain import InvalidInput, NotFound
from history.ingest import HistoryIngestion
from history.projector import OUTCOME_LABELS
from history.rows import ConversationRow, HistoryCheckpointRow, MessageRow
from history.sources import TRACKER_EVENTS, TrackerStoreSource
from history.timeline import SqlHistoryService
from relationship.rows import FeedbackRow
from tests.conftest import SqlCrm
from tests.factories import Clock, add_customer, add_order, add_ticket
from tests.history_events import T0, Chat, write_tracker_events

pytestmark = pytest.mark.integration

AT_T0 = datetime.fromtimestamp(T0, tz=timezone.utc).replace(tzinfo=None)


@pytest.fixture
def tracker(tmp_path: Path):  # type: ignore[no-untyped-def]
    engine = create_engine(f"sqlite:///{tmp_path / 'tracker.db'}")
    TRACKER_EVENTS.metadata.create_all(engine)
    yield engine
    engine.dispose()


def ingestion(crm: SqlCrm, tracker_engine, batch_size: int = 500, now: datetime | None = None) -> HistoryIngestion:  # type: ignore[no-untyped-def]
    source = TrackerStoreSource(str(tracker_engine.url), clock=lambda: T0 + 3600 * 24)
    return HistoryIngestion(
        crm.sessions, source, batch_size=batch_size, clock=Clock(now or AT_T0 + timedelta(minutes=5))
    )


def transcript(crm: SqlCrm, sender_id: str) -> list[tuple[str, str | None]]:
    with crm.sessions() as s:
        rows = s.execute(
            select(MessageRow.sender, MessageRow.text)
            .join(ConversationRow, ConversationRow.id == MessageRow.conversation_id)
            .where(ConversationRow.sender_id == sender_id)
            .order_by(MessageRow.created_at, MessageRow.id)
        ).all()
    return [(r.sender, r.text) for r in rows]


def conversations(crm: SqlCrm, sender_id: str) -> list[ConversationRow]:
    with crm.sessions() as s:
        return list(
            s.scalars(
                select(ConversationRow).where(ConversationRow.sender_id == sender_id).order_by(ConversationRow.id)
            )
        )


def order_status_chat(sender: str, customer_id: str) -> Chat:
    chat = Chat(sender).session_start()
    chat.turn("hi", "greet", ("action_greet", "Hi, I'm Juno."))
    chat.user("where is my order JH100001", "order_status").action("order_status_form").loop("order_status_form")
    chat.slot("requested_slot", "identity_email").bot("What's your email?", "utter_ask_identity_email")
    chat.action("action_listen")
    chat.user("anna@example.com", "inform").action("order_status_form").slot("identity_email", "anna@example.com")
    chat.slot("identity_proof", "JH100001").slot("customer_id", customer_id).slot("verified", True)
    chat.slot("order_number", "JH100001").loop(None).slot("requested_slot", None)
    chat.action("action_order_status").bot("Order JH100001 is on its way.", "utter_order_status_shipped")
    chat.action("action_listen")
    chat.turn("thanks, bye", "goodbye", ("utter_goodbye", "Bye!"))
    return chat


def test_every_message_is_projected_with_what_the_bot_understood_and_did(sql_crm: SqlCrm, tracker) -> None:  # type: ignore[no-untyped-def]
    customer = add_customer(sql_crm.sessions)
    chat = order_status_chat("web-1", customer)
    write_tracker_events(tracker, [chat])

    result = ingestion(sql_crm, tracker).catch_up()

    assert result.messages == 8 and result.skipped == 0
    assert transcript(sql_crm, "web-1") == [
        ("customer", "hi"),
        ("bot", "Hi, I'm Juno."),
        ("customer", "where is my order JH100001"),
        ("bot", "What's your email?"),
        ("customer", "anna@example.com"),
        ("bot", "Order JH100001 is on its way."),
        ("customer", "thanks, bye"),
        ("bot", "Bye!"),
    ]
    with sql_crm.sessions() as s:
        rows = s.scalars(select(MessageRow).order_by(MessageRow.id)).all()
        email_turn = rows[4]
        assert (email_turn.intent, round(email_turn.confidence or 0, 2)) == ("inform", 0.93)
        assert email_turn.actions == ["order_status_form", "action_order_status"]
        assert email_turn.slots["customer_id"] == customer
        assert email_turn.slots["identity_proof"] == "***"  # proofs never reach the history
        assert rows[5].response == "utter_order_status_shipped"
    [conv] = conversations(sql_crm, "web-1")
    assert conv.customer_id == customer and conv.channel == "rest"
    assert conv.intents == {"greet": 1, "order_status": 1, "inform": 1, "goodbye": 1}
    assert conv.refs == {"orders": ["JH100001"]}
    assert conv.ended_at is None and "Still open" in (conv.summary or "")


def test_reading_the_same_events_again_doubles_nothing(sql_crm: SqlCrm, tracker) -> None:  # type: ignore[no-untyped-def]
    customer = add_customer(sql_crm.sessions)
    write_tracker_events(tracker, [order_status_chat("web-2", customer)])
    ingestion(sql_crm, tracker, batch_size=7).catch_up()
    with sql_crm.sessions.begin() as s:  # as if the checkpoint had been lost
        s.execute(update(HistoryCheckpointRow).values(position="0"))

    again = ingestion(sql_crm, tracker, batch_size=7).catch_up()

    assert again.messages == 0 and again.skipped >= 8
    assert len(transcript(sql_crm, "web-2")) == 8
    [conv] = conversations(sql_crm, "web-2")
    assert conv.intents == {"greet": 1, "order_status": 1, "inform": 1, "goodbye": 1}
    with sql_crm.sessions() as s:
        turn = s.scalar(select(MessageRow).where(MessageRow.text == "anna@example.com"))
        assert turn is not None and turn.actions == ["order_status_form", "action_order_status"]


def test_small_batches_give_the_same_history_as_one_big_batch(sql_crm: SqlCrm, tracker) -> None:  # type: ignore[no-untyped-def]
    customer = add_customer(sql_crm.sessions)
    chats = [order_status_chat(f"s{i}", customer) for i in range(3)]
    interleaved = [
        (c.sender_id, e)
        for group in zip(*(c.events for c in chats), strict=True)
        for c, e in zip(chats, group, strict=True)
    ]
    write_tracker_events(tracker, interleaved)

    ingestion(sql_crm, tracker, batch_size=3).catch_up()

    with sql_crm.sessions() as s:
        rows = s.scalars(select(MessageRow).where(MessageRow.sender == "customer").order_by(MessageRow.id)).all()
        by_text = {(m.conversation_id, m.text): m for m in rows}
        assert len(rows) == 12
        assert all(m.actions for m in rows)  # actions reached their message across batch boundaries
        assert {tuple(m.actions or []) for (_, t), m in by_text.items() if t == "anna@example.com"} == {
            ("order_status_form", "action_order_status")
        }
    for chat in chats:
        assert [t for _, t in transcript(sql_crm, chat.sender_id)][::2] == [
            "hi",
            "where is my order JH100001",
            "anna@example.com",
            "thanks, bye",
        ]


def test_an_earlier_anonymous_chat_stays_anonymous_when_someone_identifies_later(sql_crm: SqlCrm, tracker) -> None:  # type: ignore[no-untyped-def]
    # A sender id proves nothing about who typed in an earlier session: a complaint written by one person, then
    # a verification by another on the same id, must not put the first person's words on the second's record.
    customer = add_customer(sql_crm.sessions)
    first = Chat("phone-7").session_start()
    first.turn("my sofa arrived torn, I'm Mia at 4 Elm Road", "complain", ("utter_sorry", "I'm sorry."))
    second = Chat("phone-7", clock=first.clock + 7200).session_start()
    second.turn("hello", "greet", ("action_greet", "Hi!"))
    second.user("anna@example.com", "inform").action("identify_form").slot("customer_id", customer)
    second.bot("Thanks, Anna, you're verified.", "utter_identity_confirmed").action("action_listen")
    write_tracker_events(tracker, [("phone-7", e) for e in first.events + second.events])

    ingestion(sql_crm, tracker, now=AT_T0 + timedelta(hours=3)).catch_up()

    convs = conversations(sql_crm, "phone-7")
    assert [c.customer_id for c in convs] == [None, customer]
    assert convs[0].ended_at is not None
    page = SqlHistoryService(sql_crm.sessions).timeline(customer)
    assert [e.reference for e in page.entries if e.kind == "conversation"] == [str(convs[1].id)]


def test_each_conversation_belongs_only_to_whoever_was_identified_in_it(sql_crm: SqlCrm, tracker) -> None:  # type: ignore[no-untyped-def]
    anna = add_customer(sql_crm.sessions, first_name="Anna")
    omar = add_customer(sql_crm.sessions, first_name="Omar")
    chats = [Chat("shared", clock=T0 + i * 7200).session_start() for i in range(4)]
    chats[0].turn("do you sell lamps", "faq", ("utter_faq", "Yes."))
    chats[1].slot("customer_id", anna).user("forget me", "logout").action("action_logout").slot("customer_id", None)
    chats[2].turn("do you sell rugs", "faq", ("utter_faq", "Yes."))
    chats[3].user("omar@example.com", "inform").slot("customer_id", omar).action("action_listen")
    write_tracker_events(tracker, [("shared", e) for c in chats for e in c.events])

    ingestion(sql_crm, tracker, now=AT_T0 + timedelta(hours=9)).catch_up()

    assert [c.customer_id for c in conversations(sql_crm, "shared")] == [None, anna, None, omar]


def test_a_session_start_with_a_recognised_customer_attaches_at_once(sql_crm: SqlCrm, tracker) -> None:  # type: ignore[no-untyped-def]
    customer = add_customer(sql_crm.sessions)
    chat = Chat("demo").action("action_session_start")
    chat._add("session_started")
    chat.slot("customer_id", customer).action("action_listen")
    chat.turn("hi", "greet", ("action_greet", "Welcome back!"))
    write_tracker_events(tracker, [chat])

    ingestion(sql_crm, tracker).catch_up()

    [conv] = conversations(sql_crm, "demo")
    assert conv.customer_id == customer and conv.message_count == 2


def test_an_unknown_customer_id_leaves_the_conversation_anonymous(sql_crm: SqlCrm, tracker, caplog) -> None:  # type: ignore[no-untyped-def]
    chat = Chat("ghost").session_start().user("hi", "greet").slot("customer_id", "cus_erased").action("action_listen")
    write_tracker_events(tracker, [chat])

    with caplog.at_level(logging.WARNING):
        ingestion(sql_crm, tracker).catch_up()

    assert [c.customer_id for c in conversations(sql_crm, "ghost")] == [None]
    assert "cus_erased" in caplog.text


@pytest.mark.parametrize(
    ("build", "expected"),
    [
        (
            lambda c: c.turn("a person please", "request_human", ("action_request_human", "Someone will call.")),
            "handed_off",
        ),
        (lambda c: c.user("cancel my order", "cancel_order").action("cancel_form").loop("cancel_form"), "abandoned"),
        (lambda c: c.turn("blorp", "nlu_fallback", ("utter_fallback_offer_human", "Sorry?")), "abandoned"),
        (lambda c: c, "abandoned"),
        (lambda c: c.turn("bye", "goodbye", ("utter_goodbye", "Bye!")), "resolved_by_bot"),
    ],
    ids=["handoff", "left-mid-form", "not-understood", "never-spoke", "resolved"],
)
def test_idle_conversations_end_with_an_outcome(sql_crm: SqlCrm, tracker, build, expected: str) -> None:  # type: ignore[no-untyped-def]
    chat = build(Chat("o1").session_start())
    write_tracker_events(tracker, [chat])
    ingestion(sql_crm, tracker, now=AT_T0 + timedelta(minutes=30)).catch_up()
    assert conversations(sql_crm, "o1")[0].outcome is None  # not idle long enough yet

    ingestion(sql_crm, tracker, now=AT_T0 + timedelta(minutes=75)).catch_up()

    [conv] = conversations(sql_crm, "o1")
    assert conv.outcome == expected and conv.ended_at is not None
    assert f"Outcome: {OUTCOME_LABELS[expected]}." in (conv.summary or "")


def test_a_malformed_tracker_row_is_logged_and_skipped_not_fatal(sql_crm: SqlCrm, tracker, caplog) -> None:  # type: ignore[no-untyped-def]
    chat = Chat("m1").session_start().turn("hi", "greet", ("action_greet", "Hello"))
    write_tracker_events(tracker, [chat])
    with tracker.begin() as conn:
        conn.execute(insert(TRACKER_EVENTS).values(sender_id="m1", type_name="user", timestamp=T0, data="{not json"))
    more = Chat("m1", clock=chat.clock).turn("bye", "goodbye", ("utter_goodbye", "Bye"))
    write_tracker_events(tracker, [more])

    with caplog.at_level(logging.ERROR):
        result = ingestion(sql_crm, tracker).catch_up()

    assert result.skipped == 1 and "not valid JSON" in caplog.text
    assert [t for _, t in transcript(sql_crm, "m1")] == ["hi", "Hello", "bye", "Bye"]


def test_a_fresh_hole_in_the_ids_is_waited_for_an_old_one_is_passed(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 't.db'}")
    TRACKER_EVENTS.metadata.create_all(engine)
    row = {"sender_id": "g", "type_name": "user", "data": json.dumps({"event": "user", "text": "x", "timestamp": T0})}
    with engine.begin() as conn:
        conn.execute(
            insert(TRACKER_EVENTS), [{"id": 1, "timestamp": T0, **row}, {"id": 3, "timestamp": T0 + 100, **row}]
        )
    now = [T0 + 101]
    source = TrackerStoreSource(str(engine.url), gap_grace=10, clock=lambda: now[0])

    first = source.read("0", 100)
    assert (len(first.events), first.position, first.caught_up) == (1, "1", True)  # id 2 may still be committing
    now[0] = T0 + 111
    later = source.read("1", 100)
    assert (len(later.events), later.position) == (1, "3")
    source.close()


def test_a_missing_tracker_table_means_nothing_to_read_yet(tmp_path: Path) -> None:
    source = TrackerStoreSource(f"sqlite:///{tmp_path / 'empty.db'}")
    batch = source.read("0", 10)
    assert (batch.events, batch.position, batch.caught_up) == ([], "0", True)
    source.close()


# ---- the timeline ---------------------------------------------------------------------


def test_the_timeline_merges_everything_newest_first_and_pages_without_gaps(sql_crm: SqlCrm, tracker) -> None:  # type: ignore[no-untyped-def]
    customer = add_customer(sql_crm.sessions)
    for n in range(5):
        add_order(sql_crm.sessions, customer, f"JH2000{n:02d}", placed_days_ago=10 + n)
    add_ticket(sql_crm.sessions, customer, "Scratched table")
    with sql_crm.sessions.begin() as s:
        s.add(
            FeedbackRow(
                customer_id=customer, kind="csat", score=5, comment="lovely", created_at=AT_T0 - timedelta(days=1)
            )
        )
        # an order at exactly the same instant as the feedback: ties still page cleanly
        s.add(FeedbackRow(customer_id=customer, kind="nps", score=9, created_at=AT_T0 - timedelta(days=1)))
    chats = [
        Chat(f"t{i}", clock=T0 + i * 60).session_start().user("hi", "greet").slot("customer_id", customer)
        for i in range(4)
    ]
    write_tracker_events(tracker, chats)
    ingestion(sql_crm, tracker).catch_up()
    other = add_customer(sql_crm.sessions, email="someone.else@example.com")
    add_order(sql_crm.sessions, other, "JH299999", placed_days_ago=1)
    history = SqlHistoryService(sql_crm.sessions)

    seen, cursor = [], None
    for _ in range(10):
        page = history.timeline(customer, cursor=cursor, limit=3)
        assert len(page.entries) <= 3
        seen.extend(page.entries)
        cursor = page.next_cursor
        if cursor is None:
            break

    assert len(seen) == 12 and len({(e.kind, e.reference) for e in seen}) == 12
    assert [e.occurred_at for e in seen] == sorted((e.occurred_at for e in seen), reverse=True)
    assert [e.kind for e in seen[:4]] == ["conversation"] * 4
    assert {e.reference for e in seen if e.kind == "order"} == {f"JH2000{n:02d}" for n in range(5)}
    assert "JH299999" not in {e.reference for e in seen}
    conv = seen[0]
    assert conv.detail["channel"] == "rest" and conv.detail["intents"] == {"greet": 1}


def test_a_conversation_reads_in_pages_and_only_for_its_customer(sql_crm: SqlCrm, tracker) -> None:  # type: ignore[no-untyped-def]
    customer = add_customer(sql_crm.sessions)
    stranger = add_customer(sql_crm.sessions, email="stranger@example.com")
    write_tracker_events(tracker, [order_status_chat("c1", customer)])
    ingestion(sql_crm, tracker).catch_up()
    history = SqlHistoryService(sql_crm.sessions)
    [conv] = conversations(sql_crm, "c1")

    first = history.conversation(customer, conv.id, limit=5)
    rest = history.conversation(customer, conv.id, cursor=first.next_cursor, limit=5)

    texts = [m.text for m in first.messages + rest.messages]
    assert texts == [t for _, t in transcript(sql_crm, "c1")] and rest.next_cursor is None
    assert first.messages[0].intent == "greet" and first.messages[1].response == "action_greet"
    with pytest.raises(NotFound):
        history.conversation(stranger, conv.id)
    with pytest.raises(NotFound):
        history.timeline("cus_nobody")
    with pytest.raises(InvalidInput):
        history.timeline(customer, cursor="not-a-cursor")
    with pytest.raises(InvalidInput):
        history.conversation(customer, conv.id, cursor=first.next_cursor + "x")  # type: ignore[operator]


def test_checkpoint_and_rows_commit_together(sql_crm: SqlCrm, tracker, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A batch that fails after writing its rows leaves neither rows nor a moved checkpoint behind."""
    import history.ingest as ingest_module

    write_tracker_events(tracker, [Chat("k").session_start().turn("hi", "greet", ("utter_greet", "Hello"))])

    class FailsAfterWriting(ingest_module.HistoryProjector):
        def project(self, events):  # type: ignore[no-untyped-def]
            super().project(events)  # rows written and flushed
            raise RuntimeError("killed mid-batch")

    monkeypatch.setattr(ingest_module, "HistoryProjector", FailsAfterWriting)
    with pytest.raises(RuntimeError):
        ingestion(sql_crm, tracker).step()
    with sql_crm.sessions() as s:
        assert s.scalar(select(func.count()).select_from(MessageRow)) == 0
        assert s.scalar(select(func.count()).select_from(ConversationRow)) == 0
        assert s.scalar(select(HistoryCheckpointRow.position)) is None
    monkeypatch.undo()

    ingestion(sql_crm, tracker).catch_up()
    assert len(transcript(sql_crm, "k")) == 2


def test_answers_from_the_help_centre_are_kept_on_the_conversation(sql_crm: SqlCrm, tracker) -> None:  # type: ignore[no-untyped-def]
    chat = Chat("web-help").session_start()
    chat.user("do you sell gift cards?", "faq").action("action_answer_from_knowledge")
    chat.slot("knowledge_question", "1").slot("knowledge_article", "buying-an-e-gift-card")
    chat.bot("We sell e-gift cards...", "utter_knowledge_answer").bot(
        "Did that answer your question?", "utter_ask_knowledge_helpful"
    )
    chat.action("action_listen")
    chat.user("no", "deny").action("action_answer_pending").slot(
        "knowledge_feedback", "buying-an-e-gift-card: not helpful"
    )
    chat.bot("Sorry that didn't help.", "utter_knowledge_sorry").action("action_listen")
    chat.user("can you recommend a dentist", "out_of_scope").action("action_answer_from_knowledge")
    chat.bot("I'm sorry, I don't know the answer to that.", "utter_knowledge_unknown").action("action_listen")
    write_tracker_events(tracker, [chat])
    ingestion(sql_crm, tracker).catch_up()
    [conv] = conversations(sql_crm, "web-help")
    assert conv.refs == {"help articles": ["buying-an-e-gift-card (not helpful)"]}
    assert "Help articles: buying-an-e-gift-card (not helpful)." in (conv.summary or "")
    assert conv.fallback_count == 1  # "I don't know" counts as a fallback; an answer from an article does not
