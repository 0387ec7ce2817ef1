"""The bot's data and model: validation, conversation stories, NLU on held-out examples."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from hearth import train as training
from tests.rasa_env import RASA, RASA_PY, ROOT, run, trained_model, training_examples

pytestmark = pytest.mark.conversation

RESULTS = ROOT / "results"
# Warnings Rasa 3.6 prints for every project, whatever the data:
KNOWN_RASA_WARNINGS = (
    "Slot auto-fill has been removed in 3.0",  # printed unconditionally when slots are loaded
    "duplicated intents have been found across multiple domain files: chitchat, faq",  # retrieval intents
    # The FAQ's answers are the help articles' (data/knowledge/, knowledge/): the rules answer the faq intent with
    # action_answer_from_knowledge, and Rasa's own utter_faq, which it declares for every retrieval intent, has no
    # responses on purpose.
    "Action 'utter_faq' is listed as a response action in the domain file, but there is no matching response",
)


def _warnings(output: str) -> list[str]:
    found = [line for line in output.splitlines() if "UserWarning:" in line]
    return [w for w in found if not any(known in w for known in KNOWN_RASA_WARNINGS)]


def test_data_validates_without_warnings():
    result = run([str(RASA_PY), "scripts/validate_data.py"])
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert _warnings(output) == [], "\n".join(_warnings(output))


def test_a_response_missing_from_the_domain_fails_validation(tmp_path):
    """The validation wrapper catches a response that actions send but the domain lacks."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("validate_data", ROOT / "scripts" / "validate_data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    (tmp_path / "a.py").write_text('dispatcher.utter_message(response="utter_x")\nresponse=f"utter_y_{kind}"\n')
    names, prefixes = module.responses_sent_by_code(tmp_path)
    assert "utter_x" in names and prefixes == {"utter_y_"}


def test_conversation_stories_have_no_prediction_errors():
    """Every story, with NLU on the customers' words (--e2e) as well as the policies on the dialogue."""
    out = RESULTS / "conversation"
    shutil.rmtree(out, ignore_errors=True)
    result = run(
        [
            str(RASA),
            "test",
            "core",
            "--model",
            str(trained_model()),
            "--stories",
            "tests/conversation/stories",
            "--out",
            str(out),
            "--fail-on-prediction-errors",
            "--e2e",
        ]
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-6000:]
    report = json.loads((out / "story_report.json").read_text())
    assert report["conversation_accuracy"]["accuracy"] == 1.0
    assert report["conversation_accuracy"]["total"] >= 25  # every flow has at least one story


def _holdout_report() -> dict:
    """Train NLU on 80% of the examples and evaluate on the other 20%; cached per data+config fingerprint."""
    out = RESULTS / "nlu-holdout"
    stamp = out / "fingerprint"
    fingerprint = training.fingerprint()
    if stamp.exists() and stamp.read_text() == fingerprint and (out / "intent_report.json").exists():
        return json.loads((out / "intent_report.json").read_text())
    report = holdout(ROOT / "data" / "nlu", out)
    stamp.write_text(fingerprint)
    return report


def holdout(nlu_data: Path, out: Path) -> dict:
    """The team's own command: scripts/nlu.py evaluate (80/20, split by text hash per intent); reports in `out`."""
    result = run([str(RASA_PY), "scripts/nlu.py", "evaluate", "--data", str(nlu_data), "--out", str(out)])
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    assert "weakest intents:" in result.stdout, result.stdout
    return json.loads((out / "intent_report.json").read_text())


def test_nlu_holdout_evaluation():
    report = _holdout_report()
    summary = {
        "accuracy": report["accuracy"],
        "macro_f1": report["macro avg"]["f1-score"],
        "weighted_f1": report["weighted avg"]["f1-score"],
        "worst_intents": sorted(
            (
                (name, round(v["f1-score"], 3))
                for name, v in report.items()
                if isinstance(v, dict) and "support" in v and not re.match(r"(macro|weighted|micro) avg", name)
            ),
            key=lambda item: item[1],
        )[:5],
    }
    (RESULTS / "nlu-holdout" / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"\nNLU holdout: accuracy {summary['accuracy']:.3f}, macro F1 {summary['macro_f1']:.3f}")
    # A floor against breakage, set a little under the measured 0.878 / 0.879 on the hash split (see
    # docs/measurements.md); comparing against a stored per-intent baseline is the job of the regression gate.
    assert summary["accuracy"] >= 0.85, summary
    assert summary["macro_f1"] >= 0.85, summary


def test_regex_entities_on_holdout():
    _holdout_report()
    path = RESULTS / "nlu-holdout" / "RegexEntityExtractor_report.json"
    report = json.loads(path.read_text())
    for entity in ("order_number", "email", "phone", "otp_code"):
        if entity in report:
            assert report[entity]["f1-score"] >= 0.95, (entity, report[entity])


def test_model_is_reused_when_nothing_changed():
    model = trained_model()
    assert training.model_path() == model
    result = run([str(ROOT / ".venvs" / "app" / "bin" / "python"), "-m", "hearth", "train"], timeout=60)
    assert result.returncode == 0 and "not retraining" in result.stdout


def test_changing_the_data_changes_the_fingerprint(tmp_path, monkeypatch):
    before = training.fingerprint()
    for name in ("config.yml", "data", "bot", "encoder"):
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, tmp_path / name)
    monkeypatch.setattr(training, "ROOT", tmp_path)
    assert training.fingerprint() == before
    with (tmp_path / "data" / "knowledge" / "gift-cards-extra.md").open("w") as fh:
        fh.write("---\ntitle: More\n---\nA help article: the bot answers from it without retraining.\n")
    assert training.fingerprint() == before
    with (tmp_path / "data" / "nlu" / "basics.yml").open("a") as fh:
        fh.write("\n")
    assert training.fingerprint() != before


def gate(*args: str) -> subprocess.CompletedProcess[str]:
    return run([str(RASA_PY), "scripts/nlu.py", "gate", *args])


def _move_examples(path: Path, source: str, target: str, every: int = 2) -> list[str]:
    """Relabels every `every`-th example of `source` in `path` as `target` (a block at the end); returns them."""
    text = path.read_text()
    block = re.search(rf"- intent: {source}\n  examples: \|\n((?:    - .*\n)+)", text)
    assert block, f"{path.name} has no {source} block"
    lines = block.group(1).splitlines(keepends=True)
    moved, kept = lines[::every], [line for i, line in enumerate(lines) if i % every]
    text = text.replace(block.group(1), "".join(kept))
    path.write_text(text + f"\n- intent: {target}\n  examples: |\n" + "".join(moved))  # Rasa merges the blocks
    return moved


def test_nlu_regression_gate_passes_on_the_shipped_data(tmp_path):
    result = gate("--out", str(tmp_path / "gate"))
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]
    assert "NLU regression gate passed" in result.stdout
    assert (tmp_path / "gate" / "intent_confusion_matrix.png").exists()


def test_nlu_regression_gate_fails_on_a_harmful_data_change(tmp_path):
    """Half the complaints relabelled as delivery problems. The moved examples are complaint-like, so a
    test split of the changed data would carry them to their new label and hide the damage (a holdout
    gate passed exactly this change); the fixed evaluation set keeps the accepted labels."""
    data = tmp_path / "nlu"
    shutil.copytree(ROOT / "data" / "nlu", data)
    moved = _move_examples(data / "service.yml", "complain", "delivery_problem")
    assert len(moved) >= 12

    result = gate("--data", str(data), "--out", str(tmp_path / "gate"))

    assert result.returncode == 1, result.stdout + result.stderr[-2000:]
    assert "NLU regression gate FAILED" in result.stdout, result.stdout
    assert "\n  complain: " in result.stdout, result.stdout  # its F1, or the examples it recognises, fell
    assert "complain -> delivery_problem" in result.stdout, result.stdout


def test_accepting_a_new_intent_keeps_the_evaluation_set_and_adds_its_examples(tmp_path):
    data = tmp_path / "nlu"
    shutil.copytree(ROOT / "data" / "nlu", data)
    examples = [
        "can I change the delivery address on my order",
        "I need my parcel sent to a different address",
        "please deliver my order to my work address instead",
        "I moved house, can you update where my order goes",
        "send order JH100001 to my neighbour's address",
        "wrong delivery address on my order, can you fix it",
        "change where my parcel is being delivered",
        "redirect my delivery to another address",
        "can the courier bring it to a different address",
        "update the shipping address for my latest order",
    ]
    (data / "new_intent.yml").write_text(
        'version: "3.1"\nnlu:\n- intent: change_delivery_address\n  examples: |\n'
        + "".join(f"    - {e}\n" for e in examples)
    )
    evaluation_set = tmp_path / "evaluation.yml"
    shutil.copy(ROOT / "docs" / "nlu-evaluation-set.yml", evaluation_set)
    before = training_examples(evaluation_set)
    stored = tmp_path / "baseline.json"
    out = tmp_path / "gate"

    result = run([str(RASA_PY), "scripts/nlu.py", "baseline", "--data", str(data), "--baseline", str(stored),
                  "--evaluation-set", str(evaluation_set), "--out", str(out)])  # fmt: skip

    assert result.returncode == 0, result.stdout + result.stderr[-2000:]
    after = training_examples(evaluation_set)
    assert set(before) <= set(after)  # the accepted examples keep their labels
    added = [(text, intent) for text, intent in after if (text, intent) not in before]
    assert added and {intent for _, intent in added} == {"change_delivery_address"}, added
    assert len(added) == 2  # a fifth of ten
    baseline = json.loads(stored.read_text())
    assert "change_delivery_address" in baseline["intents"]
    assert baseline["evaluation_examples"] == len(after)


def test_csv_import_writes_training_data_rasa_reads_and_refuses_conflicts(tmp_path):
    source = tmp_path / "new.csv"
    source.write_text("text,intent\nwhen will my parcel turn up,order_status\nhi,goodbye\n")
    target = tmp_path / "imported.yml"
    result = run([str(RASA_PY), "scripts/nlu.py", "import-csv", str(source), "--into", str(target)])
    assert result.returncode == 2, result.stdout + result.stderr[-2000:]  # the conflict was refused
    assert "'hi': already in the training data as greet" in result.stdout
    examples = training_examples(target)
    assert ("when will my parcel turn up", "order_status") in examples, examples
    assert "goodbye" not in repr(examples)


def test_nlu_benchmark_runs_both_pipelines_on_a_public_corpus(tmp_path):
    """The command, not the figures: both pipelines train and are scored (figures: docs/measurements.md)."""
    out = tmp_path / "webapps.json"
    result = run(
        [
            str(RASA_PY),
            "scripts/nlu_benchmark.py",
            "--csv",
            "benchmarks/nlu/braun2017/webapps.csv",
            "--oos-label",
            "None",
            "--out",
            str(out),
        ],  # fmt: skip
        timeout=600,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    report = json.loads(out.read_text())
    assert report["examples"] == {"train": 30, "test": 59, "intents": 8}
    for pipeline in ("shipped", "rasa_default"):
        figures = report["results"][pipeline]
        assert 0 <= figures["accuracy"] <= 1 and figures["oos_recall"] is not None and figures["train_seconds"] > 0
    assert set(report["verdict"]) == {"accuracy_gain", "train_time_ratio", "beats_reference"}
