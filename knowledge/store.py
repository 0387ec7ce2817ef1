"""The help centre on the CRM database: articles, their passages with embeddings, the revision every process's
search index follows, and the questions asked of it.

Embeddings are made when an article is saved, once: a passage whose text and encoder are unchanged keeps its
embedding (looked up by the text's SHA-256), so re-importing an unchanged help centre embeds nothing, and editing
one section embeds that section only.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from crm_adapter.rules import utcnow
from crm_adapter.sql.db import unit_of_work
from history.projector import remembers
from knowledge.articles import Article, ArticleError, Passage, check, dump, parse, passages
from knowledge.rows import ArticleRow, KnowledgeStateRow, PassageRow, QuestionRow
from knowledge.search import Entry

Embed = Callable[[list[str]], np.ndarray]


def text_sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ArticleInfo:
    """An article in the console's list."""

    slug: str
    title: str
    summary: str
    status: str
    source: str
    topics: tuple[str, ...]
    updated_at: datetime
    updated_by: str | None
    proposed_from: str | None


@dataclass(frozen=True)
class Saved:
    slug: str
    result: str  # created | updated | unchanged
    embedded: int  # passages embedded now (the others kept theirs)


@dataclass
class ImportReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)  # file name, what is wrong
    embedded: int = 0


@dataclass(frozen=True)
class Snapshot:
    """What a search index is built from: the published passages at one revision."""

    revision: int
    entries: list[Entry]
    vectors: np.ndarray


@dataclass(frozen=True)
class ArticleFigures:
    slug: str
    answers: int
    helpful: int
    not_helpful: int
    handed_off: int
    not_helpful_without_handoff: int = 0

    @property
    def deflected(self) -> int:
        """Answers after which nobody needed a person and the customer did not say it failed to help."""
        return self.answers - self.handed_off - self.not_helpful_without_handoff


@dataclass(frozen=True)
class KnowledgeFigures:
    """The help centre in a date range (and on one channel): what was asked of it and how it went."""

    questions: int
    by_article: list[ArticleFigures]  # every answer given, by the article it came from

    @property
    def answered(self) -> int:
        return sum(a.answers for a in self.by_article)

    @property
    def helpful(self) -> int:
        return sum(a.helpful for a in self.by_article)

    @property
    def not_helpful(self) -> int:
        return sum(a.not_helpful for a in self.by_article)

    @property
    def handed_off_after_answer(self) -> int:
        return sum(a.handed_off for a in self.by_article)

    @property
    def unanswered(self) -> int:
        return self.questions - self.answered

    @property
    def helpfulness(self) -> float | None:
        """Yes out of the answers to "did that answer your question?"."""
        rated = self.helpful + self.not_helpful
        return self.helpful / rated if rated else None

    @property
    def deflection(self) -> float | None:
        """Answered without a person afterwards and not said to be unhelpful, out of the answers given."""
        return sum(a.deflected for a in self.by_article) / self.answered if self.answered else None


@dataclass(frozen=True)
class AskedQuestion:
    question_id: int
    created_at: datetime
    sender_id: str
    text: str
    embedding: np.ndarray
    answered: bool
    slug: str | None
    helpful: bool | None
    handed_off: bool = False


def to_article(row: ArticleRow) -> Article:
    return Article(
        slug=row.slug,
        title=row.title,
        summary=row.summary,
        body=row.body,
        topics=tuple(row.topics or ()),
        tags=tuple(row.tags or ()),
        faq=tuple(row.faq or ()),
        last_reviewed=row.last_reviewed,
        status=row.status,
        questions=tuple(row.questions or ()),
    )


class KnowledgeStore:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        embed: Embed,
        encoder: str,
        clock: Callable[[], datetime] = utcnow,
        cache_dir: Path | None = None,
    ) -> None:
        self._sessions = sessions
        self._embed = embed
        self._encoder = encoder
        self._now = clock
        self._cache_dir = cache_dir  # where an imported directory's embeddings are kept, by its fingerprint

    # ---- articles -------------------------------------------------------

    def get(self, slug: str) -> Article | None:
        with unit_of_work(self._sessions) as s:
            row = s.scalar(select(ArticleRow).where(ArticleRow.slug == slug))
            return to_article(row) if row else None

    def info(self, slug: str) -> ArticleInfo | None:
        with unit_of_work(self._sessions) as s:
            row = s.scalar(select(ArticleRow).where(ArticleRow.slug == slug))
            return _info(row) if row else None

    def listing(self, query: str = "", status: str | None = None, limit: int = 500) -> list[ArticleInfo]:
        """Articles whose title, slug, summary or text has `query`, newest change first."""
        with unit_of_work(self._sessions) as s:
            stmt = select(ArticleRow).order_by(ArticleRow.updated_at.desc(), ArticleRow.id.desc()).limit(limit)
            if status:
                stmt = stmt.where(ArticleRow.status == status)
            words = query.strip()
            if words:
                like = f"%{words.lower()}%"
                stmt = stmt.where(
                    or_(
                        func.lower(ArticleRow.title).like(like),
                        ArticleRow.slug.like(like),
                        func.lower(ArticleRow.summary).like(like),
                        func.lower(ArticleRow.body).like(like),
                    )
                )
            return [_info(row) for row in s.scalars(stmt)]

    def published(self) -> list[Article]:
        with unit_of_work(self._sessions) as s:
            rows = s.scalars(select(ArticleRow).where(ArticleRow.status == "published").order_by(ArticleRow.title))
            return [to_article(r) for r in rows]

    def faq_article(self, key: str) -> Article | None:
        """The published article that gives the scripted FAQ answer `key` (e.g. shipping_times)."""
        with unit_of_work(self._sessions) as s:
            listed = s.execute(
                select(ArticleRow.id, ArticleRow.faq).where(ArticleRow.status == "published").order_by(ArticleRow.id)
            ).all()  # two small columns: the bodies stay in the database
            found = next((row_id for row_id, keys in listed if key in (keys or ())), None)
            return to_article(s.get_one(ArticleRow, found)) if found is not None else None

    def save(
        self,
        article: Article,
        *,
        source: str = "console",
        by: str | None = None,
        proposed_from: str | None = None,
        create_only: bool = False,
        embedded: dict[str, bytes] | None = None,
    ) -> Saved:
        """Creates or replaces the article `article.slug`; a published one gets its passages (and embeddings:
        those of `embedded`, by text SHA-256, or stored already, are not made again)."""
        article = check(article)
        with unit_of_work(self._sessions) as s:
            row = s.scalar(select(ArticleRow).where(ArticleRow.slug == article.slug))
            if row is not None and create_only:
                raise ArticleError(f"an article with the address {article.slug!r} already exists")
            if row is not None and to_article(row) == article:
                return Saved(article.slug, "unchanged", 0)
            now = self._now()
            result = "updated" if row is not None else "created"
            if row is None:
                row = ArticleRow(slug=article.slug, source=source, created_at=now, proposed_from=proposed_from)
                s.add(row)
            row.title, row.summary, row.body = article.title, article.summary, article.body
            row.topics, row.tags, row.faq = list(article.topics), list(article.tags), list(article.faq)
            row.questions = list(article.questions)
            row.last_reviewed, row.status = article.last_reviewed, article.status
            row.updated_at, row.updated_by = now, by
            s.flush()
            made = self._replace_passages(s, row, article, embedded or {})
            self._bump(s)
        return Saved(article.slug, result, made)

    def set_status(self, slug: str, status: str, *, by: str | None = None) -> Article:
        article = self.get(slug)
        if article is None:
            raise ArticleError(f"there is no article {slug!r}")
        self.save(article.with_status(status), by=by)
        return article.with_status(status)

    def import_directory(self, directory: Path, *, by: str | None = None) -> ImportReport:
        """Every `*.md` of `directory` in (created or updated where it differs); a file that does not parse is
        reported and changes nothing."""
        report = ImportReport()
        parsed: list[Article] = []
        for path in sorted(directory.glob("*.md")):
            try:
                article = parse(path.read_text(encoding="utf-8"))
                if article.slug != path.stem:
                    raise ArticleError(f"the slug {article.slug!r} differs from the file name")
                parsed.append(article)
            except (ArticleError, UnicodeDecodeError) as exc:
                report.errors.append((path.name, str(exc)))
        embedded, report.embedded = self._embed_all(parsed)
        for article in parsed:
            saved = self.save(article, source="file", by=by, embedded=embedded)
            getattr(report, saved.result).append(saved.slug)
        return report

    def _embed_all(self, articles: list[Article]) -> tuple[dict[str, bytes], int]:
        """Embeddings of every passage of `articles` in one batch, except those stored already or in the cache file
        of this exact set of passages (models/knowledge-<fingerprint>.npz: a fresh database seeded from unchanged
        files embeds nothing)."""
        texts = {text_sha(t): t for a in articles if a.status == "published" for t in _texts(a)}
        fingerprint = text_sha(self._encoder + "|" + ",".join(sorted(texts)))[:16]
        cache = self._cache_dir / f"knowledge-{fingerprint}.npz" if self._cache_dir else None
        found: dict[str, bytes] = {}
        if cache is not None and cache.is_file():
            with np.load(cache) as stored:
                found = {sha: stored[sha].astype(np.float32).tobytes() for sha in stored.files if sha in texts}
        with unit_of_work(self._sessions) as s:
            for sha, embedding in s.execute(
                select(PassageRow.text_sha, PassageRow.embedding).where(
                    PassageRow.text_sha.in_(set(texts) - set(found)), PassageRow.encoder == self._encoder
                )
            ).tuples():
                found[sha] = embedding
        todo = [sha for sha in texts if sha not in found]
        if todo:
            for sha, vector in zip(todo, self._embed([texts[sha] for sha in todo]), strict=True):
                found[sha] = _bytes(vector)
        if cache is not None and (todo or not cache.is_file()):
            cache.parent.mkdir(parents=True, exist_ok=True)
            partial = cache.with_suffix(".tmp.npz")
            arrays = {sha: np.frombuffer(found[sha], dtype=np.float32) for sha in texts}
            np.savez(partial, **arrays)  # type: ignore[arg-type]  # numpy's stub reads ** as allow_pickle
            partial.replace(cache)
            for old in sorted(cache.parent.glob("knowledge-*.npz"), key=lambda p: p.stat().st_mtime)[:-3]:
                old.unlink(missing_ok=True)
        return found, len(todo)

    def export_directory(self, directory: Path) -> list[Path]:
        """Every article (drafts and unpublished ones too, marked so) as `<slug>.md`."""
        directory.mkdir(parents=True, exist_ok=True)
        with unit_of_work(self._sessions) as s:
            articles = [to_article(r) for r in s.scalars(select(ArticleRow).order_by(ArticleRow.slug))]
        written = []
        for article in articles:
            path = directory / f"{article.slug}.md"
            path.write_text(dump(article), encoding="utf-8")
            written.append(path)
        return written

    # ---- the index's source ------------------------------------------------

    def revision(self) -> int:
        with unit_of_work(self._sessions) as s:
            return int(s.scalar(select(KnowledgeStateRow.revision).where(KnowledgeStateRow.id == 1)) or 0)

    def snapshot(self) -> Snapshot:
        """The published passages and their embeddings, read in one transaction with the revision they belong to.
        Passages embedded with another encoder are embedded again first (a new encoder package)."""
        self.refresh_embeddings()
        with unit_of_work(self._sessions) as s:
            revision = int(s.scalar(select(KnowledgeStateRow.revision).where(KnowledgeStateRow.id == 1)) or 0)
            rows = s.execute(
                select(
                    ArticleRow.slug,
                    ArticleRow.title,
                    PassageRow.position,
                    PassageRow.heading,
                    PassageRow.text,
                    PassageRow.kind,
                    PassageRow.embedding,
                )
                .join(ArticleRow, ArticleRow.id == PassageRow.article_id)
                .where(ArticleRow.status == "published")
                .order_by(ArticleRow.slug, PassageRow.position)
            ).all()  # plain rows, not ORM objects: tens of thousands of them at 10,000 articles
        if not rows:
            return Snapshot(revision, [], np.zeros((0, 384), dtype=np.float32))
        entries = [
            Entry(Passage(slug, position, heading, text, kind), title)
            for slug, title, position, heading, text, kind, _ in rows
        ]
        vectors = np.frombuffer(b"".join(r[6] for r in rows), dtype=np.float32).reshape(len(rows), -1)
        return Snapshot(revision, entries, vectors)

    def refresh_embeddings(self) -> int:
        """Embeds again the passages another encoder made; returns how many."""
        with unit_of_work(self._sessions) as s:
            stale = s.scalars(select(PassageRow).where(PassageRow.encoder != self._encoder)).all()
            if not stale:
                return 0
            titles = dict(s.execute(select(ArticleRow.id, ArticleRow.title)).tuples().all())
            vectors = self._embed([_search_text(p, titles[p.article_id]) for p in stale])
            for passage, vector in zip(stale, vectors, strict=True):
                passage.embedding, passage.encoder = _bytes(vector), self._encoder
            self._bump(s)
            return len(stale)

    def _replace_passages(self, s: Session, row: ArticleRow, article: Article, embedded: dict[str, bytes]) -> int:
        new = passages(article) if article.status == "published" else []
        texts = _texts(article) if new else []
        shas = [text_sha(t) for t in texts]
        known = {sha: embedded[sha] for sha in shas if sha in embedded}
        if missing := set(shas) - set(known):  # an import hands over every embedding: no second lookup
            known |= dict(
                s.execute(
                    select(PassageRow.text_sha, PassageRow.embedding).where(
                        PassageRow.text_sha.in_(missing), PassageRow.encoder == self._encoder
                    )
                )
                .tuples()
                .all()
            )
        todo = [i for i, sha in enumerate(shas) if sha not in known]
        made = self._embed([texts[i] for i in todo]) if todo else np.zeros((0, 384), dtype=np.float32)
        for i, vector in zip(todo, made, strict=True):
            known[shas[i]] = _bytes(vector)
        s.execute(delete(PassageRow).where(PassageRow.article_id == row.id))
        s.flush()
        for passage, sha in zip(new, shas, strict=True):
            s.add(
                PassageRow(
                    article_id=row.id,
                    position=passage.position,
                    kind=passage.kind,
                    heading=passage.heading[:200],
                    text=passage.text,
                    text_sha=sha,
                    encoder=self._encoder,
                    embedding=known[sha],
                )
            )
        return len(todo)

    def _bump(self, s: Session) -> None:
        s.flush()
        shas = s.scalars(
            select(PassageRow.text_sha)
            .join(ArticleRow, ArticleRow.id == PassageRow.article_id)
            .where(ArticleRow.status == "published")
            .order_by(PassageRow.text_sha)
        ).all()
        fingerprint = text_sha(self._encoder + "|" + ",".join(shas))
        now = self._now()
        moved = s.execute(
            update(KnowledgeStateRow)
            .where(KnowledgeStateRow.id == 1)
            .values(revision=KnowledgeStateRow.revision + 1, fingerprint=fingerprint, updated_at=now)
        )
        if not moved.rowcount:  # type: ignore[attr-defined]
            s.add(KnowledgeStateRow(id=1, revision=1, fingerprint=fingerprint, updated_at=now))

    def touch(self) -> None:
        """Moves the revision: every process rebuilds its index from the database on its next search."""
        with unit_of_work(self._sessions) as s:
            self._bump(s)

    def fingerprint(self) -> str | None:
        with unit_of_work(self._sessions) as s:
            return s.scalar(select(KnowledgeStateRow.fingerprint).where(KnowledgeStateRow.id == 1))

    # ---- questions -----------------------------------------------------------

    def record_question(
        self,
        *,
        sender_id: str,
        channel: str,
        customer_id: str | None,
        text: str,
        embedding: np.ndarray,
        via: str,
        answered: bool,
        slug: str | None,
        score: float,
    ) -> int:
        with unit_of_work(self._sessions) as s:
            if customer_id is not None and not remembers(s, customer_id):  # the history purpose refused
                text, embedding = "", np.zeros_like(embedding)
            row = QuestionRow(
                created_at=self._now(),
                sender_id=sender_id[:255],
                channel=channel[:40],
                customer_id=customer_id,
                text=text[:2000],
                embedding=_bytes(embedding),
                via=via,
                answered=answered,
                slug=slug,
                score=float(score),
                handed_off=False,
            )
            s.add(row)
            s.flush()
            return int(row.id)

    def conversations_of(self, questions: Iterable[tuple[int, str, datetime]]) -> dict[int, int]:
        """The relationship history's conversation each question was asked in (question id -> conversation id), for
        those history has ingested: the sender's latest conversation started before the question."""
        from history.rows import ConversationRow

        found: dict[int, int] = {}
        with unit_of_work(self._sessions) as s:
            for question_id, sender_id, asked_at in questions:
                conversation = s.scalar(
                    select(ConversationRow.id)
                    .where(ConversationRow.sender_id == sender_id, ConversationRow.started_at <= asked_at)
                    .order_by(ConversationRow.started_at.desc())
                    .limit(1)
                )
                if conversation is not None:
                    found[question_id] = int(conversation)
        return found

    def figures(self, since: datetime, until: datetime, channel: str | None = None) -> KnowledgeFigures:
        with unit_of_work(self._sessions) as s:
            where = [QuestionRow.created_at >= since, QuestionRow.created_at < until]
            if channel:
                where.append(QuestionRow.channel == channel)
            rows = s.execute(
                select(QuestionRow.answered, QuestionRow.slug, QuestionRow.helpful, QuestionRow.handed_off).where(
                    *where
                )
            ).all()
        per: dict[str, list[int]] = {}
        for answered, slug, helpful, handed_off in rows:
            if answered and slug:
                tally = per.setdefault(slug, [0, 0, 0, 0, 0])
                tally[0] += 1
                tally[1] += helpful is True
                tally[2] += helpful is False
                tally[3] += bool(handed_off)
                tally[4] += helpful is False and not handed_off
        articles = sorted(
            (ArticleFigures(slug, a, h, n, o, nh) for slug, (a, h, n, o, nh) in per.items()), key=lambda f: -f.answers
        )
        return KnowledgeFigures(questions=len(rows), by_article=articles)

    def set_helpful(self, question_id: int, helpful: bool) -> bool:
        """The customer's answer to "did that answer your question?"; False when there is no such question."""
        with unit_of_work(self._sessions) as s:
            moved = s.execute(update(QuestionRow).where(QuestionRow.id == question_id).values(helpful=helpful))
            return bool(moved.rowcount)  # type: ignore[attr-defined]

    def mark_handed_off(self, question_id: int) -> None:
        with unit_of_work(self._sessions) as s:
            s.execute(update(QuestionRow).where(QuestionRow.id == question_id).values(handed_off=True))

    def questions(self, since: datetime, *, gaps_only: bool = True, limit: int = 5000) -> list[AskedQuestion]:
        """Questions asked since `since`, newest first; with `gaps_only`, those not answered or answered unhelpfully."""
        with unit_of_work(self._sessions) as s:
            stmt = select(QuestionRow).where(QuestionRow.created_at >= since, QuestionRow.text != "")
            if gaps_only:
                stmt = stmt.where(or_(QuestionRow.answered.is_(False), QuestionRow.helpful.is_(False)))
            rows = s.scalars(stmt.order_by(QuestionRow.created_at.desc(), QuestionRow.id.desc()).limit(limit)).all()
            return [
                AskedQuestion(
                    r.id,
                    r.created_at,
                    r.sender_id,
                    r.text,
                    np.frombuffer(r.embedding, dtype=np.float32),
                    r.answered,
                    r.slug,
                    r.helpful,
                    r.handed_off,
                )
                for r in rows
            ]


def forget_questions(s: Session, customer_id: str) -> int:
    """A refusal of the history purpose: the customer's questions keep what was answered and whether it helped,
    without their words or embeddings. Returns the questions cleared."""
    rows = s.scalars(select(QuestionRow).where(QuestionRow.customer_id == customer_id, QuestionRow.text != "")).all()
    for row in rows:
        row.text, row.embedding = "", bytes(len(row.embedding))
    return len(rows)


def _info(row: ArticleRow) -> ArticleInfo:
    return ArticleInfo(
        slug=row.slug,
        title=row.title,
        summary=row.summary,
        status=row.status,
        source=row.source,
        topics=tuple(row.topics or ()),
        updated_at=row.updated_at,
        updated_by=row.updated_by,
        proposed_from=row.proposed_from,
    )


def _texts(article: Article) -> list[str]:
    return [p.search_text(article.title) for p in passages(article)]


def _search_text(row: PassageRow, title: str) -> str:
    return Passage("", row.position, row.heading, row.text, row.kind).search_text(title)


def _bytes(vector: Iterable[float] | np.ndarray) -> bytes:
    return np.asarray(vector, dtype=np.float32).tobytes()
