"""Answering from the help centre, and what the team learns from the questions asked of it.

`answer` is the conversation's one entry: a question the intents do not cover (out of scope, not understood), or a
scripted FAQ pick, is answered from the best article only when the match is confident (knowledge/search.py); the
FAQ's pick is held to the same rule, so the selector's confident-but-wrong guesses ("do you sell gift cards?" ->
payment methods) give way to the article that does answer, or to an honest "I don't know".
Every question is recorded (knowledge_questions) with what was answered, for analytics and the gaps page.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from crm_adapter.rules import utcnow
from knowledge.articles import Article, ArticleError, Passage, check, short_answer
from knowledge.index import LiveIndex
from knowledge.search import Hit
from knowledge.store import AskedQuestion, KnowledgeStore, Saved

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

# The FAQ's article is answered with when it passes the search's rule and scores within this of the best article;
# or, when it is the search's best article too (two independent signals agree), from this lower confidence.
FAQ_MARGIN = 0.05
FAQ_AGREED_THRESHOLD = 0.5
SUGGEST_FLOOR = 0.35  # the least confidence an article is suggested to an agent with (the bot answers at 0.585)
# Questions whose embeddings are at least this similar (cosine) fall in one group on the gaps page.
GAP_SIMILARITY = 0.55


@dataclass(frozen=True)
class KnowledgeAnswer:
    answered: bool
    question_id: int | None
    slug: str | None = None
    title: str | None = None
    text: str | None = None
    url: str | None = None
    score: float = 0.0
    via: str = "search"  # faq | search


@dataclass(frozen=True)
class Suggestion:
    """An article an agent might send: its best passage, cut short, and how sure the search is."""

    slug: str
    title: str
    text: str
    url: str
    confidence: float
    confident: bool  # it passes the rule the bot answers by


@dataclass(frozen=True)
class GapExample:
    question_id: int
    text: str
    sender_id: str
    created_at: datetime
    why: str  # not answered | not helpful (<slug>)


@dataclass(frozen=True)
class Gap:
    """Questions alike in meaning that the help centre did not answer well, most asked first."""

    count: int
    label: str  # the question nearest the group's centre
    examples: list[GapExample]


class Knowledge:
    def __init__(
        self,
        store: KnowledgeStore,
        index: LiveIndex,
        embed: Callable[[list[str]], np.ndarray],
        help_url: str,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self.index = index
        self._embed = embed
        self._help_url = help_url.rstrip("/")
        self._now = clock

    def url(self, slug: str) -> str:
        return f"{self._help_url}/{slug}"

    def search(self, question: str, limit: int = 5) -> tuple[np.ndarray, list[Hit]]:
        vector = self._embed([question])[0]
        return vector, self.index.search(question, vector, limit)

    def decide(self, question: str, faq_key: str | None = None) -> tuple[np.ndarray, KnowledgeAnswer, Hit | None]:
        """What to answer, without recording it (the benchmark's and the conversation's one rule)."""
        vector, hits = self.search(question, limit=50 if faq_key else 5)
        best = hits[0] if hits else None
        if faq_key:
            article = self.store.faq_article(faq_key)
            mine = next((h for h in hits if article and h.slug == article.slug), None)
            agreed = mine is not None and mine is best and mine.confidence >= FAQ_AGREED_THRESHOLD
            close = mine is not None and mine.confident and best is not None and mine.score >= best.score - FAQ_MARGIN
            if article and mine and (agreed or close):
                summary = Passage(article.slug, 0, article.title, article.summary)
                return vector, self._answer(mine, summary, "faq"), best
        if best and best.confident:
            return vector, self._answer(best, best.passage, "search"), best
        unanswered = KnowledgeAnswer(
            False,
            None,
            best.slug if best else None,
            score=best.confidence if best else 0.0,
            via="faq" if faq_key else "search",
        )
        return vector, unanswered, best

    def suggest(self, question: str, limit: int = 3, floor: float = SUGGEST_FLOOR) -> list[Suggestion]:
        """Articles for an agent to consider for the customer's message, best first: a lower bar than the bot's
        (an agent reads before sending), nothing below `floor`. Nothing is recorded."""
        if not question.strip():
            return []
        _, hits = self.search(question, limit)
        return [
            Suggestion(h.slug, h.title, short_answer(h.passage), self.url(h.slug), round(h.confidence, 3), h.confident)
            for h in hits
            if h.confidence >= floor
        ]

    def _answer(self, hit: Hit, passage: Passage, via: str) -> KnowledgeAnswer:
        return KnowledgeAnswer(
            True, None, hit.slug, hit.title, short_answer(passage), self.url(hit.slug), round(hit.confidence, 3), via
        )

    def answer(
        self,
        question: str,
        *,
        sender_id: str,
        channel: str,
        customer_id: str | None = None,
        faq_key: str | None = None,
    ) -> KnowledgeAnswer:
        vector, decided, _ = self.decide(question, faq_key)
        question_id = self.store.record_question(
            sender_id=sender_id,
            channel=channel,
            customer_id=customer_id,
            text=question,
            embedding=vector,
            via=decided.via,
            answered=decided.answered,
            slug=decided.slug,
            score=decided.score,
        )
        return replace(decided, question_id=question_id)

    def feedback(self, question_id: int, helpful: bool) -> bool:
        return self.store.set_helpful(question_id, helpful)

    def handed_off(self, question_id: int) -> None:
        self.store.mark_handed_off(question_id)

    # ---- the team's side ----------------------------------------------------------

    def gaps(self, days: int = 30, limit: int = 50) -> list[Gap]:
        """Unanswered and unhelpfully answered questions of the last `days`, grouped by meaning (average-linkage
        clustering of their embeddings, cut at GAP_SIMILARITY), biggest group first."""
        asked = self.store.questions(self._now() - timedelta(days=days))
        return group(asked, limit=limit)

    def propose(self, question: str, answer: str, *, conversation: str, agent: str) -> Saved:
        """An agent's answer to a question as a draft article for review: never published by this."""
        title = " ".join(question.split())[:150].rstrip("?.! ") + "?"
        base = "-".join(re.findall(r"[a-z0-9]+", question.lower())[:8]) or "answer"
        slug, n = base[:70], 2
        while self.store.get(slug) is not None:
            slug, n = f"{base[:66]}-{n}", n + 1
        body = answer.strip()
        summary = short_answer(Passage(slug, 0, title, " ".join(body.split())), limit=300)
        draft = check(Article(slug=slug, title=title, summary=summary, body=body, status="draft"))
        return self.store.save(draft, source="agent", by=agent, proposed_from=conversation, create_only=True)

    def save(self, article: Article, *, by: str, create: bool = False) -> Saved:
        return self.store.save(article, by=by, create_only=create)


def open_help_centre(
    sessions: sessionmaker[Session],
    help_url: str,
    *,
    clock: Callable[[], datetime] = utcnow,
    cache_dir: Path | None = None,
) -> Knowledge:
    """The help centre on a database: its store, this process's index and the action server's encoder (loaded on
    first use). The composition root, the tests and the benchmark build it here."""
    from knowledge.encoder import ENCODER_FINGERPRINT, encoder

    def embed(texts: list[str]) -> np.ndarray:
        return encoder().encode(texts)

    store = KnowledgeStore(sessions, embed, ENCODER_FINGERPRINT, clock=clock, cache_dir=cache_dir)
    return Knowledge(store, LiveIndex(store), embed, help_url, clock=clock)


def group(asked: list[AskedQuestion], limit: int = 50, similarity: float = GAP_SIMILARITY) -> list[Gap]:
    if not asked:
        return []
    vectors = np.stack([q.embedding for q in asked]).astype(np.float64)
    if len(asked) == 1:
        labels = np.array([1])
    else:
        from scipy.cluster.hierarchy import fcluster, linkage

        tree = linkage(vectors, method="average", metric="cosine")
        labels = fcluster(tree, t=1.0 - similarity, criterion="distance")
    gaps = []
    for label in set(labels.tolist()):
        members = [i for i, value in enumerate(labels) if value == label]
        centre = vectors[members].mean(axis=0)
        nearest = max(members, key=lambda i: float(vectors[i] @ centre))
        examples = [
            GapExample(
                asked[i].question_id,
                asked[i].text,
                asked[i].sender_id,
                asked[i].created_at,
                "not answered" if not asked[i].answered else f"not helpful ({asked[i].slug})",
            )
            for i in members
        ]
        gaps.append(Gap(len(members), asked[nearest].text, examples))
    gaps.sort(key=lambda g: (-g.count, -max(e.created_at.timestamp() for e in g.examples)))
    return gaps[:limit]


__all__ = ["ArticleError", "Gap", "Knowledge", "KnowledgeAnswer", "group"]
