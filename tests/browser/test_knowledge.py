"""The help centre in headless Chromium: an admin writes an article in the console (Markdown with a preview), a
refused one keeps what was typed, publishing reaches the bot's search and the website's /help pages at once,
unpublishing takes it away; the "Questions we could not answer" page groups unanswered questions by meaning and
starts an article from a group; and the website's /help pages list, search and show the articles."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from analytics.service import SqlAnalytics
from console.app import create_app
from handoff.agents import SqlAgentService
from handoff.service import SqlHandoffService
from history.timeline import SqlHistoryService
from knowledge.service import Knowledge
from tests.asgi_server import serve
from tests.conftest import SqlCrm
from tests.help_centre import articles, knowledge_at
from tests.integration.test_website import SECRET
from tests.workspace import workspace_audit
from website.app import SiteSettings, accounts_of
from website.app import create_app as create_site

pytestmark = pytest.mark.browser
PASSWORD = "a-long-admin-password"


@dataclass
class Apps:
    console: str
    site: str
    knowledge: Knowledge


@pytest.fixture
def apps(sqlite_crm: SqlCrm) -> Iterator[Apps]:
    knowledge = knowledge_at(sqlite_crm.url, clock=sqlite_crm.clock)
    for article in articles():
        knowledge.store.save(article, source="file", by="test")
    agents = SqlAgentService(sqlite_crm.sessions)
    agents.create_agent("admin", "Ada Admin", PASSWORD, "admin")
    console = create_app(
        SqlAnalytics(sqlite_crm.sessions),
        SqlHistoryService(sqlite_crm.sessions),
        agents,
        handoffs=SqlHandoffService(sqlite_crm.sessions),
        knowledge=knowledge,
        audit=workspace_audit(sqlite_crm),
    )
    site = create_site(
        SiteSettings(socket_url="http://rasa.example", identity_secret=SECRET),
        accounts_of(sqlite_crm.service),
        None,  # type: ignore[arg-type]
        help_centre=knowledge.store,
    )
    with serve(console) as console_url, serve(site) as site_url:
        yield Apps(console_url, site_url, knowledge)


@pytest.fixture
def admin(browser, apps: Apps):  # type: ignore[no-untyped-def]
    page = browser.new_context().new_page()
    page.goto(apps.console + "/knowledge")
    page.wait_for_url(re.compile(r".*/login.*"))
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", PASSWORD)
    page.locator("button[type=submit]").click()
    page.wait_for_url(apps.console + "/knowledge")
    yield page
    page.context.close()


def test_an_admin_writes_previews_publishes_and_unpublishes_an_article(admin, apps: Apps, browser) -> None:  # type: ignore[no-untyped-def]
    assert admin.locator("#articles tr[data-slug]").count() == 3
    admin.fill("#article-search input[name=q]", "iron")
    admin.locator("#article-search button").click()
    assert [admin.locator("#articles tr[data-slug]").get_attribute("data-slug")] == ["caring-for-oak"]

    admin.locator("#new-article").click()
    admin.wait_for_url(re.compile(r".*/knowledge/new.*"))
    admin.fill("input[name=title]", "Collecting from our warehouse")
    admin.fill("textarea[name=summary]", "Orders can't be collected: we deliver every order to your door.")
    admin.fill(
        "textarea[name=body]", "We have no shop or collection point.\n\n## Why\nAll stock ships from <b>Leeds</b>."
    )
    admin.fill("textarea[name=questions]", "can i pick up my order from your warehouse\ncan i collect it myself")
    admin.locator("#preview-button").click()
    preview = admin.locator("#preview")
    assert preview.locator("h2").inner_text() == "Why"
    assert "<b>Leeds</b>" in preview.inner_text()  # raw HTML is shown as text, never run
    assert admin.locator("textarea[name=questions]").input_value().startswith("can i pick up")  # kept

    admin.locator("#publish-button").click()
    admin.wait_for_url(re.compile(r".*/knowledge\?saved=collecting-from-our-warehouse"))
    row = admin.locator('#articles tr[data-slug="collecting-from-our-warehouse"]')
    assert row.locator(".status").inner_text() == "published" and "admin" in row.inner_text()

    # the bot answers from it at once, and the website shows it
    _, answer, _ = apps.knowledge.decide("can I pick up my order from your warehouse myself?")
    assert answer.answered and answer.slug == "collecting-from-our-warehouse"
    shop = browser.new_context().new_page()
    shop.goto(apps.site + "/help")
    shop.locator("a", has_text="Collecting from our warehouse").click()
    shop.wait_for_url(apps.site + "/help/collecting-from-our-warehouse")
    assert shop.locator("#article-body h2").inner_text() == "Why"

    # unpublished: gone from the bot and the website
    row.locator("a").first.click()
    admin.wait_for_url(apps.console + "/knowledge/collecting-from-our-warehouse")
    admin.locator("#unpublish-button").click()
    admin.wait_for_url(re.compile(r".*/knowledge\?saved=.*"))
    _, answer, _ = apps.knowledge.decide("can I pick up my order from your warehouse myself?")
    assert answer.slug != "collecting-from-our-warehouse" or not answer.answered
    assert shop.goto(apps.site + "/help/collecting-from-our-warehouse").status == 404
    shop.context.close()


def test_a_refused_article_shows_what_is_wrong_and_keeps_what_was_typed(admin, apps: Apps) -> None:  # type: ignore[no-untyped-def]
    admin.goto(apps.console + "/knowledge/new")
    admin.fill("input[name=title]", "Gift cards")
    admin.fill("input[name=slug]", "gift-cards")  # taken
    admin.fill("textarea[name=summary]", "Something.")
    admin.fill("textarea[name=body]", "A long text I would hate to lose.")
    admin.locator("#save-button").click()
    assert "already exists" in admin.locator("#error").inner_text()
    assert admin.locator("textarea[name=body]").input_value() == "A long text I would hate to lose."
    admin.fill("input[name=slug]", "gift-cards-2")
    admin.fill("textarea[name=summary]", "")
    admin.locator("#save-button").click()
    assert "summary" in admin.locator("#error").inner_text()
    assert apps.knowledge.store.get("gift-cards-2") is None


def test_the_gaps_page_groups_what_the_bot_could_not_answer(admin, apps: Apps) -> None:  # type: ignore[no-untyped-def]
    asked = ["do you have a shop in leeds i can visit", "is there a store in leeds", "can i pay with bitcoin"]
    for i, text in enumerate(asked):
        apps.knowledge.answer(text, sender_id=f"visitor-{i}", channel="web")
    helped = apps.knowledge.answer("do u sell gift vouchers", sender_id="visitor-9", channel="web")
    assert helped.answered and helped.question_id
    apps.knowledge.feedback(helped.question_id, False)  # answered, but it did not help: a gap too

    admin.goto(apps.console + "/knowledge/gaps?days=7")
    gaps = admin.locator("#gaps li.gap")
    counts = [int(gaps.nth(i).get_attribute("data-count") or 0) for i in range(gaps.count())]
    assert sorted(counts, reverse=True) == counts and sum(counts) == 4 and counts[0] == 2
    assert "leeds" in gaps.nth(0).locator(".label").inner_text()
    assert "not helpful (gift-cards)" in admin.locator("#gaps").inner_text()
    gaps.nth(0).locator("a.write").click()
    admin.wait_for_url(re.compile(r".*/knowledge/new\?question=.*"))
    assert "leeds" in admin.locator("input[name=title]").input_value()
    assert "leeds" in admin.locator("textarea[name=questions]").input_value()


def test_the_help_pages_list_search_and_show_articles(browser, apps: Apps) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_context().new_page()
    page.goto(apps.site + "/")
    page.locator("#help-link").click()
    page.wait_for_url(apps.site + "/help")
    assert page.locator("#help-articles li").count() == 3
    page.fill("#help-q", "e-gift")
    page.locator(".help-search button").click()
    page.wait_for_url(re.compile(r".*/help\?q=e-gift"))
    assert page.locator("#help-articles a").all_inner_texts() == ["Gift cards"]
    page.locator("#help-articles a").click()
    page.wait_for_url(apps.site + "/help/gift-cards")
    assert page.locator("#article-title").inner_text() == "Gift cards"
    assert page.locator("#article-body h2").all_inner_texts() == ["Buying an e-gift card", "Using a gift card"]
    page.context.close()
