"""Where history ingestion reads Rasa's event log: the SQL tracker store or the RabbitMQ event broker.

A source hands out batches of `SourceEvent`s after a position and is told when a batch
has been committed. The position is opaque to the runner; it is stored in the CRM in
the same transaction as the rows the batch produced.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

from sqlalchemy import Column, Float, Integer, MetaData, String, Table, Text, create_engine, event, select
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import SQLAlchemyError

from history.projector import SourceEvent

log = logging.getLogger(__name__)

# Rasa 3.6's SQL tracker store table (rasa/core/tracker_store.py, SQLTrackerStore.SQLEvent), read only.
_tracker_meta = MetaData()
TRACKER_EVENTS = Table(
    "events",
    _tracker_meta,
    Column("id", Integer, primary_key=True),
    Column("sender_id", String(255)),
    Column("type_name", String(255)),
    Column("timestamp", Float),
    Column("intent_name", String(255)),
    Column("action_name", String(255)),
    Column("data", Text),
)


class SourceUnavailable(Exception):
    """The event log cannot be read right now; the runner waits and tries again."""


@dataclass
class Batch:
    events: list[SourceEvent]
    position: str  # where the next batch starts, once this one is committed
    caught_up: bool  # nothing more to read right now
    rejected: int = 0  # entries that are not events at all (logged)
    token: Any = None  # what the source needs to acknowledge the batch
    redelivered: bool = False  # some entries may have been applied already (broker redelivery)


class EventSource(Protocol):
    name: str

    def read(self, position: str, limit: int) -> Batch: ...
    def committed(self, batch: Batch) -> None: ...
    def abandoned(self, batch: Batch) -> None: ...
    def close(self) -> None: ...


@dataclass
class TrackerStoreSource:
    """Reads the SQL tracker store's `events` table in id order.

    Ids are handed out when a transaction inserts, so with several Rasa servers a
    lower id can become visible after a higher one. The reader stops before a hole
    in the ids until the event after it is `gap_grace` seconds old: by then a
    transaction that was still writing into the hole has committed (or never will).
    """

    url: str
    gap_grace: float = 10.0
    clock: Callable[[], float] = time.time
    engine: Engine = field(init=False)

    def __post_init__(self) -> None:
        self.name = "tracker:" + make_url(self.url).render_as_string(hide_password=True)[:180]
        self.engine = tracker_engine(self.url)

    def read(self, position: str, limit: int) -> Batch:
        after = int(position or 0)
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(
                    select(
                        TRACKER_EVENTS.c.id,
                        TRACKER_EVENTS.c.sender_id,
                        TRACKER_EVENTS.c.timestamp,
                        TRACKER_EVENTS.c.data,
                    )
                    .where(TRACKER_EVENTS.c.id > after)
                    .order_by(TRACKER_EVENTS.c.id)
                    .limit(limit)
                ).all()
        except SQLAlchemyError as exc:
            if "no such table" in str(exc) or "does not exist" in str(exc):
                return Batch([], str(after), caught_up=True)  # Rasa has not written anything yet
            raise SourceUnavailable(f"tracker store unreadable: {exc}") from exc
        events: list[SourceEvent] = []
        rejected = 0
        expected = after + 1
        position = str(after)
        for row in rows:
            if row.id != expected and self.clock() - float(row.timestamp or 0) < self.gap_grace:
                return Batch(events, position, caught_up=True, rejected=rejected)
            try:
                data = json.loads(row.data)
                if not isinstance(data, dict):
                    raise ValueError("not a JSON object")
                events.append(SourceEvent.of(row.sender_id, data))
            except ValueError as exc:
                rejected += 1
                log.error("history: tracker event %s of %s is not valid JSON (%s); skipped", row.id, row.sender_id, exc)
            position = str(row.id)
            expected = row.id + 1
        return Batch(events, position, caught_up=len(rows) < limit, rejected=rejected)

    def committed(self, batch: Batch) -> None:
        return None

    def abandoned(self, batch: Batch) -> None:
        return None  # the checkpoint's position did not move: the same events are read again

    def close(self) -> None:
        self.engine.dispose()


def tracker_engine(url: str) -> Engine:
    """An engine on Rasa's tracker store database, shared politely with the Rasa server."""
    kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if url.startswith("sqlite"):
        kwargs = {"connect_args": {"timeout": 15}}
    elif url.startswith("postgresql"):
        kwargs["connect_args"] = {"connect_timeout": 5}
    engine = create_engine(url, **kwargs)
    if url.startswith("sqlite"):
        # WAL (a property of the file) lets Rasa keep writing while this reads.
        event.listen(engine, "connect", _sqlite_wal)
    return engine


def _sqlite_wal(dbapi_connection: Any, _record: Any) -> None:
    try:
        dbapi_connection.execute("PRAGMA journal_mode=WAL")
    except Exception as exc:  # noqa: BLE001 - a locked file keeps its mode; reading still works
        log.debug("could not switch the tracker store to WAL: %s", exc)


class RabbitMqSource:
    """Consumes the queue Rasa's pika event broker publishes to.

    Messages are acknowledged only after the batch they belong to has been committed,
    so a crash loses nothing: RabbitMQ delivers them again, marked as redelivered, and
    the runner skips those the last committed batch already holds.
    """

    def __init__(self, url: str, queue: str, exchange: str = "rasa-exchange", wait: float = 0.5) -> None:
        import pika

        self._pika = pika
        self._url = url
        self.queue = queue
        self.exchange = exchange
        self.wait = wait
        parsed = urlsplit(url)
        self.name = f"rabbitmq:{parsed.hostname}:{parsed.port or 5672}/{queue}"
        self._connection: Any = None
        self._channel: Any = None

    def _connect(self, prefetch: int) -> Any:
        if self._channel is None or self._channel.is_closed:
            try:
                params = self._pika.URLParameters(self._url)
                params.heartbeat = 30
                params.blocked_connection_timeout = 30
                self._connection = self._pika.BlockingConnection(params)
                channel = self._connection.channel()
                # The same declarations as Rasa's broker (a fanout exchange, a durable queue), so
                # either side may start first.
                channel.exchange_declare(self.exchange, exchange_type="fanout")
                channel.queue_declare(self.queue, durable=True)
                channel.queue_bind(self.queue, self.exchange)
                channel.basic_qos(prefetch_count=prefetch)
                self._channel = channel
            except self._pika.exceptions.AMQPError as exc:
                self.close()
                raise SourceUnavailable(f"RabbitMQ unreachable: {exc!r}") from exc
        return self._channel

    def read(self, position: str, limit: int) -> Batch:
        channel = self._connect(limit)
        events: list[SourceEvent] = []
        rejected = 0
        last_tag = None
        redelivered = False
        deadline = time.monotonic() + self.wait
        try:
            while len(events) + rejected < limit:
                method, _properties, body = channel.basic_get(self.queue, auto_ack=False)
                if method is None:
                    if time.monotonic() >= deadline or events:
                        break
                    self._connection.sleep(0.05)
                    continue
                last_tag = method.delivery_tag
                redelivered = redelivered or method.redelivered
                try:
                    data = json.loads(body)
                    sender = data.get("sender_id") if isinstance(data, dict) else None
                    if not isinstance(sender, str) or not data.get("event"):
                        raise ValueError("not a Rasa event")
                    events.append(SourceEvent.of(sender, data))
                except ValueError as exc:
                    rejected += 1
                    log.error("history: broker message %s is not a Rasa event (%s); skipped", method.delivery_tag, exc)
        except self._pika.exceptions.AMQPError as exc:
            self.close()  # unacknowledged messages go back to the queue
            raise SourceUnavailable(f"RabbitMQ connection lost: {exc!r}") from exc
        count = int(position or 0) + len(events) + rejected
        return Batch(
            events,
            str(count),
            caught_up=len(events) + rejected < limit,
            rejected=rejected,
            token=last_tag,
            redelivered=redelivered,
        )

    def committed(self, batch: Batch) -> None:
        if batch.token is None:
            return
        try:
            self._channel.basic_ack(delivery_tag=batch.token, multiple=True)
        except self._pika.exceptions.AMQPError as exc:
            # The batch is committed; RabbitMQ will redeliver it and the runner will skip it.
            self.close()
            raise SourceUnavailable(f"RabbitMQ acknowledgement failed: {exc!r}") from exc

    def abandoned(self, batch: Batch) -> None:
        """The batch was read but not committed: drop the channel, so RabbitMQ redelivers its messages. Reading
        on over the same channel would not see them again, and the next acknowledgement (`multiple`) would
        acknowledge them unprojected."""
        self.close()

    def close(self) -> None:
        try:
            if self._connection is not None and self._connection.is_open:
                self._connection.close()
        except Exception:  # noqa: BLE001 - closing a broken connection
            pass
        self._connection = self._channel = None
