"""The review queue: misunderstood messages from real conversations, labelled by people, into the training data."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from crm_adapter.domain import InvalidInput, NotAllowed, NotFound
from nlu_review.queue import ReviewQueue
from tests.conftest import SqlCrm
from tests.history_events import Chat, ingest_chats
from tests.rasa_env import RASA_PY, ROOT, run, training_examples

pytestmark = pytest.mark.integration


def misunderstood_chat() -> Chat:
    chat = Chat("rq-1").session_start()
    chat.turn("hi", "greet", ("action_greet", "Hello!"))  # confident: not for review
    chat.user("my parcel never showed up mate", "order_status", confidence=0.41).action("action_listen")
    chat._add(
        "user",
        text="can u do sumthin bout the wobbly legs",
        parse_data={
            "intent": {"name": "nlu_fallback", "confidence": 0.3},
            "intent_ranking": [
                {"name": "nlu_fallback", "confidence": 0.3},
                {"name": "complain", "confidence": 0.22},
                {"name": "delivery_problem", "confidence": 0.2},
            ],
        },
        metadata={"channel": "rest"},
    )
    chat.action("utter_fallback_offer_human").bot("Sorry, I didn't get that.", "utter_fallback_offer_human")
    return chat


def test_low_confidence_and_fallback_messages_are_queued_and_labelled(sql_crm: SqlCrm, tmp_path: Path) -> None:
    ingest_chats(sql_crm.sessions, tmp_path / "tracker.db", [misunderstood_chat()])
    queue = ReviewQueue(sql_crm.sessions)

    pending = queue.list()

    assert [(i.text, i.predicted_intent) for i in pending] == [
        ("my parcel never showed up mate", "order_status"),
        ("can u do sumthin bout the wobbly legs", "complain"),  # the guess under the fallback
    ]
    first, second = pending
    assert queue.assign(first.review_id, "delivery_problem", "sam").status == "accepted"
    assert queue.out_of_scope(second.review_id, "sam").intent == "out_of_scope"
    assert queue.list() == []

    exported = tmp_path / "reviewed.csv"
    assert queue.export(exported) == 2
    with exported.open() as handle:
        assert list(csv.reader(handle)) == [
            ["text", "intent"],
            ["my parcel never showed up mate", "delivery_problem"],
            ["can u do sumthin bout the wobbly legs", "out_of_scope"],
        ]
    assert queue.export(tmp_path / "again.csv") == 0  # nothing goes into the data twice
    with pytest.raises(NotAllowed):
        queue.assign(first.review_id, "complain", "sam")
    with pytest.raises(InvalidInput):
        ReviewQueue(sql_crm.sessions).assign(999, "Not An Intent", "sam")
    with pytest.raises(NotFound):
        queue.dismiss(999, "sam")


def test_reingesting_the_same_conversation_queues_nothing_twice(sql_crm: SqlCrm, tmp_path: Path) -> None:
    chat = misunderstood_chat()
    ingest_chats(sql_crm.sessions, tmp_path / "tracker.db", [chat])
    (tmp_path / "tracker.db").unlink()
    ingest_chats(sql_crm.sessions, tmp_path / "tracker.db", [chat])  # a fresh checkpoint over the same events
    assert len(ReviewQueue(sql_crm.sessions).list()) == 2


def test_the_command_line_labels_and_exports_into_training_data_rasa_reads(sqlite_crm: SqlCrm, tmp_path: Path) -> None:
    ingest_chats(sqlite_crm.sessions, tmp_path / "tracker.db", [misunderstood_chat()])
    env = {**os.environ, "CRM_DATABASE_URL": sqlite_crm.url, "PYTHONPATH": str(ROOT)}

    def review(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "hearth", "review", *args], env=env, capture_output=True, text=True, cwd=ROOT
        )

    listing = review("list")
    assert listing.returncode == 0 and "2 pending review(s)" in listing.stdout, listing.stdout + listing.stderr
    first_id = listing.stdout.split()[0]
    assert review("assign", first_id, "Bad Name").returncode == 2
    assert "accepted as delivery_problem" in review("assign", first_id, "delivery_problem", "--by", "sam").stdout
    exported = tmp_path / "reviewed.csv"
    assert "1 labelled message(s)" in review("export", str(exported)).stdout

    target = tmp_path / "reviewed.yml"
    imported = run([str(RASA_PY), "scripts/nlu.py", "import-csv", str(exported), "--into", str(target)])
    assert imported.returncode == 0, imported.stdout + imported.stderr[-2000:]
    assert ("my parcel never showed up mate", "delivery_problem") in training_examples(target)
