"""The help centre in the console (admins), and agents' answers proposed as articles.

GET  /knowledge?q=&status=                                      the articles: search, filter by status
GET  /knowledge/new?question=, POST /knowledge/new              write an article (Markdown, with a preview)
GET  /knowledge/{slug}, POST /knowledge/{slug}                  edit it (save, preview), publish or unpublish
GET  /knowledge/gaps?days=                                      questions the bot could not answer, grouped
POST /handoffs/{id}/propose (any agent)                         the agent's answer as a draft article for review

Every change reaches the bot without a restart: the database is the source of truth and each action server
rebuilds its search index when the help centre's revision moves (knowledge/index.py).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup
from pydantic import BaseModel, Field

from console.deps import TEMPLATES, RowId, Services, SignedIn, actor
from console.deps import Admin as AdminSession
from knowledge.articles import SLUG, STATUSES, Article, ArticleError, check, to_html

router = APIRouter()
Slug = Annotated[str, Query(max_length=80)]


def _lines(text: str) -> tuple[str, ...]:
    return tuple(line.strip() for line in text.splitlines() if line.strip())


def _words(text: str) -> tuple[str, ...]:
    return tuple(w.strip() for w in text.split(",") if w.strip())


def slug_of(title: str) -> str:
    return "-".join(re.findall(r"[a-z0-9]+", title.lower()))[:80].strip("-")


@router.get("/knowledge", response_class=HTMLResponse)
def articles_page(
    request: Request,
    me: AdminSession,
    services: Services,
    q: Slug = "",
    status: Annotated[str, Query(max_length=12)] = "",
) -> Response:
    store = services.help_centre().store
    chosen = status if status in STATUSES else ""
    context = {"articles": store.listing(q, status=chosen or None), "q": q, "status": chosen, "statuses": STATUSES}
    return TEMPLATES.TemplateResponse(request, "knowledge.html", context)


@router.get("/knowledge/gaps", response_class=HTMLResponse)
def gaps_page(
    request: Request, me: AdminSession, services: Services, days: Annotated[int, Query(ge=1, le=365)] = 30
) -> Response:
    knowledge = services.help_centre()
    gaps = knowledge.gaps(days=days)
    conversations = knowledge.store.conversations_of(
        (e.question_id, e.sender_id, e.created_at) for g in gaps for e in g.examples
    )
    context = {"gaps": gaps, "days": days, "conversations": conversations}
    return TEMPLATES.TemplateResponse(request, "knowledge_gaps.html", context)


@router.get("/knowledge/new", response_class=HTMLResponse)
def new_page(
    request: Request, me: AdminSession, services: Services, question: Annotated[str, Query(max_length=300)] = ""
) -> Response:
    services.help_centre()
    fields = ArticleForm(title=question.strip(), questions=question.strip())
    return TEMPLATES.TemplateResponse(request, "knowledge_edit.html", {"f": fields, "new": True})


class ArticleForm(BaseModel):
    """The editor's fields as posted (the slug only when creating; made from the title when empty)."""

    title: str = Field(default="", max_length=400)
    slug: str = Field(default="", max_length=400)
    summary: str = Field(default="", max_length=400)
    body: str = Field(default="", max_length=20_000)
    topics: str = Field(default="", max_length=400)
    tags: str = Field(default="", max_length=400)
    faq: str = Field(default="", max_length=400)
    questions: str = Field(default="", max_length=20_000)
    status: str = Field(default="draft", max_length=12)
    action: str = Field(default="save", max_length=12)

    @classmethod
    def of(cls, article: Article) -> ArticleForm:
        return cls(
            title=article.title,
            slug=article.slug,
            summary=article.summary,
            body=article.body,
            topics=", ".join(article.topics),
            tags=", ".join(article.tags),
            faq=", ".join(article.faq),
            questions="\n".join(article.questions),
            status=article.status,
        )

    def article(self, slug: str | None = None) -> Article:
        return Article(
            slug=slug or self.slug.strip() or slug_of(self.title),
            title=self.title,
            summary=self.summary,
            body=self.body,
            topics=_words(self.topics),
            tags=_words(self.tags),
            faq=_words(self.faq),
            questions=_lines(self.questions),
            status=self.status if self.status in STATUSES else "draft",
        )


Posted = Annotated[ArticleForm, Form()]


def _edit(request: Request, services: Services, me: Any, form: ArticleForm, article: Article, new: bool) -> Response:
    """Preview, or save and go back to the list; a refused article is shown again as typed, with what is wrong."""
    if form.action == "preview":
        try:
            preview = Markup(to_html(check(article).body))
        except ArticleError as exc:
            return _refused(request, form, new, str(exc))
        return TEMPLATES.TemplateResponse(request, "knowledge_edit.html", {"f": form, "new": new, "preview": preview})
    if form.action in ("publish", "unpublish"):
        article = article.with_status("published" if form.action == "publish" else "unpublished")
    log = services.audit_log()
    try:
        saved = services.help_centre().save(article, by=me.agent.username, create=new)
    except ArticleError as exc:
        return _refused(request, form, new, str(exc))
    action = {"publish": "article.published", "unpublish": "article.unpublished"}.get(form.action)
    action = action or ("article.created" if new else "article.saved")
    log.record(actor(request, me), action, "article", saved.slug, detail=f"{saved.result}, status {article.status}")
    return RedirectResponse(f"/knowledge?saved={saved.slug}", status_code=303)


def _refused(request: Request, form: ArticleForm, new: bool, error: str) -> Response:
    context = {"f": form, "new": new, "error": error}
    return TEMPLATES.TemplateResponse(request, "knowledge_edit.html", context, status_code=422)


def _no_article(request: Request, slug: str) -> Response:
    context = {"status": 404, "message": f"There is no article {slug!r}."}
    return TEMPLATES.TemplateResponse(request, "error.html", context, status_code=404)


@router.post("/knowledge/new", response_class=HTMLResponse)
def create(request: Request, me: AdminSession, services: Services, form: Posted) -> Response:
    return _edit(request, services, me, form, form.article(), new=True)


@router.get("/knowledge/{slug}", response_class=HTMLResponse)
def edit_page(request: Request, me: AdminSession, services: Services, slug: str) -> Response:
    article = services.help_centre().store.get(slug) if SLUG.match(slug) else None
    if article is None:
        return _no_article(request, slug)
    return TEMPLATES.TemplateResponse(request, "knowledge_edit.html", {"f": ArticleForm.of(article), "new": False})


@router.post("/knowledge/{slug}", response_class=HTMLResponse)
def save(request: Request, me: AdminSession, services: Services, slug: str, form: Posted) -> Response:
    if not SLUG.match(slug) or services.help_centre().store.get(slug) is None:
        return _no_article(request, slug)
    return _edit(request, services, me, form, form.article(slug), new=False)


@router.post("/handoffs/{handoff_id}/propose", response_class=HTMLResponse)
def propose(
    request: Request,
    me: SignedIn,
    services: Services,
    handoff_id: RowId,
    question: Annotated[str, Form(max_length=300)] = "",
    answer: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    """The agent's answer to the customer's question, saved as a draft article for an admin to review (never
    published from here)."""
    handoff, log = services.desk().get(handoff_id), services.audit_log()
    if len(question.strip()) < 5 or len(answer.strip()) < 5:
        message = "Write the customer's question and your answer (a few words at least) to propose an article."
        return TEMPLATES.TemplateResponse(request, "error.html", {"status": 422, "message": message}, status_code=422)
    saved = services.help_centre().propose(question, answer, conversation=handoff.sender_id, agent=me.agent.username)
    log.record(actor(request, me), "handoff.proposed", "article", saved.slug, detail=f"from handoff {handoff_id}")
    return RedirectResponse(f"/handoffs/{handoff_id}?proposed={saved.slug}", status_code=303)
