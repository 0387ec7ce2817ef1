"""Help articles: Markdown with front matter, read, checked, written back and cut into passages.

An article file (data/knowledge/<slug>.md) starts with YAML front matter between `---` lines:

    ---
    title: Gift cards
    slug: gift-cards
    topics: [gift-cards]
    tags: [gift card, e-gift card]
    last_reviewed: 2026-11-20
    summary: "The short answer the chat gives when the question is the article's main one."
    faq: [payment_methods]        # optional: the scripted FAQ answers this article gives
    ---
    Markdown body, `## ` sections that each make sense alone.

Pure rules: no database, no encoder. The chat quotes one passage: the summary, or one section (long sections are
cut at paragraphs into passages of about PASSAGE_WORDS words).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field, replace

import yaml
from markdown_it import MarkdownIt

SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
STATUSES = ("published", "draft", "unpublished")
MAX_TITLE, MAX_SUMMARY, MAX_BODY = 160, 400, 20_000
PASSAGE_WORDS = 120
_FRONT = re.compile(r"\A---\s*\n(.*?)\n---\s*(?:\n|\Z)(.*)\Z", re.DOTALL)


class ArticleError(ValueError):
    """An article that cannot be saved, with what is wrong in words an editor can act on."""


@dataclass(frozen=True)
class Article:
    slug: str
    title: str
    summary: str
    body: str
    topics: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    faq: tuple[str, ...] = ()
    last_reviewed: dt.date | None = None
    status: str = "published"
    questions: tuple[str, ...] = ()  # customers' ways of asking what it answers: found by meaning, never shown

    def with_status(self, status: str) -> Article:
        return replace(self, status=status)


@dataclass(frozen=True)
class Passage:
    """One piece of an article: position 0 is the summary, then the sections in order (both quotable), then the
    customers' questions it answers (kind "question": matched, never quoted)."""

    slug: str
    position: int
    heading: str
    text: str
    kind: str = "section"  # summary | section | question

    def search_text(self, title: str) -> str:
        """What the search reads: the article's title and the section's heading give a short section its context;
        a question is read as it is."""
        if self.kind == "question":
            return self.text
        heading = "" if self.heading in ("", title) else f" {self.heading}."
        return f"{title}.{heading} {self.text}"


@dataclass
class _Section:
    heading: str
    lines: list[str] = field(default_factory=list)


def _words(value: object, name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [v for v in re.split(r"\s*,\s*", value) if v]
    if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
        raise ArticleError(f"{name} must be a list of words")
    return tuple(str(v).strip() for v in value if str(v).strip())


def check(article: Article) -> Article:
    """The article as saved, or ArticleError saying what is wrong."""
    problems = []
    if not SLUG.match(article.slug or "") or len(article.slug) > 80:
        problems.append("the slug must be lower-case words joined by hyphens (up to 80 characters)")
    if not article.title.strip() or len(article.title) > MAX_TITLE:
        problems.append(f"the title must be 1-{MAX_TITLE} characters")
    if not article.summary.strip() or len(article.summary) > MAX_SUMMARY:
        problems.append(f"the summary must be 1-{MAX_SUMMARY} characters")
    if not article.body.strip() or len(article.body) > MAX_BODY:
        problems.append(f"the text must be 1-{MAX_BODY:,} characters")
    if len(article.questions) > 50 or any(len(q) > 300 for q in article.questions):
        problems.append("at most 50 questions, each up to 300 characters")
    if article.status not in STATUSES:
        problems.append(f"the status must be one of {', '.join(STATUSES)}")
    if problems:
        raise ArticleError("; ".join(problems))
    return replace(
        article, title=article.title.strip(), summary=" ".join(article.summary.split()), body=article.body.strip()
    )


def parse(text: str, *, status: str = "published") -> Article:
    """An article from its Markdown file's text."""
    found = _FRONT.match(text.replace("\r\n", "\n"))
    if not found:
        raise ArticleError("the file must start with front matter between two '---' lines")
    try:
        meta = yaml.safe_load(found.group(1)) or {}
    except yaml.YAMLError as exc:
        raise ArticleError(f"the front matter is not valid YAML: {exc}") from None
    if not isinstance(meta, dict):
        raise ArticleError("the front matter must be key: value lines")
    reviewed = meta.get("last_reviewed")
    if isinstance(reviewed, str):
        try:
            reviewed = dt.date.fromisoformat(reviewed)
        except ValueError:
            raise ArticleError("last_reviewed must be a date (YYYY-MM-DD)") from None
    if reviewed is not None and not isinstance(reviewed, dt.date):
        raise ArticleError("last_reviewed must be a date (YYYY-MM-DD)")
    return check(
        Article(
            slug=str(meta.get("slug") or ""),
            title=str(meta.get("title") or ""),
            summary=str(meta.get("summary") or ""),
            body=found.group(2),
            topics=_words(meta.get("topics"), "topics"),
            tags=_words(meta.get("tags"), "tags"),
            faq=_words(meta.get("faq"), "faq"),
            last_reviewed=reviewed,
            status=str(meta.get("status") or status),
            questions=_questions(meta.get("questions")),
        )
    )


def _questions(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ArticleError("questions must be a list of questions, one per line")
    return tuple(" ".join(v.split()) for v in value if v.strip())


def dump(article: Article) -> str:
    """The article as a Markdown file with front matter; parse(dump(a)) == a."""
    meta: dict[str, object] = {"title": article.title, "slug": article.slug}
    for key in ("topics", "tags", "faq"):
        if getattr(article, key):
            meta[key] = list(getattr(article, key))
    if article.last_reviewed:
        meta["last_reviewed"] = article.last_reviewed
    meta["summary"] = article.summary
    if article.questions:
        meta["questions"] = list(article.questions)
    if article.status != "published":
        meta["status"] = article.status
    front = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, width=1000).strip()
    return f"---\n{front}\n---\n{article.body.strip()}\n"


def passages(article: Article) -> list[Passage]:
    """The summary, then each `## ` section (long ones cut at paragraphs into pieces of about PASSAGE_WORDS words)."""
    found = [Passage(article.slug, 0, article.title, article.summary, "summary")]
    sections = [_Section(article.title)]
    for line in article.body.splitlines():
        heading = re.match(r"^#{2,3}\s+(.*\S)\s*$", line)
        if heading:
            sections.append(_Section(heading.group(1).strip()))
        else:
            sections[-1].lines.append(line)
    for section in sections:
        paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", "\n".join(section.lines)) if p.strip()]
        piece: list[str] = []
        for paragraph in paragraphs:
            if piece and len(" ".join(piece).split()) + len(paragraph.split()) > PASSAGE_WORDS:
                found.append(Passage(article.slug, len(found), section.heading, _plain(" ".join(piece))))
                piece = []
            piece.append(paragraph)
        if piece:
            found.append(Passage(article.slug, len(found), section.heading, _plain(" ".join(piece))))
    for question in article.questions:
        found.append(Passage(article.slug, len(found), "", question, "question"))
    return found


def _plain(markdown: str) -> str:
    """Markdown emphasis, links and list markers out: the chat shows plain text."""
    text = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", markdown)
    text = re.sub(r"(\*\*|__|`)", "", text)
    text = re.sub(r"(?:(?<=\s)|^)(?:[-*+]|\d+\.)\s+", "", text)
    return " ".join(text.split())


_MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


def to_html(body: str) -> str:
    """The body as HTML for the help pages and the editor's preview. Raw HTML in the Markdown is shown as text,
    never run (markdown-it's `html: False`); links other than http(s), mailto, tel and relative ones are dropped
    by markdown-it's own link check."""
    return _MARKDOWN.render(body)


def short_answer(passage: Passage, limit: int = 320) -> str:
    """The passage cut at a sentence end within `limit` characters (the chat's answer; the link has the rest)."""
    text = passage.text
    if len(text) <= limit:
        return text
    sentences = re.split(r"(?<=[.!?])\s+", text)
    answer = ""
    for sentence in sentences:
        if answer and len(answer) + 1 + len(sentence) > limit:
            break
        answer = f"{answer} {sentence}".strip()
    return answer if len(answer) <= limit else answer[: limit - 1].rsplit(" ", 1)[0] + "…"
