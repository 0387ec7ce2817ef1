"""A product review end to end in headless Chromium: a customer signed in on the demo website reviews an item of
their delivered order in the web chat (the item and the stars from buttons, the words typed, yes to showing it),
and the review shows on the product's page, with their first name and last initial, its words as text."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.browser.test_web_chat import PASSWORD, SECRET, bot_texts, open_chat, send, wait_for_reply
from tests.e2e.stack import Stack, running_stack

pytestmark = pytest.mark.browser
TEXT = "Sturdy & <b>lovely</b> <script>document.title='owned'</script>, exactly as pictured."


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(
        tmp_path_factory.mktemp("reviews"), WEB_IDENTITY_SECRET=SECRET, WEBSITE_DEMO_PASSWORD=PASSWORD
    ) as s:
        yield s


@pytest.fixture
def page(browser):  # type: ignore[no-untyped-def]
    context = browser.new_context()
    yield context.new_page()
    context.close()


def click_reply(page, title: str) -> None:  # type: ignore[no-untyped-def]
    page.locator(".rw-reply", has_text=title).last.click()


def test_a_review_left_in_the_web_chat_shows_on_the_product_page(stack: Stack, page) -> None:  # type: ignore[no-untyped-def]
    page.goto(stack.website_url + "/signin")
    page.fill("#email", "omar.haddad@example.com")
    page.fill("#password", PASSWORD)
    page.locator("button[type=submit]").click()
    page.wait_for_url(stack.website_url + "/")
    open_chat(page, stack.website_url + "/")
    assert bot_texts(page)[0].startswith("Welcome back, Omar!")

    before = len(bot_texts(page))
    send(page, "I'd like to leave a review")
    replies = wait_for_reply(page, before)
    if any("email address" in r for r in replies):  # signed in but not verified: the usual proof
        before = len(bot_texts(page))
        send(page, "omar.haddad@example.com")
        wait_for_reply(page, before)
        before = len(bot_texts(page))
        send(page, "JH100002")
        replies = wait_for_reply(page, before)
    assert any(r.startswith("Thank you for wanting to review it!") for r in replies), replies
    item = page.locator(".rw-reply", has_text="JH100002: ").first
    name = item.inner_text().removeprefix("JH100002: ").strip()

    before = len(bot_texts(page))
    item.click()
    assert "How many stars" in " ".join(wait_for_reply(page, before))
    before = len(bot_texts(page))
    click_reply(page, "★★★★ 4")
    assert "What would you like to say" in " ".join(wait_for_reply(page, before))
    before = len(bot_texts(page))
    send(page, TEXT)
    assert "first name" in " ".join(wait_for_reply(page, before))
    before = len(bot_texts(page))
    click_reply(page, "Yes, show it")
    thanks = " ".join(wait_for_reply(page, before))
    assert f"Your 4-star review of the {name} is saved" in thanks
    link = thanks.split("shows on its page: ")[1].split()[0]
    assert "/products/" in link

    page.goto(stack.website_url + link[link.index("/products/") :])
    assert page.locator("#product-name").inner_text() == name
    review = page.locator(".review").first
    assert review.locator(".author").inner_text() == "Omar H."
    assert review.locator(".review-text").inner_text() == TEXT  # shown as text, never run
    assert review.locator(".review-text b, .review-text script").count() == 0
    assert page.title() != "owned" and "4.0 out of 5" in page.locator("#rating").inner_text()

    page.goto(stack.website_url + "/")
    assert page.locator("#products a").count() >= 3
    page.goto(stack.website_url + "/products/NOT-SOLD-HERE")
    assert page.locator("h1").inner_text() == "We couldn't find that product"
