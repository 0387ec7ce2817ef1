"""History ingestion from the RabbitMQ event broker (the production source), on a real RabbitMQ."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pika
import pytest
from sqlalchemy import func, select

from history.ingest import HistoryIngestion
from history.rows import MessageRow
from history.sources import RabbitMqSource
from tests.conftest import SqlCrm
from tests.factories import add_customer
from tests.history_events import Chat
from tests.services import rabbitmq_url

pytestmark = pytest.mark.integration


@pytest.fixture
def broker() -> Iterator[tuple[str, str, str]]:
    """A fresh fanout exchange and queue, declared the way Rasa's pika broker declares them."""
    url = rabbitmq_url()
    exchange, queue = f"test-exchange-{uuid.uuid4().hex[:8]}", f"test-history-{uuid.uuid4().hex[:8]}"
    yield url, exchange, queue
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    channel.queue_delete(queue)
    channel.exchange_delete(exchange)
    connection.close()


def publish(url: str, exchange: str, queue: str, bodies: list[bytes]) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    channel.exchange_declare(exchange, exchange_type="fanout")
    channel.queue_declare(queue, durable=True)
    channel.queue_bind(queue, exchange)
    for body in bodies:
        channel.basic_publish(exchange, "", body, pika.BasicProperties(delivery_mode=2))
    connection.close()


def rasa_bodies(*chats: Chat) -> list[bytes]:
    """What Rasa publishes: each event with the sender id added (rasa/core/tracker_store.py)."""
    return [json.dumps({"sender_id": c.sender_id, **e}).encode() for c in chats for e in c.events]


def test_a_crash_between_commit_and_acknowledgement_doubles_nothing(sql_crm: SqlCrm, broker) -> None:  # type: ignore[no-untyped-def]
    url, exchange, queue = broker
    customer = add_customer(sql_crm.sessions)
    chat = Chat("rmq-1").session_start()
    chat.user("where is my order", "order_status").action("order_status_form").slot("customer_id", customer)
    chat.bot("It's on its way.", "utter_order_status").action("action_listen")
    for n in range(6):
        chat.turn(f"question {n}", "faq", ("utter_faq", f"answer {n}"))
    publish(url, exchange, queue, rasa_bodies(chat) + [b"not json at all"])

    crashing = RabbitMqSource(url, queue, exchange=exchange, wait=0.2)
    crashing.committed = lambda batch: None  # type: ignore[method-assign] # dies before acknowledging
    HistoryIngestion(sql_crm.sessions, crashing, batch_size=10).step()
    crashing.close()  # the connection drops: RabbitMQ puts the unacknowledged events back

    source = RabbitMqSource(url, queue, exchange=exchange, wait=0.2)
    result = HistoryIngestion(sql_crm.sessions, source, batch_size=10).catch_up()
    again = HistoryIngestion(sql_crm.sessions, source, batch_size=10).catch_up()
    source.close()

    assert result.skipped >= 10 + 1  # the redelivered first batch, and the message that is not an event
    assert again.events == 0  # everything was acknowledged
    with sql_crm.sessions() as s:
        messages = s.scalars(select(MessageRow).order_by(MessageRow.created_at, MessageRow.id)).all()
        assert [m.text for m in messages] == ["where is my order", "It's on its way."] + [
            t for n in range(6) for t in (f"question {n}", f"answer {n}")
        ]
        assert messages[0].actions == ["order_status_form"] and messages[0].slots == {"customer_id": customer}
        assert s.scalar(select(func.count(func.distinct(MessageRow.conversation_id)))) == 1


def test_rabbitmq_down_is_reported_as_unavailable_not_a_crash() -> None:
    from history.sources import SourceUnavailable

    source = RabbitMqSource("amqp://guest:guest@127.0.0.1:1/%2F", "nowhere")
    with pytest.raises(SourceUnavailable):
        source.read("0", 10)
    source.close()


def test_a_batch_read_while_the_crm_database_fails_is_read_again_not_lost(sql_crm: SqlCrm, broker) -> None:  # type: ignore[no-untyped-def]
    """The database goes away between reading a batch and committing it (seen in production mode when the CRM
    database was cut off): the next batches must not acknowledge it unprojected."""
    from sqlalchemy.exc import OperationalError

    from history import ingest

    url, exchange, queue = broker
    chats = [Chat(f"rmq-fail-{n}").session_start() for n in range(3)]
    for n, chat in enumerate(chats):
        chat.turn(f"question {n}", "faq", ("utter_faq", f"answer {n}"))
    publish(url, exchange, queue, rasa_bodies(*chats))

    source = RabbitMqSource(url, queue, exchange=exchange, wait=0.2)
    runner = HistoryIngestion(sql_crm.sessions, source, batch_size=len(chats[0].events))
    real_project = ingest.HistoryProjector.project
    calls = 0

    def failing_once(self, events):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        if calls == 1:
            raise OperationalError("INSERT", {}, Exception("server closed the connection unexpectedly"))
        return real_project(self, events)

    ingest.HistoryProjector.project = failing_once  # type: ignore[method-assign]
    try:
        with pytest.raises(OperationalError):
            runner.step()  # the first conversation's events were read, then the database failed
        runner.catch_up()
    finally:
        ingest.HistoryProjector.project = real_project  # type: ignore[method-assign]
        source.close()

    with sql_crm.sessions() as s:
        texts = s.scalars(select(MessageRow.text).order_by(MessageRow.created_at, MessageRow.id)).all()
    assert sorted(texts) == sorted(t for n in range(3) for t in (f"question {n}", f"answer {n}"))
