"""The help centre measured: answers on questions nobody tuned to, the FAQ selector before and after, and speed.

    .venvs/app/bin/python scripts/bench_knowledge.py [--json docs/measurements/knowledge.json]
    .venvs/app/bin/python scripts/bench_knowledge.py --tune      # the thresholds, on the bot's own training data

Answers: the 243 questions of tests/knowledge/questions.yml (written from the shop's description before and apart
from the articles, labelled with a topic of tests/knowledge/topics.yml or `not-covered`) go to the search's rule
(knowledge/service.py `decide`). A covered question is answered right when the article answered from lists its
topic; a not-covered one answered at all is a wrong answer.

The FAQ selector: the trained NLU model parses each question (in Rasa's virtualenv, scripts/parse_messages.py).
Before: what the bot did with a `faq` intent until now, answer the selector's pick whatever it was (its FAQ key's
article stands for its scripted answer). After: the same questions through the rule the bot now applies
(`decide(question, faq_key)`), which answers the pick only when the search agrees with it confidently.

Speed: `decide` per question (encoding the question, the revision check and the search), p50/p95, on a help centre
of 100 and of 10,000 articles. The extra articles are made from the real ones' sections, with embeddings near
their source sections' (their content does not change how long a search takes; embedding 70,000 passages in
NumPy would take over an hour).

--tune reads tests/knowledge/tuning.yml (240 questions written apart from the articles and from the evaluation
questions, for this purpose) and prints, for each weight and penalty, the threshold that answers at most 3% of its
not-covered questions and the share of covered ones then answered right.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from crm_adapter.sql.db import make_engine, make_session_factory, upgrade  # noqa: E402
from knowledge import search  # noqa: E402
from knowledge.encoder import ENCODER_FINGERPRINT, encoder  # noqa: E402
from knowledge.rows import ArticleRow, PassageRow  # noqa: E402
from knowledge.service import Knowledge, open_help_centre  # noqa: E402
from knowledge.store import text_sha  # noqa: E402

QUESTIONS = ROOT / "tests" / "knowledge" / "questions.yml"
TUNING = ROOT / "tests" / "knowledge" / "tuning.yml"
ARTICLES = ROOT / "data" / "knowledge"


@dataclass
class Score:
    covered: int = 0
    right: int = 0
    wrong_article: int = 0
    not_covered: int = 0
    answered_anyway: int = 0

    def add(self, topic: str, answered_topics: tuple[str, ...] | None) -> None:
        if topic == "not-covered":
            self.not_covered += 1
            self.answered_anyway += answered_topics is not None
        else:
            self.covered += 1
            if answered_topics is not None:
                if topic in answered_topics:
                    self.right += 1
                else:
                    self.wrong_article += 1

    def as_dict(self) -> dict[str, float | int]:
        return {
            "covered_questions": self.covered,
            "right_answers": self.right,
            "right_share": round(self.right / max(self.covered, 1), 3),
            "answered_from_another_article": self.wrong_article,
            "not_covered_questions": self.not_covered,
            "answered_anyway": self.answered_anyway,
            "wrong_share": round(self.answered_anyway / max(self.not_covered, 1), 3),
        }


def knowledge_on(url: str) -> Knowledge:
    upgrade(url)
    sessions = make_session_factory(make_engine(url))
    knowledge = open_help_centre(sessions, "http://shop.test/help", cache_dir=ROOT / "models")
    report = knowledge.store.import_directory(ARTICLES, by="benchmark")
    if report.errors:
        raise SystemExit(f"articles that do not parse: {report.errors}")
    return knowledge


def topics_of(knowledge: Knowledge) -> dict[str, tuple[str, ...]]:
    return {a.slug: a.topics for a in knowledge.store.published()}


def answers(knowledge: Knowledge, questions: list[dict[str, str]], faq_keys: list[str | None] | None = None) -> Score:
    topics, score = topics_of(knowledge), Score()
    for i, q in enumerate(questions):
        _, decided, _ = knowledge.decide(q["text"], faq_keys[i] if faq_keys else None)
        score.add(q["topic"], topics[decided.slug] if decided.answered and decided.slug else None)
    return score


def parse_with_rasa(texts: list[str]) -> list[dict[str, object]]:
    """Intent, confidence and the FAQ selector's pick of each text, by the trained model (Rasa's virtualenv)."""
    model = subprocess.run(
        [str(ROOT / ".venvs/app/bin/python"), "-m", "hearth", "model-path"], capture_output=True, text=True, check=True
    ).stdout.strip()
    if not Path(model).is_file():
        raise SystemExit(f"no trained model at {model}: run `python -m hearth train` first")
    done = subprocess.run(
        [str(ROOT / ".venvs/rasa/bin/python"), str(ROOT / "scripts/parse_messages.py"), model],
        input=json.dumps(texts),
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return list(json.loads(done.stdout.strip().splitlines()[-1]))  # Rasa logs to stdout too: the result is last


def faq_selector(knowledge: Knowledge, questions: list[dict[str, str]]) -> dict[str, object]:
    parsed = parse_with_rasa([q["text"] for q in questions])
    faq_article = {key: a.topics for a in knowledge.store.published() for key in a.faq}
    picked = [p["faq_key"] if p["intent"] == "faq" else None for p in parsed]
    before, after = Score(), Score()
    topics = topics_of(knowledge)
    for q, key in zip(questions, picked, strict=True):
        before.add(q["topic"], faq_article.get(str(key), ()) if key else None)
        if key:
            _, decided, _ = knowledge.decide(q["text"], str(key))
            after.add(q["topic"], topics[decided.slug] if decided.answered and decided.slug else None)
        else:
            after.add(q["topic"], None)
    intents: dict[str, int] = {}
    for p in parsed:
        intents[str(p["intent"])] = intents.get(str(p["intent"]), 0) + 1
    # The bot as a whole: what the NLU sends to the help centre (a FAQ, out of scope, not understood) gets its
    # rule; the rest goes to a scripted flow (an order's status, a return...), counted apart.
    bot, flows = Score(), {"covered": 0, "not_covered": 0}
    for q, p in zip(questions, parsed, strict=True):
        if p["intent"] in ("faq", "out_of_scope", "nlu_fallback"):
            key = str(p["faq_key"]) if p["intent"] == "faq" and p["faq_key"] else None
            _, decided, _ = knowledge.decide(q["text"], key)
            bot.add(q["topic"], topics[decided.slug] if decided.answered and decided.slug else None)
        else:
            flows["not_covered" if q["topic"] == "not-covered" else "covered"] += 1
    return {
        "questions_the_nlu_calls_faq": sum(k is not None for k in picked),
        "intents": dict(sorted(intents.items(), key=lambda kv: -kv[1])),
        "before": before.as_dict(),
        "after": after.as_dict(),
        "bot_help_centre_answers": bot.as_dict(),
        "bot_scripted_flows": flows,
    }


def grow(knowledge: Knowledge, url: str, articles: int, rng: random.Random) -> None:
    """Adds articles made of the real ones' sections (shuffled sentences) until there are `articles`, with
    embeddings near their source passages', straight into the database."""
    store = knowledge.store
    real = store.snapshot()
    have = len(store.published())
    sessions = make_session_factory(make_engine(url))
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    with sessions.begin() as s:
        for n in range(have, articles):
            row = ArticleRow(
                slug=f"extra-{n}", title=f"More help {n}", summary="More help.", body="More help.", topics=[],
                tags=[], faq=[], questions=[], last_reviewed=None, status="published", source="file",
                proposed_from=None, updated_by="benchmark", created_at=now, updated_at=now,
            )  # fmt: skip
            s.add(row)
            s.flush()
            for position in range(7):
                source = rng.randrange(len(real.entries))
                sentences = real.entries[source].passage.text.split(". ")
                rng.shuffle(sentences)
                text = ". ".join(sentences)
                vector = real.vectors[source] + np.float32(0.15) * rng_vector(rng)
                vector /= np.linalg.norm(vector)
                s.add(
                    PassageRow(
                        article_id=row.id, position=position, kind="section", heading=f"Part {position}", text=text,
                        text_sha=text_sha(f"{n}-{position}-{text}"), encoder=ENCODER_FINGERPRINT,
                        embedding=vector.astype(np.float32).tobytes(),
                    )
                )  # fmt: skip
    store.touch()  # the revision moves: the index is rebuilt from the database


def rng_vector(rng: random.Random) -> np.ndarray:
    return np.array([rng.gauss(0, 1) for _ in range(384)], dtype=np.float32) / np.float32(np.sqrt(384))


def speed(knowledge: Knowledge, questions: list[dict[str, str]]) -> dict[str, float | int]:
    started = time.perf_counter()
    knowledge.index.current()  # the rebuild after the change, timed apart
    rebuild_ms = (time.perf_counter() - started) * 1000
    for q in questions[:5]:
        knowledge.decide(q["text"])  # warm up
    timings = []
    for q in questions:
        started = time.perf_counter()
        knowledge.decide(q["text"])
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    encode = []
    for q in questions[:100]:
        started = time.perf_counter()
        encoder().encode([q["text"]])
        encode.append((time.perf_counter() - started) * 1000)
    return {
        "articles": len(knowledge.store.published()),
        "passages": len(knowledge.index.current()),
        "index_rebuild_ms": round(rebuild_ms, 1),
        "p50_ms": round(statistics.median(timings), 1),
        "p95_ms": round(timings[int(0.95 * (len(timings) - 1))], 1),
        "encode_question_p50_ms": round(statistics.median(encode), 1),
    }


def tune() -> int:
    """For each weight and penalty, the lowest threshold that answers at most 3% of the tuning set's not-covered
    questions, and the share of covered ones it then answers right."""
    tuning = yaml.safe_load(TUNING.read_text())["questions"]
    covered = np.array([q["topic"] != "not-covered" for q in tuning])
    with tempfile.TemporaryDirectory() as tmp:
        knowledge = knowledge_on(f"sqlite:///{tmp}/tune.db")
        index, topics = knowledge.index.current(), topics_of(knowledge)
        vectors = encoder().encode([q["text"] for q in tuning])
        dense = vectors @ index.vectors.T  # questions x passages
        lexical = np.stack([index.lexical(q["text"]) for q in tuning])
        unseen = np.array([index.unseen(q["text"]) for q in tuning])
        slugs = sorted({e.passage.slug for e in index.entries})
        column = np.array([slugs.index(e.passage.slug) for e in index.entries])
        for weight in (0.6, 0.7, 0.8, 0.9, 1.0):
            hybrid = weight * dense + (1 - weight) * lexical
            per_article = np.stack([hybrid[:, column == j].max(axis=1) for j in range(len(slugs))], axis=1)
            best, score = per_article.argmax(axis=1), per_article.max(axis=1)
            right = np.array(
                [c and q["topic"] in topics[slugs[b]] for q, b, c in zip(tuning, best, covered, strict=True)]
            )
            for penalty in (0.0, 0.2, 0.3, 0.5):
                confidence = score - penalty * unseen
                negatives = np.sort(confidence[~covered])[::-1]
                threshold = float(negatives[int(0.03 * len(negatives))]) + 1e-6
                answered = confidence >= threshold
                right_share = (answered & right).sum() / covered.sum()
                wrong_share = (answered & ~covered).sum() / (~covered).sum()
                print(
                    f"weight {weight} penalty {penalty}: threshold {threshold:.3f}, right {right_share:.3f}, "
                    f"wrong {wrong_share:.3f} (best article right for {right[covered].mean():.3f} of the covered)"
                )
    print(f"{len(tuning)} tuning questions ({covered.sum()} covered)")
    return 0


def main() -> int:
    args = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    args.add_argument("--json", type=Path, help="write the results here")
    args.add_argument("--tune", action="store_true")
    args.add_argument("--no-nlu", action="store_true", help="skip the FAQ selector (needs the trained model)")
    args.add_argument("--no-speed", action="store_true", help="skip the timings")
    args.add_argument("--questions", type=Path, default=QUESTIONS, help="another labelled set (e.g. tuning.yml)")
    opts = args.parse_args()
    if opts.tune:
        return tune()
    questions = yaml.safe_load(opts.questions.read_text())["questions"]
    rng = random.Random(20261207)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        knowledge = knowledge_on(url)
        result: dict[str, object] = {
            "measured": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
            "commit": subprocess.run(
                ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
            ).stdout.strip(),  # fmt: skip
            "questions": len(questions),
            "articles": len(knowledge.store.published()),
            "settings": {
                "dense_weight": search.DENSE_WEIGHT,
                "answer_threshold": search.ANSWER_THRESHOLD,
                "unseen_penalty": search.UNSEEN_PENALTY,
            },  # fmt: skip
            "search": answers(knowledge, questions).as_dict(),
        }
        print("search:", json.dumps(result["search"]))
        if not opts.no_nlu:
            result["faq_selector"] = faq_selector(knowledge, questions)
            print("FAQ selector:", json.dumps(result["faq_selector"]))
        timings = []
        for size in () if opts.no_speed else (100, 10_000):
            grow(knowledge, url, size, rng)
            timings.append(speed(knowledge, questions))
            print("speed:", json.dumps(timings[-1]))
        if timings:
            result["speed"] = timings
    if opts.json:
        opts.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
