"""Benchmark the relationship history at scale: timeline reads and ingestion rate, on PostgreSQL.

Full scale (100,000 customers, 5,000,000 messages; several minutes and a few GB of disk):

    .venvs/app/bin/python scripts/bench_history.py

Smoke scale (well under a minute):

    PYTHONPATH=. .venvs/app/bin/python scripts/bench_history.py --customers 2000 --messages 100000 \\
        --reads 200 --ingest-events 20000 --out /tmp/history-small.json

What it does:

1. Creates a fresh database `hearth_bench_<random>` next to `--postgres-url` (an admin URL),
   brings it to the current schema with the Alembic migrations, and fills it with
   server-side SQL (INSERT ... SELECT from generate_series, no Python loops): the
   customers; about 5 orders, 1 ticket and 1 feedback row each (feedback attached to a
   conversation), returns for about 1 delivered order in 10; and conversations of 5
   messages (customer and bot alternating) so the messages add up to `--messages`.
   Conversations are shared out unevenly (about 10 per customer on average, a few heavy
   customers with hundreds), spread over two years. Then ANALYZE. Foreign-key triggers
   are off during the bulk load only (the data is consistent by construction); the
   reported generation time includes the migrations, the load and ANALYZE.
2. Timeline reads: for `--reads` random customers, times the first page of
   `SqlHistoryService.timeline(customer_id, limit=20)`; for `--reads` random customers
   whose history is longer than a page, times the second page (through `next_cursor`);
   and times `conversation(customer_id, conversation_id)` for a random conversation of
   the customer. Each call goes through the service as the app runs it (its own session,
   the app's engine settings, entity loading), so the figures are what an API call
   pays on the CRM side.
3. Ingestion rate: creates a second fresh database shaped like Rasa's SQL tracker store,
   fills it with about `--ingest-events` Rasa events built with `tests.history_events.Chat`
   (interleaved sessions of distinct senders; about half of them identify a customer of
   the benchmark CRM through the `customer_id` slot), then times
   `HistoryIngestion(...).catch_up()` into the benchmark CRM, and checks that every user
   and bot event became exactly one message row (exits non-zero otherwise).

The figures are written to `--out` (JSON) and summarised on stdout. Both databases are
dropped at the end unless `--keep` is given.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine, create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from crm_adapter.sql.db import make_engine, make_session_factory, upgrade  # noqa: E402
from history.ingest import HistoryIngestion  # noqa: E402
from history.sources import TrackerStoreSource  # noqa: E402
from history.timeline import SqlHistoryService  # noqa: E402
from tests.history_events import Chat, write_tracker_events  # noqa: E402

ADMIN_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
MESSAGES_PER_CONVERSATION = 5
PAGE = 20
CHANNELS = ("web", "telegram", "whatsapp", "rest")
FAR_FUTURE = 4_102_444_800.0  # 2100-01-01: no tracker-store id gap is ever "too recent" to pass

# Seeded conversations: (outcome, handed_off, fallback_count, summary, five messages as (text, intent)).
# Messages alternate customer / bot starting with the customer; bot messages have no intent.
TOPICS: tuple[tuple[str, bool, int, str, tuple[tuple[str, str | None], ...]], ...] = (
    (
        "resolved_by_bot",
        False,
        0,
        "Asked where {order} was; the bot gave the tracking details.",
        (
            ("hi, where is my order {order}?", "order_status"),
            ("Your order {order} is on its way. Expected delivery: in 2 days.", None),
            ("great, thanks", "thank"),
            ("You're welcome! Anything else I can help with?", None),
            ("no that's all, bye", "goodbye"),
        ),
    ),
    (
        "resolved_by_bot",
        False,
        0,
        "Started a return for {order}.",
        (
            ("I'd like to send something back from {order}", "start_return"),
            ("Sure. Briefly, why are you returning it?", None),
            ("it doesn't fit the space", "inform"),
            ("Your return is set up. A free returns label is on its way to your email.", None),
            ("thank you", "thank"),
        ),
    ),
    (
        "handed_off",
        True,
        0,
        "Reported a damaged delivery for {order}; handed to a person.",
        (
            ("my sofa from {order} arrived damaged", "delivery_problem"),
            ("I'm sorry about that. I've reported it for order {order}.", None),
            ("can I talk to someone please", "request_human"),
            ("Of course. I've asked a member of our team to get back to you.", None),
            ("ok thanks", "thank"),
        ),
    ),
    (
        "resolved_by_bot",
        False,
        0,
        "Checked the loyalty points balance.",
        (
            ("how many points have I got", "loyalty_points"),
            ("You have 340 loyalty points.", None),
            ("how do I get to gold?", "loyalty_points"),
            ("You need 160 more points for the next tier.", None),
            ("cheers", "thank"),
        ),
    ),
    (
        "resolved_by_bot",
        False,
        0,
        "Asked about delivery costs.",
        (
            ("how much is delivery?", "faq"),
            ("Standard UK delivery is free over 50 pounds, otherwise 4.95.", None),
            ("and to Ireland?", "faq"),
            ("We ship to Ireland for 12.50, in 5 to 7 working days.", None),
            ("ok bye", "goodbye"),
        ),
    ),
    (
        "abandoned",
        False,
        2,
        "Was not understood twice and left.",
        (
            ("blorp the thing", "nlu_fallback"),
            ("Sorry, I didn't get that. Would you like to talk to a person?", None),
            ("the thing with the lamp", "out_of_scope"),
            ("Sorry, I can't help with that yet.", None),
            ("forget it", "deny"),
        ),
    ),
)


def sql_text_array(values: list[str | None]) -> str:
    """A PostgreSQL text[] literal built from trusted constants."""
    items = ["NULL" if v is None else "'" + v.replace("'", "''") + "'" for v in values]
    return "ARRAY[" + ", ".join(items) + "]::text[]"


def customer_id(index: int) -> str:
    """Benchmark customer ids, the same formula as the SQL below (`CID`)."""
    return f"cus_{index:012x}"


CID = "'cus_' || lpad(to_hex({col}), 12, '0')"


# ---- databases -----------------------------------------------------------------------------------


@contextmanager
def bench_database(admin: Engine, name: str, keep: bool) -> Iterator[str]:
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(admin.url).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        if keep:
            print(f"kept database {name}: {make_url(url).render_as_string(hide_password=True)}")
        else:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


# ---- generation ----------------------------------------------------------------------------------


def generation_statements(customers: int, messages: int, seed: int) -> list[tuple[str, str, dict[str, Any]]]:
    """(label, SQL, parameters) filling the CRM; run in order in one session."""
    conversations = math.ceil(messages / MESSAGES_PER_CONVERSATION)
    per = MESSAGES_PER_CONVERSATION
    texts = sql_text_array([m[0] for t in TOPICS for m in t[4]])
    intents = sql_text_array([m[1] for t in TOPICS for m in t[4]])
    outcomes = sql_text_array([t[0] for t in TOPICS])
    summaries = sql_text_array([t[3] for t in TOPICS])
    intents_json = sql_text_array(
        [
            json.dumps({i: sum(1 for m in t[4] if m[1] == i) for i in dict.fromkeys(m[1] for m in t[4] if m[1])})
            for t in TOPICS
        ]
    )
    handed_off = "ARRAY[" + ", ".join("true" if t[1] else "false" for t in TOPICS) + "]"
    fallbacks = "ARRAY[" + ", ".join(str(t[2]) for t in TOPICS) + "]"
    channels = sql_text_array(list(CHANNELS))
    n_topics = len(TOPICS)
    now = datetime.utcnow().replace(microsecond=0)
    params = {"now": now, "customers": customers, "messages": messages, "conversations": conversations}
    return [
        ("seed", "SELECT setseed(:seed)", {"seed": (seed % 1000) / 1000.0}),
        (
            "customers",
            f"""
            INSERT INTO customers (id, first_name, last_name, email, phone, address, loyalty_points,
                                   created_at, updated_at)
            SELECT {CID.format(col="i")},
                   (ARRAY['Anna','Omar','Lucy','James','Priya','Tom','Sara','Mohammed','Emily','Jack',
                          'Olivia','Noah','Amelia'])[1 + i % 13],
                   (ARRAY['Berg','Haddad','Chen','Smith','Patel','Jones','Taylor','Brown','Wilson','Evans',
                          'Khan','Walker','Wright','Hughes'])[1 + i % 14],
                   'customer' || i || '@example.com',
                   '+447700' || lpad((i % 1000000)::text, 6, '0'),
                   (1 + i % 240) || ' ' || (ARRAY['High Street','Station Road','Church Lane','Mill Road',
                          'Park Avenue','Victoria Road'])[1 + i % 6] || ', '
                       || (ARRAY['Leeds','Bristol','York','Bath','Derby','Hull','Norwich'])[1 + i % 7],
                   (i * 37) % 3100,
                   :now - interval '1 day' * (730 + i % 730),
                   :now - interval '1 day' * (i % 365)
            FROM generate_series(1, :customers) AS i
            """,
            params,
        ),
        (
            "orders",
            f"""
            INSERT INTO orders (order_number, customer_id, status, placed_at, expected_delivery, delivered_at,
                                cancelled_at, total_cents, currency, carrier, tracking_number)
            SELECT 'JH' || (100000 + n), cid, status, placed_at,
                   CASE WHEN status NOT IN ('delivered', 'cancelled') THEN placed_at + interval '5 days' END,
                   CASE WHEN status = 'delivered' THEN placed_at + interval '4 days' END,
                   CASE WHEN status = 'cancelled' THEN placed_at + interval '3 hours' END,
                   total, 'GBP',
                   CASE WHEN shipped THEN (ARRAY['DPD','Royal Mail','Evri','DHL'])[1 + n % 4] END,
                   CASE WHEN shipped THEN (100000000000 + n * 7919)::text END
            FROM (
                SELECT row_number() OVER () AS n, cid, placed_at, total, status,
                       status IN ('shipped', 'out_for_delivery', 'delivered') AS shipped
                FROM (
                    SELECT cid, :now - interval '1 day' * age AS placed_at, total,
                           CASE WHEN age < 1 THEN 'placed' WHEN age < 2 THEN 'packed' WHEN age < 4 THEN 'shipped'
                                WHEN age < 5 THEN 'out_for_delivery' WHEN r < 0.1 THEN 'cancelled'
                                ELSE 'delivered' END AS status
                    FROM (
                        SELECT c.cid, random() * 730 AS age, random() AS r,
                               1500 + floor(random() * 60000)::int AS total
                        FROM (SELECT {CID.format(col="i")} AS cid, 1 + floor(random() * 9)::int AS k
                              FROM generate_series(1, :customers) AS i) AS c
                        CROSS JOIN LATERAL generate_series(1, c.k) AS g
                    ) AS raw
                ) AS aged
            ) AS numbered
            """,
            params,
        ),
        (
            "returns",
            """
            INSERT INTO returns (rma_number, order_id, customer_id, reason, status, refund_cents, created_at,
                                 refunded_at)
            SELECT 'RMA-B' || o.id, o.id, o.customer_id,
                   (ARRAY['Didn''t suit the room','Arrived damaged','Changed my mind'])[1 + o.id % 3],
                   (ARRAY['requested','received','refunded'])[1 + o.id % 3],
                   o.total_cents, o.delivered_at + interval '3 days',
                   CASE WHEN o.id % 3 = 2 THEN o.delivered_at + interval '9 days' END
            FROM orders AS o
            WHERE o.status = 'delivered' AND random() < 0.1
            """,
            {},
        ),
        (
            "conversations",
            f"""
            INSERT INTO conversations (customer_id, channel, sender_id, started_at, ended_at, outcome, summary,
                                       last_event_at, message_count, customer_message_count, intents,
                                       fallback_count, handed_off, last_action)
            SELECT {CID.format(col="ci")}, channel,
                   channel || '-' || lpad(to_hex(ci), 8, '0'),
                   started_at, started_at + interval '1 second' * (mc * 25 + 30),
                   ({outcomes})[1 + topic],
                   replace(({summaries})[1 + topic], '{{order}}', 'JH' || (100000 + j % 500000)),
                   started_at + interval '1 second' * (mc * 25 + 30),
                   mc, (mc + 1) / 2, ({intents_json})[1 + topic]::json,
                   ({fallbacks})[1 + topic], ({handed_off})[1 + topic],
                   CASE WHEN ({handed_off})[1 + topic] THEN 'action_request_human' END
            FROM (
                SELECT j, j % {n_topics} AS topic,
                       1 + floor(:customers * power(random(), 1.5))::int AS ci,
                       ({channels})[1 + floor(random() * {len(CHANNELS)})::int] AS channel,
                       date_trunc('second', :now - random() * interval '730 days') AS started_at,
                       least({per}, :messages - (j - 1) * {per}) AS mc
                FROM generate_series(1, :conversations) AS j
            ) AS c
            ORDER BY j
            """,
            params,
        ),
        (
            "messages",
            f"""
            INSERT INTO messages (conversation_id, sender, text, intent, confidence, created_at)
            SELECT c.id,
                   CASE WHEN p % 2 = 0 THEN 'customer' ELSE 'bot' END,
                   replace(({texts})[1 + (c.id % {n_topics}) * {per} + p], '{{order}}',
                           'JH' || (100000 + c.id % 500000)),
                   ({intents})[1 + (c.id % {n_topics}) * {per} + p],
                   CASE WHEN p % 2 = 0 THEN round((0.55 + random() * 0.45)::numeric, 3)::float END,
                   c.started_at + interval '1 second' * (p * 25 + floor(random() * 10))
            FROM conversations AS c
            CROSS JOIN LATERAL generate_series(0, c.message_count - 1) AS p
            """,
            {},
        ),
        (
            "tickets",
            f"""
            INSERT INTO tickets (reference, customer_id, order_id, kind, status, priority, subject, description,
                                 channel, sender_id, created_at, updated_at)
            SELECT 'TK-B' || lpad(n::text, 7, '0'), cid, first_order.id, kind, status,
                   CASE WHEN kind IN ('complaint', 'callback') THEN 'high' ELSE 'normal' END,
                   subject, subject || '. The customer asked us to look into it.',
                   channel, channel || '-' || substr(cid, 5), created_at, created_at + interval '2 days'
            FROM (
                SELECT row_number() OVER () AS n, c.cid,
                       (ARRAY['complaint','delivery_problem','callback','general'])[1 + floor(random() * 4)::int]
                           AS kind,
                       (ARRAY['open','pending','resolved','resolved'])[1 + floor(random() * 4)::int] AS status,
                       (ARRAY['Courier left parcel in the rain','Item arrived scratched','Late delivery for gift',
                              'Wrong colour delivered','Please call me back'])[1 + floor(random() * 5)::int]
                           AS subject,
                       ({channels})[1 + floor(random() * {len(CHANNELS)})::int] AS channel,
                       date_trunc('second', :now - random() * interval '730 days') AS created_at
                FROM (SELECT {CID.format(col="i")} AS cid, floor(random() * 3)::int AS k
                      FROM generate_series(1, :customers) AS i) AS c
                CROSS JOIN LATERAL generate_series(1, c.k) AS g
            ) AS t
            LEFT JOIN (
                SELECT DISTINCT ON (customer_id) customer_id, id FROM orders ORDER BY customer_id, placed_at
            ) AS first_order ON first_order.customer_id = t.cid
            """,
            params,
        ),
        (
            "feedback",
            """
            INSERT INTO feedback (customer_id, conversation_id, kind, score, comment, created_at)
            SELECT customer_id, id, kind,
                   CASE kind WHEN 'csat' THEN 1 + floor(random() * 5)::int
                             WHEN 'nps' THEN floor(random() * 11)::int END,
                   CASE WHEN kind = 'comment' OR random() < 0.2
                        THEN (ARRAY['Quick and helpful','Took too long','Lovely service',
                                    'The bot did not understand me'])[1 + id % 4] END,
                   ended_at + interval '1 minute'
            FROM (
                SELECT id, customer_id, ended_at, (ARRAY['csat','csat','nps','comment'])[1 + id % 4] AS kind
                FROM conversations
                WHERE random() < :share
            ) AS c
            """,
            {"share": min(1.0, customers / max(conversations, 1))},
        ),
    ]


def generate(url: str, customers: int, messages: int, seed: int) -> dict[str, Any]:
    timings: dict[str, float] = {}
    started = time.perf_counter()
    upgrade(url)
    timings["migrations_s"] = round(time.perf_counter() - started, 2)
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(text("SET synchronous_commit = off"))
            conn.execute(text("SET work_mem = '256MB'"))
            conn.execute(text("SET maintenance_work_mem = '512MB'"))
            try:
                with conn.begin_nested():
                    # Skips the foreign-key triggers during the load (superuser only); the data is consistent.
                    conn.execute(text("SET session_replication_role = replica"))
            except Exception as exc:  # noqa: BLE001 - not a superuser: load with the checks on
                print(f"note: foreign-key checks stay on during the load ({str(exc).splitlines()[0]})")
            for label, sql, params in generation_statements(customers, messages, seed):
                t = time.perf_counter()
                conn.execute(text(sql), params)
                conn.commit()
                if label != "seed":
                    timings[f"{label}_s"] = round(time.perf_counter() - t, 2)
                    print(f"  generated {label} in {timings[f'{label}_s']:.1f} s", flush=True)
            conn.execute(text("SET session_replication_role = DEFAULT"))
            conn.commit()
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            t = time.perf_counter()
            conn.execute(text("ANALYZE"))
            timings["analyze_s"] = round(time.perf_counter() - t, 2)
        elapsed = round(time.perf_counter() - started, 2)
        with engine.connect() as conn:
            rows = {
                table: conn.scalar(text(f"SELECT count(*) FROM {table}"))
                for table in ("customers", "orders", "returns", "tickets", "feedback", "conversations", "messages")
            }
            per_customer = conn.execute(
                text(
                    "SELECT max(n), percentile_cont(0.5) WITHIN GROUP (ORDER BY n) FROM "
                    "(SELECT count(*) AS n FROM conversations GROUP BY customer_id) AS c"
                )
            ).one()
            size = conn.scalar(text("SELECT pg_database_size(current_database())"))
    finally:
        engine.dispose()
    return {
        "seconds": elapsed,
        "steps": timings,
        "rows": rows,
        "conversations_per_customer": {"median": float(per_customer[1] or 0), "max": int(per_customer[0] or 0)},
        "database_mb": round((size or 0) / 2**20, 1),
    }


# ---- reads ---------------------------------------------------------------------------------------


def stats_ms(samples: list[float], full: bool = True) -> dict[str, Any]:
    if not samples:
        return {"count": 0}
    ordered = sorted(samples)

    def pct(p: float) -> float:
        return round(ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)] * 1000, 3)

    out: dict[str, Any] = {"count": len(samples), "p50_ms": pct(50), "p95_ms": pct(95)}
    if full:
        out["p99_ms"] = pct(99)
        out["mean_ms"] = round(statistics.fmean(samples) * 1000, 3)
        out["max_ms"] = round(ordered[-1] * 1000, 3)
    return out


def timed(call: Callable[[], Any]) -> tuple[float, Any]:
    t = time.perf_counter()
    result = call()
    return time.perf_counter() - t, result


def bench_reads(url: str, customers: int, reads: int, rng: random.Random) -> dict[str, Any]:
    engine = make_engine(url)
    service = SqlHistoryService(make_session_factory(engine))
    raw = create_engine(url)  # untimed helper queries
    first: list[float] = []
    second: list[float] = []
    conversation: list[float] = []
    entries_first: list[int] = []
    try:
        for _ in range(min(20, reads)):  # warm the pool and the statement caches
            service.timeline(customer_id(rng.randint(1, customers)), limit=PAGE)
        attempts = 0
        while (len(first) < reads or len(second) < reads) and attempts < reads * 50:
            attempts += 1
            cid = customer_id(rng.randint(1, customers))
            elapsed, page = timed(lambda cid=cid: service.timeline(cid, limit=PAGE))
            if len(first) < reads:
                first.append(elapsed)
                entries_first.append(len(page.entries))
                with raw.connect() as conn:
                    ids = conn.scalars(text("SELECT id FROM conversations WHERE customer_id = :c"), {"c": cid}).all()
                if ids:
                    conv_id = rng.choice(ids)
                    elapsed, detail = timed(lambda cid=cid, conv_id=conv_id: service.conversation(cid, conv_id))
                    assert detail.conversation_id == conv_id
                    conversation.append(elapsed)
            if page.next_cursor and len(second) < reads:
                elapsed, nxt = timed(lambda cid=cid, cursor=page.next_cursor: service.timeline(cid, cursor, PAGE))
                assert nxt.entries, "a second page announced by next_cursor came back empty"
                second.append(elapsed)
    finally:
        engine.dispose()
        raw.dispose()
    return {
        "timeline": {
            "page_size": PAGE,
            "first_page": {**stats_ms(first), "mean_entries": round(statistics.fmean(entries_first or [0]), 1)},
            "second_page": {**stats_ms(second), "customers_tried": attempts},
        },
        "conversation": stats_ms(conversation, full=False)
        | {"mean_ms": round(statistics.fmean(conversation or [0]) * 1000, 3)},
    }


# ---- ingestion -----------------------------------------------------------------------------------


def build_events(target: int, customers: int, rng: random.Random) -> tuple[list[tuple[str, dict[str, Any]]], int]:
    """Interleaved (sender_id, event) pairs of many senders' sessions, about `target` of them."""
    start = time.time() - 2 * 86400  # two days ago: sessions are idle by the time ingestion runs
    timed_events: list[tuple[float, int, str, dict[str, Any]]] = []
    seq = 0
    count = 0
    while count < target:
        sender = f"bench-{uuid.UUID(int=rng.getrandbits(128)).hex[:16]}"
        channel = rng.choice(CHANNELS)
        clock = start + rng.uniform(0, 86400)
        for _session in range(rng.choice((1, 1, 1, 2, 3))):
            chat = Chat(sender, channel=channel, clock=clock).session_start()
            _conversation(chat, customers, rng)
            clock = chat.clock + rng.uniform(3700, 20000)  # the next session after the session expiry
            for event in chat.events:
                timed_events.append((event["timestamp"], seq, sender, event))
                seq += 1
            count += len(chat.events)
    timed_events.sort()
    pairs = [(sender, event) for _, _, sender, event in timed_events]
    messages = sum(1 for _, event in pairs if event["event"] in ("user", "bot"))
    return pairs, messages


def _conversation(chat: Chat, customers: int, rng: random.Random) -> None:
    """A few realistic turns; about half the sessions identify an existing customer."""
    chat.wait(rng.uniform(1, 30)).turn("hi", "greet", ("action_greet", "Hi, I'm Juno. How can I help?"))
    if rng.random() < 0.5:
        order = f"JH{100000 + rng.randint(1, 500000)}"
        chat.wait(rng.uniform(3, 40))
        chat.user(f"where is my order {order}", "order_status").action("order_status_form").loop("order_status_form")
        chat.slot("requested_slot", "identity_email").bot("What's your email?", "utter_ask_identity_email")
        chat.action("action_listen").wait(rng.uniform(5, 60))
        email = f"customer{rng.randint(1, customers)}@example.com"
        chat.user(email, "inform").action("order_status_form").slot("identity_email", email)
        chat.slot("identity_proof", order).slot("customer_id", customer_id(rng.randint(1, customers)))
        chat.slot("verified", True).slot("order_number", order).loop(None).slot("requested_slot", None)
        chat.action("action_order_status").bot(f"Your order {order} is on its way.", "utter_order_status")
        chat.action("action_listen")
    for _ in range(rng.randint(1, 4)):
        chat.wait(rng.uniform(3, 90))
        choice = rng.random()
        if choice < 0.4:
            chat.turn("how much is delivery?", "faq", ("utter_faq/shipping_costs", "Free over 50 pounds."))
        elif choice < 0.6:
            chat.turn("blorp", "nlu_fallback", ("utter_fallback_offer_human", "Sorry, I didn't get that."))
        elif choice < 0.7:
            chat.turn(
                "the sofa arrived scratched, I want to complain",
                "complain",
                ("action_file_complaint", "I've logged complaint TK-BX12AB."),
                ("utter_anything_else", "Anything else?"),
            )
        elif choice < 0.8:
            chat.turn("can I talk to a person", "request_human", ("action_request_human", "Someone will call you."))
        else:
            chat.turn("thanks", "thank", ("utter_you_are_welcome", "You're welcome!"))
    chat.wait(rng.uniform(3, 60)).turn("bye", "goodbye", ("utter_goodbye", "Bye!"))


def bench_ingestion(crm_url: str, tracker_url: str, customers: int, target: int, rng: random.Random) -> dict[str, Any]:
    t = time.perf_counter()
    pairs, expected_messages = build_events(target, customers, rng)
    build_s = time.perf_counter() - t
    tracker = create_engine(tracker_url)
    t = time.perf_counter()
    for offset in range(0, len(pairs), 5000):
        write_tracker_events(tracker, pairs[offset : offset + 5000])
    write_s = time.perf_counter() - t
    tracker.dispose()
    print(f"  tracker store: {len(pairs)} events of {len({s for s, _ in pairs})} senders written in {write_s:.1f} s")

    crm = make_engine(crm_url)
    sessions = make_session_factory(crm)
    with crm.connect() as conn:
        before = conn.scalar(text("SELECT count(*) FROM messages WHERE event_key IS NOT NULL"))
    source = TrackerStoreSource(tracker_url, gap_grace=0, clock=lambda: FAR_FUTURE)
    try:
        ingestion = HistoryIngestion(sessions, source, batch_size=500)
        t = time.perf_counter()
        total = ingestion.catch_up()
        seconds = time.perf_counter() - t
    finally:
        source.close()
    with crm.connect() as conn:
        created = (conn.scalar(text("SELECT count(*) FROM messages WHERE event_key IS NOT NULL")) or 0) - (before or 0)
        conversations = conn.execute(
            text(
                "SELECT count(*), count(customer_id), count(ended_at) FROM conversations WHERE session_key IS NOT NULL"
            )
        ).one()
        checkpoint = conn.scalar(text("SELECT sum(events_ingested) FROM history_checkpoints"))
    crm.dispose()
    return {
        "events": len(pairs),
        "events_read": total.events,
        "events_skipped": total.skipped,
        "checkpoint_events": int(checkpoint or 0),
        "expected_messages": expected_messages,
        "messages_reported": total.messages,
        "messages_created": created,
        "conversations_created": conversations[0],
        "conversations_identified": conversations[1],
        "conversations_closed": conversations[2],
        "batch_size": 500,
        "seconds": round(seconds, 2),
        "events_per_s": round(len(pairs) / seconds, 1),
        "messages_per_s": round(created / seconds, 1),
        "event_build_s": round(build_s, 2),
        "tracker_write_s": round(write_s, 2),
    }


# ---- main ----------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=5_000_000)
    parser.add_argument("--reads", type=int, default=1000)
    parser.add_argument("--ingest-events", type=int, default=200_000)
    parser.add_argument("--out", default=str(ROOT / "docs" / "measurements" / "history.json"))
    parser.add_argument("--postgres-url", default=ADMIN_URL, help="admin URL (databases are created next to it)")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark databases")
    parser.add_argument("--seed", type=int, default=20261122)
    args = parser.parse_args()
    if args.customers < 1 or args.messages < 1 or args.reads < 1 or args.ingest_events < 1:
        parser.error("the scale parameters must be positive")
    rng = random.Random(args.seed)

    admin = create_engine(args.postgres_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
    with admin.connect() as conn:
        server_version = conn.scalar(text("SHOW server_version"))
        shared_buffers = conn.scalar(text("SHOW shared_buffers"))
    name = f"hearth_bench_{uuid.uuid4().hex[:10]}"
    report: dict[str, Any] = {
        "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "commit": _commit(),
        "scale": {
            "customers": args.customers,
            "messages": args.messages,
            "messages_per_conversation": MESSAGES_PER_CONVERSATION,
            "reads": args.reads,
            "ingest_events": args.ingest_events,
        },
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "postgresql": server_version,
            "shared_buffers": shared_buffers,
        },
    }
    failed = False
    try:
        with (
            bench_database(admin, name, args.keep) as crm_url,
            bench_database(admin, name + "_tracker", args.keep) as tr,
        ):
            print(f"generating {args.customers} customers and {args.messages} messages in {name} ...", flush=True)
            report["generation"] = generate(crm_url, args.customers, args.messages, args.seed)
            print(f"generated in {report['generation']['seconds']:.1f} s; timing {args.reads} reads ...", flush=True)
            report.update(bench_reads(crm_url, args.customers, args.reads, rng))
            print(f"ingesting about {args.ingest_events} tracker-store events ...", flush=True)
            report["ingestion"] = ing = bench_ingestion(crm_url, tr, args.customers, args.ingest_events, rng)
            if (
                ing["messages_created"] != ing["expected_messages"]
                or ing["messages_reported"] != ing["expected_messages"]
            ):
                failed = True
                print(
                    f"ERROR: message mismatch: {ing['expected_messages']} user+bot events in the tracker store, "
                    f"{ing['messages_created']} message rows created, {ing['messages_reported']} reported by catch_up",
                    file=sys.stderr,
                )
    finally:
        admin.dispose()
    report["ok"] = not failed
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    _summary(report, out)
    return 1 if failed else 0


def _commit() -> str | None:
    try:
        result = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    except OSError:
        return None
    return result.stdout.strip() or None


def _summary(report: dict[str, Any], out: Path) -> None:
    gen, tl, conv, ing = report["generation"], report["timeline"], report["conversation"], report["ingestion"]
    first, second = tl["first_page"], tl["second_page"]
    rows = gen["rows"]
    print()
    print(
        f"data: {rows['customers']} customers, {rows['conversations']} conversations, {rows['messages']} messages, "
        f"{rows['orders']} orders, {rows['tickets']} tickets, {rows['feedback']} feedback, {rows['returns']} returns "
        f"({gen['database_mb']} MB), generated in {gen['seconds']:.1f} s"
    )
    for label, s in (("timeline page 1", first), ("timeline page 2", second)):
        if s["count"]:
            print(
                f"{label}: p50 {s['p50_ms']:.1f} ms, p95 {s['p95_ms']:.1f} ms, p99 {s['p99_ms']:.1f} ms, "
                f"mean {s['mean_ms']:.1f} ms ({s['count']} reads)"
            )
        else:
            print(f"{label}: no customer with more than one page")
    if conv["count"]:
        print(f"conversation: p50 {conv['p50_ms']:.1f} ms, p95 {conv['p95_ms']:.1f} ms ({conv['count']} reads)")
    print(
        f"ingestion: {ing['events']} events -> {ing['messages_created']} messages in {ing['seconds']:.1f} s "
        f"({ing['events_per_s']:.0f} events/s, {ing['messages_per_s']:.0f} messages/s)"
    )
    print(f"{'OK' if report['ok'] else 'FAILED'}; written to {out}")


if __name__ == "__main__":
    sys.exit(main())
