"""The help centre's search: BM25 over word stems and the sentence encoder's cosine, mixed into one score.

Pure: built from passages and their embeddings (the store keeps both; knowledge/index.py keeps one per process).

- Lexical: Okapi BM25 (k1 1.2, b 0.75) over Snowball stems, stop words out. The raw score is divided by the
  most the query's words could score, where a word no passage has counts with the highest weight, so a question
  about something the help centre never mentions ("mattress") scores low even if its other words match.
- Dense: the cosine between the question's and the passage's all-MiniLM-L6-v2 embeddings (both L2-normalised).
- Hybrid: DENSE_WEIGHT x dense + (1 - DENSE_WEIGHT) x lexical, per passage; an article scores its best passage
  (a customer's question it lists counts: question-to-question similarity is what the encoder does best).

An answer is given only when the best article's confidence reaches ANSWER_THRESHOLD: its hybrid score less
UNSEEN_PENALTY times the share of the question's words that no article has ("mattress", "ikea": a question about
something the help centre never mentions is more likely not covered, however close its other words are). A
confidently wrong answer is the worst outcome, so below that the bot says it does not know. The weights and the
threshold were chosen on tests/knowledge/tuning.yml (scripts/bench_knowledge.py --tune: the most right answers with
at most 3% of not-covered questions answered), never on the evaluation questions (tests/knowledge/questions.yml).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.sparse import csc_matrix

from knowledge.articles import Passage

K1, B = 1.2, 0.75
DENSE_WEIGHT = 0.8
UNSEEN_PENALTY = 0.3
ANSWER_THRESHOLD = 0.585

STOP_WORDS = frozenset(
    """a about above after again all am an and any are as at be been before being below between both but by can
    could did do does doing down during each few for from further had has have having he her here hers him his how
    i if in into is it its itself just me more most my myself no nor not now of off on once only or other our ours
    out over own same she should so some such than that the their theirs them then there these they this those
    through to too under until up very was we were what when where which while who whom why will with would you
    your yours yourself hi hello hey please thanks thank pls plz im ive id dont cant wont u ur r juno juniper home
    s t d ll m re ve""".split()
)
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


@lru_cache(maxsize=1)
def _stemmer():  # type: ignore[no-untyped-def]
    import snowballstemmer

    return snowballstemmer.stemmer("english")


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """One word's Snowball stem, remembered: a help centre has thousands of words but millions of occurrences."""
    return str(_stemmer().stemWord(word))


def terms(text: str) -> list[str]:
    """The stems BM25 counts: lower case, apostrophes' endings off, stop words out."""
    words = [w.split("'")[0] for w in _WORD.findall(text.lower())]
    return [stem(w) for w in words if w not in STOP_WORDS and len(w) > 1]


def _unique(stems: list[str]) -> list[str]:
    return list(dict.fromkeys(stems))


@dataclass(frozen=True)
class Entry:
    """A passage as the index holds it, with its article's title and link."""

    passage: Passage
    title: str


@dataclass(frozen=True)
class Hit:
    slug: str
    title: str
    passage: Passage
    score: float  # the hybrid score of the article's best passage
    dense: float
    lexical: float
    unseen: float = 0.0  # the share of the question's words that no article has

    @property
    def confidence(self) -> float:
        return self.score - UNSEEN_PENALTY * self.unseen

    @property
    def confident(self) -> bool:
        return self.confidence >= ANSWER_THRESHOLD


class SearchIndex:
    """BM25 weights (passages x stems, sparse) and embeddings (passages x 384) of one help centre."""

    def __init__(self, entries: Sequence[Entry], vectors: np.ndarray) -> None:
        if len(entries) != len(vectors):
            raise ValueError(f"{len(entries)} passages but {len(vectors)} embeddings")
        self.entries = list(entries)
        self._by_article: dict[str, list[int]] = {}  # an article's quotable passages
        for i, entry in enumerate(self.entries):
            if entry.passage.kind != "question":
                self._by_article.setdefault(entry.passage.slug, []).append(i)
        width = vectors.shape[-1] if vectors.ndim == 2 else 384
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(entries), width)
        docs = [terms(e.passage.search_text(e.title)) for e in self.entries]
        self.vocabulary: dict[str, int] = {}
        rows, cols, counts = [], [], []
        for row, doc in enumerate(docs):
            tally: dict[int, int] = {}
            for term in doc:
                col = self.vocabulary.setdefault(term, len(self.vocabulary))
                tally[col] = tally.get(col, 0) + 1
            for col, count in tally.items():
                rows.append(row)
                cols.append(col)
                counts.append(count)
        n = max(len(docs), 1)
        lengths = np.array([len(d) for d in docs] or [0], dtype=np.float32)
        average = float(lengths.mean()) or 1.0
        document_frequency = np.bincount(np.array(cols, dtype=np.int64), minlength=len(self.vocabulary))
        self.idf = np.log(1.0 + (n - document_frequency + 0.5) / (document_frequency + 0.5)).astype(np.float32)
        self.unseen_idf = float(math.log(1.0 + (n + 0.5) / 0.5))
        tf = np.array(counts, dtype=np.float32)
        norm = K1 * (1 - B + B * lengths[np.array(rows, dtype=np.int64)] / average) if rows else tf
        weights = self.idf[np.array(cols, dtype=np.int64)] * tf * (K1 + 1) / (tf + norm) if rows else tf
        self.weights = csc_matrix((weights, (rows, cols)), shape=(len(docs), len(self.vocabulary)), dtype=np.float32)

    def __len__(self) -> int:
        return len(self.entries)

    def unseen(self, query: str) -> float:
        """The share of the query's stems that no passage has (1 for a query of stop words only)."""
        return self._unseen(_unique(terms(query)))

    def lexical(self, query: str) -> np.ndarray:
        """Each passage's BM25 score over the most the query's stems could score (0 to 1)."""
        return self._lexical(_unique(terms(query)))

    def _unseen(self, stems: list[str]) -> float:
        return sum(t not in self.vocabulary for t in stems) / len(stems) if stems else 1.0

    def _lexical(self, stems: list[str]) -> np.ndarray:
        found = [self.vocabulary[t] for t in stems if t in self.vocabulary]
        best = (float(self.idf[found].sum()) + self.unseen_idf * (len(stems) - len(found))) * (K1 + 1)
        if not found or best <= 0 or not len(self.entries):
            return np.zeros(len(self.entries), dtype=np.float32)
        scores = np.asarray(self.weights[:, found].sum(axis=1)).ravel()
        return (scores / best).astype(np.float32)

    def search(self, query: str, query_vector: np.ndarray, limit: int = 5) -> list[Hit]:
        """The `limit` best articles, best first: each scores its best passage (a question it answers counts) and
        is quoted by its best summary or section."""
        if not self.entries:
            return []
        stems = _unique(terms(query))  # once per question: both the BM25 score and the unseen share read them
        dense = self.vectors @ np.asarray(query_vector, dtype=np.float32).ravel()
        lexical = self._lexical(stems)
        hybrid = DENSE_WEIGHT * dense + (1 - DENSE_WEIGHT) * lexical
        pool = min(len(hybrid), max(limit * 40, 400))  # enough passages for `limit` different articles
        candidates = np.argpartition(-hybrid, pool - 1)[:pool] if pool < len(hybrid) else np.arange(len(hybrid))
        best: dict[str, int] = {}
        for i in candidates[np.argsort(-hybrid[candidates], kind="stable")]:
            slug = self.entries[int(i)].passage.slug
            if slug not in best:
                if len(best) == limit:
                    break
                best[slug] = int(i)
        unseen = self._unseen(stems)
        hits = []
        for slug, i in best.items():
            quoted = self._quotable(slug, hybrid)
            entry = self.entries[i]
            hits.append(Hit(slug, entry.title, quoted, float(hybrid[i]), float(dense[i]), float(lexical[i]), unseen))
        return hits

    def _quotable(self, slug: str, hybrid: np.ndarray) -> Passage:
        """The article's best-scoring summary or section."""
        rows = self._by_article.get(slug) or [0]
        return self.entries[max(rows, key=lambda i: float(hybrid[i]))].passage
