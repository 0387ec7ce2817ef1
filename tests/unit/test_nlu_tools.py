"""scripts/nlu.py: CSV import planning and the regression gate's comparison (pure functions)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import nlu  # noqa: E402

pytestmark = pytest.mark.unit

KNOWN = {"where is my order": {"order_status"}, "hi": {"greet"}, "when are you open": {"faq/opening_hours"}}


def test_the_import_adds_new_examples_and_refuses_duplicates_conflicts_and_bad_rows() -> None:
    rows = [
        (2, "Where's my  parcel ", "order_status"),
        (3, "where is my order", "order_status"),  # already there, same intent
        (4, "HI", "goodbye"),  # already there under another intent
        (5, "when are you open", "faq/hours"),  # another retrieval answer
        (6, "my sofa is broken", "complain"),
        (7, "my sofa is broken", "delivery_problem"),  # conflict inside the file
        (8, "", "greet"),
        (9, "hello", "Not An Intent"),
        (10, "where's my parcel", "order_status"),  # duplicate inside the file
        (11, "x" * 600, "greet"),
    ]

    report = nlu.plan_import(rows, KNOWN)

    assert report.added == {"order_status": ["Where's my parcel"]}
    assert [r for r, _, _ in report.duplicates] == [3, 10]
    assert sorted(r for r, _, _ in report.conflicts) == [4, 5, 6, 7]
    assert [r for r, _, _ in report.invalid] == [8, 9, 11]
    assert report.refused


def test_a_clean_file_is_not_refused() -> None:
    report = nlu.plan_import([(2, "track my parcel", "order_status"), (3, "faq please", "faq/opening_hours")], KNOWN)
    assert report.added == {"order_status": ["track my parcel"], "faq/opening_hours": ["faq please"]}
    assert not report.refused


def test_csv_rows_with_a_header_in_any_order_or_without_one(tmp_path: Path) -> None:
    with_header = tmp_path / "a.csv"
    with_header.write_text("intent,text\ngreet,hello there\n\n")
    bare = tmp_path / "b.csv"
    bare.write_text('"hello, again",greet\n')
    assert nlu.read_rows(with_header) == [(2, "hello there", "greet")]
    assert nlu.read_rows(bare) == [(1, "hello, again", "greet")]


REPORT = {
    "greet": {"f1-score": 0.95},
    "goodbye": {"f1-score": 0.60},
    "accuracy": 0.80,
    "macro avg": {"f1-score": 0.775},
}
BASELINE = {"accuracy": 0.80, "macro_f1": 0.78, "intents": {"greet": 0.95, "goodbye": 0.80}}


def test_the_gate_fails_on_a_drop_beyond_the_tolerance_and_names_it() -> None:
    problems = nlu.compare(BASELINE, REPORT, tolerance=0.02, intent_tolerance=0.15)
    assert problems == ["goodbye: F1 fell from 0.800 to 0.600 (tolerance 0.15)"]


def test_the_gate_passes_within_tolerance_and_fails_on_a_lost_intent_or_macro_drop() -> None:
    assert nlu.compare(BASELINE, REPORT, tolerance=0.02, intent_tolerance=0.25) == []
    lost = {**BASELINE, "intents": {**BASELINE["intents"], "thank": 0.9}}  # type: ignore[dict-item]
    assert nlu.compare(lost, REPORT, 0.02, 0.25) == ["thank: in the baseline but not evaluated any more"]
    worse = {**REPORT, "macro avg": {"f1-score": 0.70}}
    assert nlu.compare(BASELINE, worse, 0.02, 0.25)[0].startswith("macro F1 fell from 0.780 to 0.700")


def test_the_gate_fails_when_an_intent_loses_more_examples_than_allowed_even_within_the_f1_tolerance() -> None:
    report = {
        "complain": {"f1-score": 0.75, "recall": 0.6, "support": 5},
        "greet": {"f1-score": 0.9, "recall": 0.8, "support": 5},
        "accuracy": 0.8,
        "macro avg": {"f1-score": 0.825},
    }
    baseline = {"accuracy": 0.8, "macro_f1": 0.83, "intents": {"complain": 0.85, "greet": 1.0},
                "correct": {"complain": 5, "greet": 5}}  # fmt: skip
    assert nlu.correct_by_intent(report) == {"complain": 3, "greet": 4}
    problems = nlu.compare(baseline, report, tolerance=0.02, intent_tolerance=0.15, max_lost=1)
    assert problems == ["complain: 2 fewer of its evaluation examples recognised (5 -> 3; at most 1 may go)"]
    assert nlu.compare(baseline, report, 0.02, 0.15, max_lost=2) == []
    assert nlu.compare({**baseline, "correct": {}}, report, 0.02, 0.15, max_lost=1) == []  # an older baseline


def test_the_benchmark_keeps_a_corpus_split_and_otherwise_splits_every_intent() -> None:
    import nlu_benchmark

    given = [("a", "x", "train"), ("b", "x", "test"), ("c", "y", "train")]
    assert nlu_benchmark.split(given, 0.5, 1) == ([("a", "x"), ("c", "y")], [("b", "x")])
    rows = [(f"x{n}", "x", None) for n in range(10)] + [(f"y{n}", "y", None) for n in range(5)] + [("z", "z", None)]
    train, test = nlu_benchmark.split(rows, 0.2, 7)
    assert sorted(i for _, i in test) == ["x", "x", "y"]  # every intent with two or more examples is tested
    assert len(train) + len(test) == 16 and not {t for t, _ in train} & {t for t, _ in test}
    assert ("z", "z") in train
