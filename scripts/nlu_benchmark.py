"""NLU benchmark: the shipped pipeline against Rasa's default pipeline, on any intent set.

    .venvs/rasa/bin/python scripts/nlu_benchmark.py --csv benchmarks/nlu/braun2017/askubuntu.csv --oos-label None
    .venvs/rasa/bin/python scripts/nlu_benchmark.py --rasa-data data/nlu          # the bot's own data

Input is a CSV of `text,intent` rows, with an optional `split` column (`train`/`test`, e.g. a
corpus's own split); without one, a stratified split (--test-fraction, --seed) is made. Or
`--rasa-data`: Rasa YAML training data (retrieval intents count as their intent, e.g. faq).

For each pipeline -- the `pipeline` of config.yml (shipped) and Rasa 3.6's default pipeline
(what `rasa init` trains: DIET and friends, filled in by Rasa's autoconfiguration) -- it
trains an NLU model on the training part, timed, then parses every test example through the
loaded model and reports accuracy, macro F1, out-of-scope recall (when --oos-label names the
label of out-of-scope examples: how many of them were recognised as such), training time and
the prediction latency per message (p50/p95). Results go to --out as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path

os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
# Rasa caches trained components across runs (~/.rasa/cache); a cached pipeline "trains" in a
# fraction of a second, so the cache is off for honest training times.
os.environ["RASA_MAX_CACHE_SIZE"] = "0"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def load_csv(path: Path) -> list[tuple[str, str, str | None]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    if not rows or "text" not in rows[0] or "intent" not in rows[0]:
        raise SystemExit(f"{path}: expected a header with text and intent columns")
    return [(r["text"].strip(), r["intent"].strip(), (r.get("split") or "").strip() or None) for r in rows if r["text"]]


def load_rasa(path: Path) -> list[tuple[str, str, str | None]]:
    from rasa.shared.nlu.training_data.loading import load_data

    examples = []
    for file in sorted(path.rglob("*.yml")) if path.is_dir() else [path]:
        examples += [(m.get("text"), m.get("intent"), None) for m in load_data(str(file)).intent_examples]
    return examples


def split(rows: list[tuple[str, str, str | None]], test_fraction: float, seed: int) -> tuple[list, list]:
    if all(r[2] in ("train", "test") for r in rows):
        return [(t, i) for t, i, s in rows if s == "train"], [(t, i) for t, i, s in rows if s == "test"]
    by_intent: dict[str, list[str]] = defaultdict(list)
    for text, intent, _ in rows:
        by_intent[intent].append(text)
    rng = random.Random(seed)
    train, test = [], []
    for intent, texts in sorted(by_intent.items()):
        rng.shuffle(texts)
        cut = max(1, round(len(texts) * test_fraction)) if len(texts) > 1 else 0
        test += [(t, intent) for t in texts[:cut]]
        train += [(t, intent) for t in texts[cut:]]
    return train, test


def write_training_yaml(examples: list[tuple[str, str]], target: Path, regex_source: Path | None) -> None:
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLWriter
    from rasa.shared.nlu.training_data.loading import load_data
    from rasa.shared.nlu.training_data.message import Message
    from rasa.shared.nlu.training_data.training_data import TrainingData

    data = TrainingData(training_examples=[Message(data={"text": t, "intent": i}) for t, i in examples])
    if regex_source is not None:  # keep the bot's regexes (order numbers, emails...) for its own data
        for file in sorted(regex_source.rglob("*.yml")) if regex_source.is_dir() else [regex_source]:
            data = data.merge(TrainingData(regex_features=load_data(str(file)).regex_features))
    RasaYAMLWriter().dump(str(target), data)


def shipped_config(target: Path, source: Path = ROOT / "config.yml") -> Path:
    """config.yml (or another config: --config) with its pipeline, policies left out (NLU only)."""
    import yaml

    config = yaml.safe_load(source.read_text())
    target.write_text(yaml.safe_dump({"recipe": "default.v1", "language": "en", "pipeline": config["pipeline"]}))
    return target


def default_config(target: Path) -> Path:
    """No pipeline at all: Rasa fills in its default one at training time, as for `rasa init`."""
    target.write_text("recipe: default.v1\nlanguage: en\n")
    return target


def train(config: Path, data: Path, out: Path) -> tuple[Path, float]:
    from rasa.model_training import train_nlu

    started = time.perf_counter()
    model = train_nlu(str(config), str(data), str(out), fixed_model_name=config.stem)
    if not model:
        raise SystemExit(f"training with {config} failed")
    return Path(model), time.perf_counter() - started


async def predict(model: Path, texts: list[str]) -> tuple[list[str], list[float]]:
    from rasa.core.agent import Agent

    agent = Agent.load(str(model))
    await agent.parse_message("warm up")
    predictions, latencies = [], []
    for text in texts:
        started = time.perf_counter()
        parsed = await agent.parse_message(text)
        latencies.append(time.perf_counter() - started)
        ranking = [r["name"] for r in parsed.get("intent_ranking") or [] if r["name"] != "nlu_fallback"]
        name = (parsed.get("intent") or {}).get("name")
        predictions.append(ranking[0] if name == "nlu_fallback" and ranking else name or "")
    return predictions, latencies


def scores(truth: list[str], predicted: list[str], oos_label: str | None) -> dict[str, float | None]:
    from sklearn.metrics import accuracy_score, f1_score

    oos = [p for t, p in zip(truth, predicted, strict=True) if oos_label is not None and t == oos_label]
    return {
        "accuracy": round(float(accuracy_score(truth, predicted)), 4),
        "macro_f1": round(float(f1_score(truth, predicted, average="macro", zero_division=0)), 4),
        "oos_recall": round(sum(p == oos_label for p in oos) / len(oos), 4) if oos else None,
    }


def run(name: str, config: Path, train_file: Path, test: list[tuple[str, str]], oos_label: str | None,
        work: Path) -> dict[str, object]:  # fmt: skip
    print(f"==> {name}: training ...", flush=True)
    model, seconds = train(config, train_file, work)
    predictions, latencies = asyncio.run(predict(model, [t for t, _ in test]))
    ms = sorted(x * 1000 for x in latencies)
    result = {
        **scores([i for _, i in test], predictions, oos_label),
        "train_seconds": round(seconds, 1),
        "predict_p50_ms": round(statistics.median(ms), 2),
        "predict_p95_ms": round(ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))], 2),
        "model_mb": round(model.stat().st_size / 1e6, 2),
    }
    print(f"    {result}", flush=True)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--csv", type=Path, nargs="+", help="one or more CSV files, used together")
    source.add_argument("--rasa-data", type=Path, help="Rasa YAML training data (file or folder)")
    parser.add_argument("--oos-label", help="the intent label of out-of-scope examples, e.g. None or out_of_scope")
    parser.add_argument("--test-fraction", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--name", help="a name for the data set in the results")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    parser.add_argument("--shipped-only", action="store_true", help="skip the reference (quick iterations)")
    parser.add_argument("--config", type=Path, default=ROOT / "config.yml", help="the pipeline to measure (config.yml)")
    args = parser.parse_args()

    rows = [r for path in args.csv for r in load_csv(path)] if args.csv else load_rasa(args.rasa_data)
    train_rows, test_rows = split(rows, args.test_fraction, args.seed)
    name = args.name or (args.rasa_data.name if args.rasa_data else "+".join(p.stem for p in args.csv))
    intents = sorted({i for _, i in train_rows + test_rows})
    print(f"{name}: {len(train_rows)} training and {len(test_rows)} test examples, {len(intents)} intents")
    import rasa.model_training  # noqa: F401 - imports (TensorFlow included) before any clock starts
    import tensorflow  # noqa: F401

    with tempfile.TemporaryDirectory(prefix="nlu-benchmark-") as tmp:
        work = Path(tmp)
        train_file = work / "train.yml"
        write_training_yaml(train_rows, train_file, args.rasa_data)
        results = {
            "shipped": run(f"shipped pipeline ({args.config.name})", shipped_config(work / "shipped.yml", args.config),
                           train_file, test_rows, args.oos_label, work),
        }  # fmt: skip
        if args.shipped_only:
            return 0
        results["rasa_default"] = run(
            "Rasa's default pipeline", default_config(work / "default.yml"), train_file, test_rows, args.oos_label, work
        )
    shipped, reference = results["shipped"], results["rasa_default"]
    verdict = {
        "accuracy_gain": round(float(shipped["accuracy"]) - float(reference["accuracy"]), 4),  # type: ignore[arg-type]
        "train_time_ratio": round(float(shipped["train_seconds"]) / float(reference["train_seconds"]), 2),  # type: ignore[arg-type]
    }
    verdict["beats_reference"] = verdict["accuracy_gain"] > 0 and verdict["train_time_ratio"] <= 2.0
    report = {
        "data_set": name,
        "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "examples": {"train": len(train_rows), "test": len(test_rows), "intents": len(intents)},
        "oos_label": args.oos_label,
        "results": results,
        "verdict": verdict,
    }
    print(json.dumps(verdict))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
