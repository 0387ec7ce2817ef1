"""Every message of every conversation reaches the relationship history, with ingestion killed mid-run.

The real product (`python -m hearth run`: Rasa server, action server, history ingestion)
serves 20 concurrent conversations over REST while the ingestion process is killed with
SIGKILL several times (its runner restarts it, as in production). Afterwards the history
must hold exactly what each customer sent and received, in order: nothing lost, nothing
doubled. Run on SQLite, on PostgreSQL, and with the RabbitMQ event broker as the source.
"""

from __future__ import annotations

import itertools
import os
import random
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
from sqlalchemy import bindparam, create_engine, text

from hearth.processes import processes
from tests.e2e.stack import Stack, running_stack
from tests.services import delete_queue, rabbitmq_url, temporary_postgres_database

pytestmark = pytest.mark.e2e

CONVERSATIONS = 20
TURNS = 25
KILLS = 3  # ingestion killed at least this often while the conversations run
SCRIPT = [
    "hi",
    "what are your opening hours",
    "where is my order",
    "anna.berg@example.com",
    "JH100001",
    "JH100001",
    "thanks",
    "do you deliver abroad",
    "I want to make a complaint",
    "The sofa arrived with a torn cushion and nobody called me back",
    "are you a bot",
    "how do returns work",
    "thank you",
    "bye",
]


def kill_ingestion(data_dir: Path, stop: threading.Event, kills: list[int]) -> None:
    """SIGKILLs the ingestion process at random moments while the conversations run."""
    rng = random.Random(7)
    while not stop.wait(rng.uniform(2.0, 5.0)):
        for pid in processes(data_dir, b"hearth\x00ingest"):
            os.kill(pid, signal.SIGKILL)
            kills.append(pid)


def converse(stack: Stack, sender: str, kills: list[int]) -> list[tuple[str, str]]:
    """One customer's side: what they sent and every reply, in order. At least TURNS turns, and on until ingestion
    has been killed KILLS times (however fast the bot answers) or for at most a minute more."""
    seen: list[tuple[str, str]] = []
    deadline = time.monotonic() + 60
    for turn in itertools.count():
        if turn >= TURNS and (len(kills) >= KILLS or time.monotonic() > deadline):
            break
        message = SCRIPT[turn % len(SCRIPT)]
        seen.append(("customer", message))
        seen.extend(("bot", reply) for reply in stack.say(sender, message))
    return seen


@contextmanager
def backend(kind: str) -> Iterator[dict[str, str]]:
    """The environment for the run command: embedded SQLite, or PostgreSQL (and RabbitMQ)."""
    env = {"HISTORY_BATCH": "20"}  # small batches: kills land mid-batch and between batches
    if kind == "sqlite":
        yield env
        return
    with ExitStack() as stack:
        env["TRACKER_DB_URL"] = stack.enter_context(temporary_postgres_database()).replace("+psycopg2", "")
        env["CRM_DATABASE_URL"] = stack.enter_context(temporary_postgres_database())
        if kind == "rabbitmq":
            env["RABBITMQ_URL"] = rabbitmq_url()
            env["HISTORY_QUEUE"] = f"hearth_test_{uuid.uuid4().hex[:8]}"
        yield env
        if kind == "rabbitmq":
            delete_queue(env["RABBITMQ_URL"], env["HISTORY_QUEUE"])


@pytest.mark.parametrize("kind", ["sqlite", "postgresql", "rabbitmq"])
def test_ingestion_killed_mid_run_loses_and_doubles_nothing(kind: str, tmp_path: Path) -> None:
    with backend(kind) as env, running_stack(tmp_path, **env) as stack:
        crm_url = env.get("CRM_DATABASE_URL", f"sqlite:///{tmp_path / 'crm.db'}")
        senders = [f"history-{kind}-{n:02d}" for n in range(CONVERSATIONS)]
        stop, kills = threading.Event(), []
        killer = threading.Thread(target=kill_ingestion, args=(tmp_path, stop, kills), daemon=True)
        killer.start()
        with ThreadPoolExecutor(CONVERSATIONS) as pool:
            sent = dict(zip(senders, pool.map(lambda s: converse(stack, s, kills), senders), strict=True))
        stop.set()
        killer.join()
        expected = sum(len(t) for t in sent.values())

        engine = create_engine(crm_url)
        projected = {}
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            projected = history_of(engine, senders)
            if sum(len(t) for t in projected.values()) >= expected:
                break
            time.sleep(1)
        time.sleep(2)  # one more round: anything beyond the expected count would be a duplicate
        projected = history_of(engine, senders)
        with engine.connect() as conn:
            attached = conn.execute(
                text("SELECT DISTINCT customer_id FROM conversations WHERE sender_id LIKE :p"),
                {"p": f"history-{kind}-%"},
            ).scalars()
            customers = set(attached)
        engine.dispose()

    assert len(kills) >= KILLS, f"ingestion was killed only {len(kills)} times"
    assert expected >= 1000
    for sender in senders:
        assert projected.get(sender) == sent[sender], f"history of {sender} differs from what the customer saw"
    assert customers == {"cus_demo_anna"}  # each verified as Anna: the whole conversation is hers


def history_of(engine, senders: list[str]) -> dict[str, list[tuple[str, str]]]:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT c.sender_id, m.sender, m.text FROM messages m JOIN conversations c ON c.id = m.conversation_id "
                "WHERE c.sender_id IN :senders ORDER BY c.sender_id, m.created_at, m.id"
            ).bindparams(bindparam("senders", expanding=True)),
            {"senders": senders},
        ).all()
    out: dict[str, list[tuple[str, str]]] = {}
    for sender_id, who, body in rows:
        out.setdefault(sender_id, []).append((who, body))
    return out
