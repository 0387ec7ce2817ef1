"""The help centre on SQLite and PostgreSQL: a second process sees every change without a restart and without
embedding anything, edits keep the embeddings of unchanged passages, questions asked go with their customer on
erasure; and the website's /help pages show the published articles only."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import delete, select

from crm_adapter.sql.models import CustomerRow
from knowledge.articles import Article, parse
from knowledge.rows import ArticleRow, PassageRow, QuestionRow
from knowledge.service import Knowledge
from relationship.service import SqlRelationshipService
from tests.asgi_server import serve
from tests.conftest import SqlCrm
from tests.factories import SqlArrange
from tests.help_centre import GIFT_CARDS, articles, knowledge_at
from tests.integration.test_website import SECRET, Site
from website.app import SiteSettings, accounts_of, create_app

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def knowledge(sql_crm: SqlCrm) -> Knowledge:
    k = knowledge_at(sql_crm.url, clock=sql_crm.clock)
    for article in articles():
        k.store.save(article, source="file", by="test")
    return k


class Child:
    """Another process answering from the same database (tests/knowledge_child.py)."""

    def __init__(self, url: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "tests" / "knowledge_child.py"), url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )

    def ask(self, question: str) -> dict:
        assert self.process.stdin and self.process.stdout
        self.process.stdin.write(question + "\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())


@pytest.fixture
def child(sql_crm: SqlCrm, knowledge: Knowledge) -> Iterator[Child]:
    other = Child(sql_crm.url)
    yield other
    other.process.kill()
    other.process.wait(timeout=10)


def test_a_second_process_follows_every_change_without_embedding(knowledge: Knowledge, child: Child) -> None:
    first = child.ask("do you sell gift vouchers")
    assert first["slug"] == "gift-cards" and first["rebuilds"] == 1
    assert child.ask("can i buy a gift voucher for my sister")["rebuilds"] == 1  # nothing changed: no rebuild
    knowledge.store.set_status("gift-cards", "unpublished", by="admin")
    gone = child.ask("do you sell gift vouchers")
    assert gone["slug"] != "gift-cards" and gone["rebuilds"] == 2
    renamed = parse(GIFT_CARDS)
    renamed = Article(**{**renamed.__dict__, "title": "Gift cards and vouchers", "status": "published"})
    knowledge.store.save(renamed, by="admin")
    back = child.ask("do you sell gift vouchers")
    assert (back["slug"], back["title"], back["rebuilds"]) == ("gift-cards", "Gift cards and vouchers", 3)


def oak_embeddings(sql_crm: SqlCrm) -> dict[int, bytes]:
    with sql_crm.sessions() as s:
        rows = s.execute(
            select(PassageRow.position, PassageRow.embedding)
            .join(ArticleRow, ArticleRow.id == PassageRow.article_id)
            .where(ArticleRow.slug == "caring-for-oak")
        ).all()
    return dict(rows)  # type: ignore[arg-type]


def test_an_edit_embeds_only_what_changed(knowledge: Knowledge, sql_crm: SqlCrm) -> None:
    oak = knowledge.store.get("caring-for-oak")
    assert oak is not None
    before = oak_embeddings(sql_crm)
    edited = Article(**{**oak.__dict__, "body": oak.body.replace("soft dry cloth", "soft, dry, lint-free cloth")})
    saved = knowledge.store.save(edited, by="admin")
    assert (saved.result, saved.embedded) == ("updated", 1)
    after = oak_embeddings(sql_crm)
    assert after.keys() == before.keys()
    assert [p for p in before if before[p] != after[p]] == [2]  # "Everyday care", the section edited
    assert knowledge.store.get("caring-for-oak") == edited
    assert [a.slug for a in knowledge.store.listing("LINT-FREE")] == ["caring-for-oak"]


def test_questions_asked_go_with_their_customer_on_erasure(knowledge: Knowledge, sql_crm: SqlCrm) -> None:
    customer = SqlArrange(sql_crm.sessions).add_customer(first_name="Ida")
    mine = knowledge.answer("do you sell gift vouchers", sender_id="s1", channel="web", customer_id=customer)
    anonymous = knowledge.answer("who will win the league", sender_id="s2", channel="web")
    assert mine.answered and not anonymous.answered
    assert knowledge.feedback(mine.question_id or 0, False) and not knowledge.feedback(999_999, True)
    gaps = knowledge.store.questions(dt.datetime(2000, 1, 1))
    assert {q.text for q in gaps} == {"do you sell gift vouchers", "who will win the league"}
    exported = SqlRelationshipService(sql_crm.sessions, clock=sql_crm.clock).export(customer)
    assert [(q["text"], q["answered_from"], q["helpful"]) for q in exported["help_centre_questions"]] == [
        ("do you sell gift vouchers", "gift-cards", False)
    ]
    with sql_crm.sessions.begin() as s:
        s.execute(delete(CustomerRow).where(CustomerRow.id == customer))
    with sql_crm.sessions() as s:
        assert s.scalars(select(QuestionRow.text)).all() == ["who will win the league"]


@pytest.fixture
def site(sql_crm: SqlCrm, knowledge: Knowledge) -> Iterator[Site]:
    settings = SiteSettings(socket_url="http://rasa.example", identity_secret=SECRET)
    app = create_app(settings, accounts_of(sql_crm.service), None, help_centre=knowledge.store)  # type: ignore[arg-type]
    with serve(app) as url, Site(url) as client:
        yield client


def test_the_help_pages_show_published_articles_with_their_html(site: Site, knowledge: Knowledge) -> None:
    index = site.get("/help")
    assert index.status_code == 200
    assert 'href="/help/gift-cards">Gift cards</a>' in index.text and "Caring for oak furniture" in index.text
    page = site.get("/help/caring-for-oak")
    assert page.status_code == 200 and '<h1 id="article-title">Caring for oak furniture</h1>' in page.text
    assert "<h2>White rings and marks</h2>" in page.text and "Last reviewed" in page.text
    found = site.get("/help", params={"q": "iron"})
    assert "caring-for-oak" in found.text and "gift-cards" not in found.text and "1 article for" in found.text
    nothing = site.get("/help", params={"q": "<b>zebra</b>"})
    assert "No article matches" in nothing.text and "<b>zebra</b>" not in nothing.text


def test_drafts_unpublished_and_unknown_articles_are_not_found(site: Site, knowledge: Knowledge) -> None:
    knowledge.propose("Can I visit the warehouse?", "<script>x</script> No.", conversation="c1", agent="sam")
    knowledge.store.set_status("gift-cards", "unpublished", by="admin")
    for path in ("/help/can-i-visit-the-warehouse", "/help/gift-cards", "/help/nothing-here", "/help/Bad%20Slug"):
        response = site.get(path)
        assert response.status_code == 404 and "couldn't find that page" in response.text, path
    assert "gift-cards" not in site.get("/help").text


def test_a_refusal_to_keep_the_history_keeps_the_questions_counts_without_their_words(
    knowledge: Knowledge, sql_crm: SqlCrm
) -> None:
    customer = SqlArrange(sql_crm.sessions).add_customer(first_name="Ida")
    before = knowledge.answer("do you sell gift vouchers", sender_id="s1", channel="web", customer_id=customer)
    SqlRelationshipService(sql_crm.sessions, clock=sql_crm.clock).set_consent(customer, "history", False)
    after = knowledge.answer("can i buy a gift card", sender_id="s1", channel="web", customer_id=customer)
    assert before.answered and after.answered
    with sql_crm.sessions() as s:
        rows = s.execute(select(QuestionRow.text, QuestionRow.slug, QuestionRow.answered)).all()
    assert sorted(rows) == [("", "gift-cards", True), ("", "gift-cards", True)]
    assert knowledge.store.questions(dt.datetime(2000, 1, 1), gaps_only=False) == []  # nothing to group
    assert knowledge.store.figures(dt.datetime(2000, 1, 1), dt.datetime(2100, 1, 1)).answered == 2
