"""Tools for the people who train the bot's intents. Run them with the Rasa virtualenv's Python:

    .venvs/rasa/bin/python scripts/nlu.py evaluate      # holdout: train on 80 %, test on 20 % (split by text hash)
    .venvs/rasa/bin/python scripts/nlu.py evaluate --folds 5   # 5-fold cross-validation instead
    .venvs/rasa/bin/python scripts/nlu.py gate          # fail if intent F1 on the evaluation set fell
    .venvs/rasa/bin/python scripts/nlu.py baseline      # accept the current data as the baseline
    .venvs/rasa/bin/python scripts/nlu.py score         # accuracy on the messages written apart from the data
    .venvs/rasa/bin/python scripts/nlu.py import-csv new.csv --into data/nlu/imported.yml [--dry-run]

evaluate writes Rasa's reports into results/nlu-holdout/ (or results/nlu-cv/): the intent
report (per-intent precision, recall, F1), the confusion matrix image
(intent_confusion_matrix.png) and the misclassified examples; it then prints the weakest
intents and the most frequent confusions (true intent -> predicted intent).

import-csv reads rows of (text, intent) -- a header row naming `text` and `intent`, or two
columns in that order -- and adds them to a YAML file of `data/nlu/`. It refuses what would
hurt the data, and says so row by row: empty or over-long texts, intent names Rasa would not
accept, the same example twice, and *conflicts* (the same example under two intents, in the
file or against the training data). Conflicting rows are written nowhere. It exits with 2
when it refused anything, so a script or CI notices; with --dry-run it only reports.

gate guards the data against harmful changes. It trains on the current data and tests on a fixed,
labelled evaluation set (docs/nlu-evaluation-set.yml: examples with the labels they had when the baseline
was accepted, held out of training), so relabelling, deleting or diluting examples shows as the damage it
does. It fails when macro F1 fell by more than --tolerance against docs/nlu-baseline.json, or the F1 of any
intent by more than --intent-tolerance (an intent has a handful of evaluation examples, so one miss moves
its F1 by 0.1 or more), or any intent recognises more than --max-lost (1) fewer of its evaluation examples
than it did; intents new since the baseline are evaluated on a hash-chosen fifth of their
examples. baseline accepts the current data: it keeps the evaluation set's examples and labels, adds
the new intents' fifth, drops the intents that are gone, and stores the scores (--resplit starts the set
afresh, for an intended relabelling).
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_BASELINE = ROOT / "docs" / "nlu-baseline.json"
DEFAULT_EVALUATION_SET = ROOT / "docs" / "nlu-evaluation-set.yml"
# Messages written apart from the training data, the way customers type (never trained on, never edited to fit).
DEFAULT_CUSTOMER_SET = ROOT / "docs" / "nlu-real-customers-set.yml"
INTENT_NAME = re.compile(r"^[a-z][a-z0-9_]{0,79}(/[a-z0-9_]{1,80})?$")
MAX_TEXT = 500
SUMMARY_KEYS = ("accuracy", "macro avg", "weighted avg", "micro avg")


def normalize(text: str) -> str:
    return " ".join(text.split())


@dataclass
class ImportReport:
    added: dict[str, list[str]] = field(default_factory=dict)
    duplicates: list[tuple[int, str, str]] = field(default_factory=list)  # (row, text, why)
    conflicts: list[tuple[int, str, str]] = field(default_factory=list)
    invalid: list[tuple[int, str, str]] = field(default_factory=list)
    intents_not_in_domain: list[str] = field(default_factory=list)

    @property
    def refused(self) -> bool:
        return bool(self.conflicts or self.invalid)

    def as_dict(self) -> dict[str, object]:
        return {
            "added": self.added,
            "duplicates": [{"row": r, "text": t, "why": w} for r, t, w in self.duplicates],
            "conflicts": [{"row": r, "text": t, "why": w} for r, t, w in self.conflicts],
            "invalid": [{"row": r, "text": t, "why": w} for r, t, w in self.invalid],
            "intents_not_in_domain": self.intents_not_in_domain,
        }


def read_rows(path: Path) -> list[tuple[int, str, str]]:
    """(row number, text, intent) for each data row of the CSV file."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.reader(handle))
    if not rows:
        return []
    header = [cell.strip().lower() for cell in rows[0]]
    if "text" in header and "intent" in header:
        text_at, intent_at, start = header.index("text"), header.index("intent"), 1
    else:
        text_at, intent_at, start = 0, 1, 0
    out = []
    for number, row in enumerate(rows[start:], start=start + 1):
        if not any(cell.strip() for cell in row):
            continue
        text = row[text_at] if len(row) > text_at else ""
        intent = row[intent_at] if len(row) > intent_at else ""
        out.append((number, text, intent.strip()))
    return out


def existing_examples(data_dir: Path) -> dict[str, set[str]]:
    """Normalized, case-folded example text -> the intents (or retrieval keys) it is under."""
    from rasa.shared.nlu.training_data.loading import load_data

    known: dict[str, set[str]] = {}
    for path in sorted(data_dir.rglob("*.yml")):
        for example in load_data(str(path)).intent_examples:
            label = example.get("intent_response_key") or example.get("intent")
            known.setdefault(normalize(example.get("text")).casefold(), set()).add(label)
    return known


def plan_import(rows: list[tuple[int, str, str]], known: dict[str, set[str]]) -> ImportReport:
    report = ImportReport()
    first_seen: dict[str, tuple[int, str]] = {}
    conflicted: set[str] = set()
    accepted: list[tuple[int, str, str, str]] = []  # row, text, intent, key
    for number, raw, intent in rows:
        text = normalize(raw)
        if not text:
            report.invalid.append((number, raw, "empty text"))
            continue
        if len(text) > MAX_TEXT or any(ord(c) < 32 for c in text):
            report.invalid.append((number, text[:80], f"over {MAX_TEXT} characters or control characters"))
            continue
        if not INTENT_NAME.match(intent):
            report.invalid.append((number, text, f"intent {intent!r} is not a valid name (lower case, digits, _)"))
            continue
        key = text.casefold()
        elsewhere = known.get(key, set()) - {intent}
        if elsewhere:
            report.conflicts.append((number, text, f"already in the training data as {', '.join(sorted(elsewhere))}"))
            continue
        if intent in known.get(key, set()):
            report.duplicates.append((number, text, f"already in the training data as {intent}"))
            continue
        if key in first_seen:
            row, other = first_seen[key]
            if other == intent:
                report.duplicates.append((number, text, f"same as row {row}"))
            else:
                report.conflicts.append((number, text, f"row {row} has it as {other}, this row as {intent}"))
                conflicted.add(key)
            continue
        first_seen[key] = (number, intent)
        accepted.append((number, text, intent, key))
    for number, text, intent, key in accepted:
        if key in conflicted:
            report.conflicts.append((number, text, f"conflicts with a later row; not added as {intent}"))
        else:
            report.added.setdefault(intent, []).append(text)
    return report


def write_examples(target: Path, added: dict[str, list[str]]) -> None:
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLWriter
    from rasa.shared.nlu.training_data.loading import load_data
    from rasa.shared.nlu.training_data.message import Message
    from rasa.shared.nlu.training_data.training_data import TrainingData

    current = load_data(str(target)) if target.exists() else TrainingData()
    messages = []
    for intent, texts in added.items():
        base, _, response = intent.partition("/")
        for text in texts:
            data = {"text": text, "intent": base}
            if response:
                data["intent_response_key"] = intent
            messages.append(Message(data=data))
    merged = current.merge(TrainingData(training_examples=messages))
    target.parent.mkdir(parents=True, exist_ok=True)
    RasaYAMLWriter().dump(str(target), merged)


def import_csv(args: argparse.Namespace) -> int:
    from rasa.shared.core.domain import Domain

    rows = read_rows(args.csv)
    report = plan_import(rows, existing_examples(args.data))
    domain_intents = set(Domain.load(str(args.domain)).intents)
    report.intents_not_in_domain = sorted({i.split("/")[0] for i in report.added} - domain_intents)
    if report.added and not args.dry_run:
        write_examples(args.into, report.added)
    added = sum(len(v) for v in report.added.values())
    verb = "would add" if args.dry_run else "added"
    target = args.into.relative_to(ROOT) if args.into.is_relative_to(ROOT) else args.into
    print(f"{len(rows)} rows: {verb} {added} examples to {target}")
    for intent, texts in sorted(report.added.items()):
        print(f"  + {intent}: {len(texts)}")
    for title, items in (("duplicates (skipped)", report.duplicates), ("conflicts (not added)", report.conflicts),
                         ("invalid rows (not added)", report.invalid)):  # fmt: skip
        if items:
            print(f"{title}: {len(items)}")
            for number, text, why in items:
                print(f"  row {number}: {text!r}: {why}")
    if report.intents_not_in_domain:
        print("declare these new intents in bot/domain/ (and give them a rule or story): "
              + ", ".join(report.intents_not_in_domain))  # fmt: skip
    if args.report:
        args.report.write_text(json.dumps(report.as_dict(), indent=2) + "\n")
    return 2 if report.refused else 0


def f1_by_intent(report: dict[str, dict[str, float]]) -> dict[str, float]:
    return {k: float(v["f1-score"]) for k, v in report.items() if k not in SUMMARY_KEYS and isinstance(v, dict)}


def correct_by_intent(report: dict[str, dict[str, float]]) -> dict[str, int]:
    """How many evaluation examples of each intent were recognised (recall x support)."""
    return {
        k: round(float(v["recall"]) * float(v["support"]))
        for k, v in report.items()
        if k not in SUMMARY_KEYS and isinstance(v, dict) and "recall" in v and "support" in v
    }


def compare(baseline: dict[str, object], report: dict[str, dict[str, float]], tolerance: float,
            intent_tolerance: float, max_lost: int | None = None) -> list[str]:  # fmt: skip
    """The regressions of `report` against `baseline`; empty when the gate passes. With `max_lost`, an intent
    also fails when it recognises more than `max_lost` fewer of its evaluation examples than the baseline did
    (the evaluation set is fixed and training deterministic, so two lost examples of one intent are a change,
    not noise, even where its F1 moves less than the tolerance)."""
    problems = []
    macro_now = float(report["macro avg"]["f1-score"])
    macro_then = float(baseline["macro_f1"])  # type: ignore[arg-type]
    if macro_then - macro_now > tolerance:
        problems.append(f"macro F1 fell from {macro_then:.3f} to {macro_now:.3f} (tolerance {tolerance})")
    now = f1_by_intent(report)
    correct_now = correct_by_intent(report)
    correct_then: dict[str, int] = baseline.get("correct", {})  # type: ignore[assignment]
    for intent, then in sorted(baseline["intents"].items()):  # type: ignore[union-attr]
        if intent not in now:
            problems.append(f"{intent}: in the baseline but not evaluated any more")
        elif then - now[intent] > intent_tolerance:
            problems.append(f"{intent}: F1 fell from {then:.3f} to {now[intent]:.3f} (tolerance {intent_tolerance})")
        elif max_lost is not None and intent in correct_then and intent in correct_now:
            lost = correct_then[intent] - correct_now[intent]
            if lost > max_lost:
                then_now = f"{correct_then[intent]} -> {correct_now[intent]}"
                problems.append(f"{intent}: {lost} fewer of its evaluation examples recognised ({then_now}; "
                                f"at most {max_lost} may go)")  # fmt: skip
    return problems


def _key(example) -> str:  # type: ignore[no-untyped-def]
    return normalize(example.get("text")).casefold()


def gate_split(data: Path, evaluation_set: Path, work: Path, customer_set: Path | None = None) -> dict[str, list[str]]:
    """Writes training_data.yml and test_data.yml into `work` for the gate.

    The test part is the fixed evaluation set (examples and labels as they were when the baseline was
    accepted), plus, for intents that set does not know yet, the hash-chosen fifth of their examples.
    The training part is every current example whose text is not in the test part. Because the test
    examples keep their accepted labels, relabelling or deleting training examples shows as the damage
    it does, instead of moving the damaged examples into the test part with their new labels.
    With `customer_set`, its messages are kept out of training too and written to customer_data.yml.
    Returns {"new_intents": [...], "dropped_intents": [...]} (the latter: in the set, not in the data)."""
    from rasa.shared.nlu.training_data.loading import load_data

    full = load_data(str(data))
    customers = load_data(str(customer_set)).intent_examples if customer_set and customer_set.exists() else []
    fixed = load_data(str(evaluation_set)).intent_examples if evaluation_set.exists() else []
    known = {e.get_full_intent() for e in fixed}
    current = {e.get_full_intent() for e in full.intent_examples}
    new_intents = sorted(current - known)
    _, extra_test = split_by_hash([e for e in full.intent_examples if e.get_full_intent() in new_intents])
    test = fixed + extra_test
    held_out = {_key(e) for e in test + customers}
    train = [e for e in full.intent_examples if _key(e) not in held_out]
    write_split(full, train, test, work)
    if customers:
        write_examples_to(full, customers, work / "customer_data.yml")
    return {"new_intents": new_intents, "dropped_intents": sorted(known - current)}


def gate_evaluation(
    data: Path, evaluation_set: Path, out: Path, customer_set: Path | None = None
) -> tuple[dict[str, object], dict[str, list[str]], dict[str, object] | None]:
    """Train NLU on the current data minus the evaluation examples, test on them (and on the customer set, whose
    reports land in out/real-customers); reports land in `out`."""
    work = out.parent / f".{out.name}-work"
    shutil.rmtree(work, ignore_errors=True)
    shutil.rmtree(out, ignore_errors=True)
    changes = gate_split(data, evaluation_set, work, customer_set)
    has_customers = (work / "customer_data.yml").exists()
    train_and_test(work, out, {"real-customers": work / "customer_data.yml"} if has_customers else {})
    customers = json.loads((out / "real-customers" / "intent_report.json").read_text()) if has_customers else None
    return json.loads((out / "intent_report.json").read_text()), changes, customers


def customer_summary(report: dict[str, object]) -> dict[str, object]:
    """Accuracy on the customer set, and per intent the share of its messages recognised."""
    recall = {
        k: round(float(v["recall"]), 4)  # type: ignore[index]
        for k, v in report.items()
        if k not in SUMMARY_KEYS and isinstance(v, dict) and float(v.get("support", 0)) > 0
    }
    return {
        "accuracy": round(float(report["accuracy"]), 4),  # type: ignore[arg-type]
        "macro_f1": round(float(report["macro avg"]["f1-score"]), 4),  # type: ignore[index]
        "examples": int(report["macro avg"]["support"]),  # type: ignore[index]
        "intent_accuracy": dict(sorted(recall.items())),
        "correct": dict(sorted(correct_by_intent(report).items())),  # type: ignore[arg-type]
    }


def compare_customers(baseline: dict[str, object] | None, now: dict[str, object], tolerance: float,
                      max_lost: int) -> list[str]:  # fmt: skip
    """Regressions on the customer set: overall accuracy fell by more than `tolerance`, or an intent recognises
    more than `max_lost` fewer of its messages than when the baseline was accepted."""
    if not baseline:
        return []
    problems = []
    then_acc, now_acc = float(baseline["accuracy"]), float(now["accuracy"])  # type: ignore[arg-type]
    if now_acc < then_acc - tolerance:
        problems.append(f"real customers: accuracy {now_acc:.3f}, was {then_acc:.3f}")
    correct_then: dict[str, int] = baseline.get("correct", {})  # type: ignore[assignment]
    correct_now: dict[str, int] = now["correct"]  # type: ignore[assignment]
    for intent, then in sorted(correct_then.items()):
        lost = then - correct_now.get(intent, 0)
        if lost > max_lost:
            problems.append(f"{intent}: {lost} fewer real-customer messages recognised "
                            f"({then} -> {correct_now.get(intent, 0)}; at most {max_lost} may go)")  # fmt: skip
    return problems


def print_customer_summary(summary: dict[str, object], below: float = 0.95) -> None:
    print(f"real customers ({summary['examples']} messages written apart from the training data): "
          f"accuracy {summary['accuracy']:.3f}, macro F1 {summary['macro_f1']:.3f}")  # fmt: skip
    weak = {k: v for k, v in summary["intent_accuracy"].items() if v < below}  # type: ignore[union-attr]
    if weak:
        ranked = sorted(weak.items(), key=lambda item: item[1])
        print(f"  intents under {below:.0%}: " + ", ".join(f"{k} {v:.2f}" for k, v in ranked))


def gate(args: argparse.Namespace) -> int:
    baseline = json.loads(args.baseline.read_text())
    report, changes, customers = gate_evaluation(args.data, args.evaluation_set, args.out, args.customer_set)
    problems = compare(baseline, report, args.tolerance, args.intent_tolerance, args.max_lost)
    if customers is not None:
        summary = customer_summary(customers)
        print_customer_summary(summary)
        problems += compare_customers(baseline.get("real_customers"), summary, args.tolerance, args.customer_max_lost)
    print(f"evaluation set: {report['macro avg']['support']} examples ({args.evaluation_set.name}"  # type: ignore[index]
          f"{' + new intents' if changes['new_intents'] else ''}); reports in {args.out}")  # fmt: skip
    print(f"macro F1 {report['macro avg']['f1-score']:.3f} (baseline {baseline['macro_f1']:.3f}), "  # type: ignore[index]
          f"accuracy {report['accuracy']:.3f} (baseline {baseline['accuracy']:.3f})")  # fmt: skip
    if changes["new_intents"]:
        print("new intents, not in the baseline yet: " + ", ".join(changes["new_intents"]))
    if changes["dropped_intents"]:
        problems.append("no training examples any more for " + ", ".join(changes["dropped_intents"]))
    if problems:
        print("NLU regression gate FAILED:")
        confusions = worst_confusions(args.out, top=1000)
        for problem in problems:
            print("  " + problem)
            intent = problem.split(":")[0]
            involved = [f"{t} -> {p}: {n}" for t, p, n in confusions if intent in (t, p)]
            if involved:
                print("    confusions (true -> predicted): " + "; ".join(involved))
        print("Fix the data, or, if the change is intended, accept it: scripts/nlu.py baseline")
        return 1
    print("NLU regression gate passed")
    return 0


def baseline(args: argparse.Namespace) -> int:
    """Accepts the current data: the evaluation set keeps its examples and labels (those of intents that are
    gone are dropped, new intents get a hash-chosen fifth of their examples), and the scores on it are stored.
    --resplit starts the evaluation set afresh from the current data (after relabelling on purpose)."""
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLWriter
    from rasa.shared.nlu.training_data.loading import load_data
    from rasa.shared.nlu.training_data.training_data import TrainingData

    full = load_data(str(args.data))
    current = {e.get_full_intent() for e in full.intent_examples}
    kept = []
    if args.evaluation_set.exists() and not args.resplit:
        kept = [e for e in load_data(str(args.evaluation_set)).intent_examples if e.get_full_intent() in current]
    known = {e.get_full_intent() for e in kept}
    _, added = split_by_hash([e for e in full.intent_examples if e.get_full_intent() not in known])
    args.evaluation_set.parent.mkdir(parents=True, exist_ok=True)
    RasaYAMLWriter().dump(args.evaluation_set, TrainingData(kept + added))
    report, _, customers = gate_evaluation(args.data, args.evaluation_set, args.out, args.customer_set)
    stored = {
        "accuracy": round(float(report["accuracy"]), 4),  # type: ignore[arg-type]
        "macro_f1": round(float(report["macro avg"]["f1-score"]), 4),  # type: ignore[index]
        "evaluation_examples": len(kept) + len(added),
        "intents": {k: round(v, 4) for k, v in sorted(f1_by_intent(report).items())},  # type: ignore[arg-type]
        "correct": dict(sorted(correct_by_intent(report).items())),  # type: ignore[arg-type]
    }
    if customers is not None:
        stored["real_customers"] = customer_summary(customers)
    args.baseline.write_text(json.dumps(stored, indent=2) + "\n")
    print(f"evaluation set {args.evaluation_set}: {len(kept)} examples kept, {len(added)} added")
    print(f"baseline written to {args.baseline}: macro F1 {stored['macro_f1']}, {len(stored['intents'])} intents")
    return 0


def rasa(*args: str) -> None:
    """Runs the Rasa CLI of this virtualenv in the product's environment (custom components on PYTHONPATH)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from hearth import RASA_BIN
    from hearth.environment import environment

    result = subprocess.run(
        [str(RASA_BIN / "rasa"), *args], cwd=ROOT, env=environment(), capture_output=True, text=True
    )
    if result.returncode != 0:
        sys.stderr.write(result.stdout[-3000:] + result.stderr[-3000:])
        raise SystemExit(f"rasa {args[0]} {args[1]} failed")


def split_by_hash(examples: list, test_fraction: float = 0.2) -> tuple[list, list]:  # type: ignore[type-arg]
    """(train, test): per intent, the examples whose text hashes lowest make up the test part. Unlike a
    seeded shuffle of the whole data set, adding or changing one intent's examples moves no other
    intent's examples between the parts."""
    import hashlib

    by_intent: dict[str, list] = {}  # type: ignore[type-arg]
    for example in examples:
        by_intent.setdefault(example.get_full_intent(), []).append(example)
    train, test = [], []
    for group in by_intent.values():
        ranked = sorted(group, key=lambda e: hashlib.sha256(e.get("text").encode()).hexdigest())
        n_test = max(1, round(len(ranked) * test_fraction)) if len(ranked) > 1 else 0
        test += ranked[:n_test]
        train += ranked[n_test:]
    return train, test


def write_examples_to(full, examples: list, path: Path) -> None:  # type: ignore[no-untyped-def, type-arg]
    """`examples` as a Rasa YAML file, with the data's regexes, lookup tables, synonyms and responses."""
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLWriter
    from rasa.shared.nlu.training_data.training_data import TrainingData

    shared = {"entity_synonyms": full.entity_synonyms, "regex_features": full.regex_features,
              "lookup_tables": full.lookup_tables, "responses": full.responses}  # fmt: skip
    RasaYAMLWriter().dump(path, TrainingData(examples, **shared))


def write_split(full, train: list, test: list, work: Path) -> None:  # type: ignore[no-untyped-def, type-arg]
    """work/training_data.yml and work/test_data.yml: the examples of each part, with the data's regexes,
    lookup tables, synonyms and responses in both."""
    work.mkdir(parents=True, exist_ok=True)
    write_examples_to(full, train, work / "training_data.yml")
    write_examples_to(full, test, work / "test_data.yml")


def stable_split(data: Path, work: Path) -> None:
    """Writes training_data.yml and test_data.yml into `work`, split by `split_by_hash`."""
    from rasa.shared.nlu.training_data.loading import load_data

    full = load_data(str(data))
    train, test = split_by_hash(full.intent_examples)
    write_split(full, train, test, work)


def train_and_test(work: Path, out: Path, more: dict[str, Path] | None = None) -> None:
    """Trains NLU on work/training_data.yml, tests it on work/test_data.yml; Rasa's reports land in `out`. Each of
    `more` (name: test file) is tested with the same model, its reports in out/<name>."""
    rasa("train", "nlu", "--nlu", str(work / "training_data.yml"), "--config", "config.yml", "--domain", "bot/domain",
         "--out", str(work), "--fixed-model-name", "evaluated")  # fmt: skip
    rasa("test", "nlu", "--nlu", str(work / "test_data.yml"), "--model", str(work / "evaluated.tar.gz"),
         "--out", str(out))  # fmt: skip
    for name, test_file in (more or {}).items():
        rasa("test", "nlu", "--nlu", str(test_file), "--model", str(work / "evaluated.tar.gz"),
             "--out", str(out / name))  # fmt: skip
    shutil.rmtree(work, ignore_errors=True)


def holdout(data: Path, out: Path) -> dict[str, object]:
    """Train NLU on 80 % of `data` and evaluate on the other 20 % (`stable_split`); reports land in `out`."""
    work = out.parent / f".{out.name}-work"
    shutil.rmtree(work, ignore_errors=True)
    shutil.rmtree(out, ignore_errors=True)
    stable_split(data, work)
    train_and_test(work, out)
    return json.loads((out / "intent_report.json").read_text())


def cross_validation(data: Path, out: Path, folds: int) -> dict[str, object]:
    shutil.rmtree(out, ignore_errors=True)
    rasa("test", "nlu", "--nlu", str(data), "--config", "config.yml", "--domain", "bot/domain", "--cross-validation",
         "--folds", str(folds), "--out", str(out))  # fmt: skip
    return json.loads((out / "intent_report.json").read_text())


def worst_confusions(out: Path, top: int = 10) -> list[tuple[str, str, int]]:
    errors_file = out / "intent_errors.json"
    errors = json.loads(errors_file.read_text()) if errors_file.exists() else []
    pairs = Counter((e["intent"], e["intent_prediction"]["name"]) for e in errors if e.get("intent_prediction"))
    return [(true, predicted, n) for (true, predicted), n in pairs.most_common(top)]


def evaluate(args: argparse.Namespace) -> int:
    if args.folds:
        out = args.out or ROOT / "results" / "nlu-cv"
        report = cross_validation(args.data, out, args.folds)
        kind = f"{args.folds}-fold cross-validation"
    else:
        out = args.out or ROOT / "results" / "nlu-holdout"
        report = holdout(args.data, out)
        kind = "holdout (80/20)"
    macro = report["macro avg"]["f1-score"]  # type: ignore[index]
    print(f"{kind}: accuracy {report['accuracy']:.3f}, macro F1 {macro:.3f}; reports in {out}")
    weakest = sorted(f1_by_intent(report).items(), key=lambda item: item[1])[:5]  # type: ignore[arg-type]
    print("weakest intents: " + ", ".join(f"{name} {f1:.2f}" for name, f1 in weakest))
    confusions = worst_confusions(out)
    if confusions:
        print("most frequent confusions (true -> predicted):")
        for true, predicted, n in confusions:
            print(f"  {true} -> {predicted}: {n}")
    print(f"confusion matrix: {out / 'intent_confusion_matrix.png'}")
    return 0


def score(args: argparse.Namespace) -> int:
    """Trains on the data (minus the customer set's messages) and scores the customer set; --json keeps the figures."""
    from rasa.shared.nlu.training_data.loading import load_data

    work = args.out.parent / f".{args.out.name}-work"
    shutil.rmtree(work, ignore_errors=True)
    shutil.rmtree(args.out, ignore_errors=True)
    full = load_data(str(args.data))
    customers = load_data(str(args.customer_set)).intent_examples
    held_out = {_key(e) for e in customers}
    work.mkdir(parents=True)
    write_examples_to(full, [e for e in full.intent_examples if _key(e) not in held_out], work / "training_data.yml")
    write_examples_to(full, customers, work / "test_data.yml")
    train_and_test(work, args.out)
    summary = customer_summary(json.loads((args.out / "intent_report.json").read_text()))
    answers = args.out / "response_selection_report.json"  # which FAQ or chitchat answer, within faq/chitchat
    if answers.exists():
        report = json.loads(answers.read_text())
        summary["answer_accuracy"] = round(float(report["accuracy"]), 4)
        summary["answer_accuracy_by_key"] = {
            k: round(float(v["recall"]), 4) for k, v in sorted(report.items()) if isinstance(v, dict) and "/" in k
        }
    print_customer_summary(summary)
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2) + "\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    imp = sub.add_parser("import-csv", help="add (text, intent) rows from a CSV file to the training data")
    imp.add_argument("csv", type=Path)
    imp.add_argument("--into", type=Path, default=ROOT / "data" / "nlu" / "imported.yml")
    imp.add_argument("--data", type=Path, default=ROOT / "data" / "nlu", help="the training data to check against")
    imp.add_argument("--domain", type=Path, default=ROOT / "bot" / "domain")
    imp.add_argument("--dry-run", action="store_true")
    imp.add_argument("--report", type=Path, help="also write the report as JSON")
    for name, helptext in (("gate", "fail if intent F1 on the evaluation set fell against the baseline"),
                           ("baseline", "accept the current data: evaluation set and scores")):  # fmt: skip
        command = sub.add_parser(name, help=helptext)
        command.add_argument("--data", type=Path, default=ROOT / "data" / "nlu")
        command.add_argument("--baseline", type=Path, default=DEFAULT_BASELINE)
        command.add_argument("--evaluation-set", type=Path, default=DEFAULT_EVALUATION_SET)
        command.add_argument("--out", type=Path, default=ROOT / "results" / "nlu-gate")
        command.add_argument("--customer-set", type=Path, default=DEFAULT_CUSTOMER_SET,
                             help="messages written apart from the training data, scored too")  # fmt: skip
        if name == "gate":
            command.add_argument("--customer-max-lost", type=int, default=2,
                                 help="real-customer messages an intent may lose")  # fmt: skip
            command.add_argument("--tolerance", type=float, default=0.02)
            command.add_argument("--intent-tolerance", type=float, default=0.15)
            command.add_argument("--max-lost", type=int, default=1, help="evaluation examples an intent may lose")
        else:
            command.add_argument("--resplit", action="store_true", help="start the evaluation set afresh")
    sc = sub.add_parser("score", help="train on the data, score the set of messages written apart from it")
    sc.add_argument("--data", type=Path, default=ROOT / "data" / "nlu")
    sc.add_argument("--customer-set", type=Path, default=DEFAULT_CUSTOMER_SET)
    sc.add_argument("--out", type=Path, default=ROOT / "results" / "nlu-real-customers")
    sc.add_argument("--json", type=Path, help="write the summary (accuracy, per intent) here")
    ev = sub.add_parser("evaluate", help="NLU holdout (default) or cross-validation, with reports")
    ev.add_argument("--data", type=Path, default=ROOT / "data" / "nlu")
    ev.add_argument("--folds", type=int, default=0, help="cross-validation with this many folds")
    ev.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    commands = {"import-csv": import_csv, "gate": gate, "baseline": baseline, "evaluate": evaluate, "score": score}
    return commands[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
