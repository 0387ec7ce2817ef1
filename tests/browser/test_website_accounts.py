"""The demo website's accounts in headless Chromium (Debian's chromium, driven by Playwright): a demo customer resets
their password through the pages, reading the link from the development outbox, and signs in with the new one; a
new customer registers, confirms by the emailed link and lands signed in.

The website runs on the composition root's services (hearth/container.py: the SQL CRM on a migrated, seeded SQLite
file, the links emailed to the outbox as in development), served by uvicorn; the chat widget's Rasa server is not
needed for these pages."""

from __future__ import annotations

import re
import socket
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from email import parser as email_parser
from pathlib import Path

import pytest

from crm_adapter.notify import outbox_prefix
from crm_adapter.sql.db import upgrade
from hearth.container import Container
from hearth.seed import seed
from hearth.settings import Settings
from tests.asgi_server import serve
from website.app import app_for

pytestmark = pytest.mark.browser
SECRET = "a-web-identity-secret-for-the-account-tests-0123456789"
PASSWORD = "shop-demo-password"


@dataclass
class Shop:
    url: str
    box: Container

    def link(self, email: str, path: str) -> str:
        """The newest link to `path` in the outbox emails to `email` (each readable by its owner only)."""
        outbox = self.box.settings.outbox
        for file in sorted(outbox.glob(f"{outbox_prefix(email)}-*"), reverse=True):
            assert stat.S_IMODE(file.stat().st_mode) == 0o600, file
            message = email_parser.BytesParser().parsebytes(file.read_bytes())
            body = message.get_payload(decode=True)
            assert isinstance(body, bytes)
            found = re.search(re.escape(self.url + path) + r"\?token=[A-Za-z0-9_\-]+", body.decode())
            if found:
                return found.group(0)
        raise AssertionError(f"no {path} link in the outbox for {email}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    data_dir: Path = tmp_path_factory.mktemp("website-accounts")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings = Settings.from_env(
        {
            "HEARTH_DATA_DIR": str(data_dir),
            "WEB_IDENTITY_SECRET": SECRET,
            "CODE_SENDER": "log",
            "WEB_CHAT_ORIGINS": url,
        }
    )
    box = Container(settings)
    upgrade(settings.database_url)
    seed(box.sessions, customers=12, website_password=PASSWORD)
    with serve(app_for(box), port=port) as served:
        assert served == url
        yield Shop(url, box)
    box.engine.dispose()


@pytest.fixture
def page(browser):  # type: ignore[no-untyped-def]
    context = browser.new_context()
    yield context.new_page()
    context.close()


def test_a_demo_customer_resets_their_password_from_the_emailed_link_and_signs_in_with_it(shop: Shop, page) -> None:  # type: ignore[no-untyped-def]
    page.goto(shop.url + "/signin")
    page.locator("text=Forgot your password?").click()
    page.wait_for_url(shop.url + "/forgot")
    page.fill("#email", "anna.berg@example.com")
    page.locator("main button[type=submit]").click()
    assert "we've emailed a link; it works once, for 30 minutes" in page.locator("#message").inner_text()

    page.goto(shop.link("anna.berg@example.com", "/reset"))
    page.fill("#password", "a-brand-new-password")
    page.fill("#password2", "a-different-password")
    page.locator("main button[type=submit]").click()
    assert "not the same" in page.locator("[role=alert]").inner_text()
    page.fill("#password", "a-brand-new-password")
    page.fill("#password2", "a-brand-new-password")
    page.locator("main button[type=submit]").click()
    page.wait_for_url(shop.url + "/signin?notice=reset")
    assert "Your password has been changed" in page.locator("#notice").inner_text()

    page.fill("#email", "anna.berg@example.com")
    page.fill("#password", PASSWORD)  # the old one no longer works
    page.locator("main button[type=submit]").click()
    assert "don't match" in page.locator("[role=alert]").inner_text()
    page.fill("#email", "anna.berg@example.com")
    page.fill("#password", "a-brand-new-password")
    page.locator("main button[type=submit]").click()
    page.wait_for_url(shop.url + "/")
    assert page.locator("#signed-in-as").inner_text() == "Signed in as Anna"

    # the link worked once
    page.goto(shop.link("anna.berg@example.com", "/reset"))
    page.fill("#password", "yet-another-password")
    page.fill("#password2", "yet-another-password")
    page.locator("main button[type=submit]").click()
    assert "doesn't work" in page.locator("h1").inner_text()
    assert page.locator("#message-link").get_attribute("href") == "/forgot"

    # and erasure removes the outbox emails to the address, as it does the codes and exports
    assert shop.box.export_mail.remove("anna.berg@example.com") >= 1
    assert not list(shop.box.settings.outbox.glob(outbox_prefix("anna.berg@example.com") + "-*"))


def test_a_new_customer_registers_confirms_the_emailed_link_and_lands_signed_in(shop: Shop, page) -> None:  # type: ignore[no-untyped-def]
    page.goto(shop.url + "/signin")
    page.locator("text=Create an account").click()
    page.wait_for_url(shop.url + "/register")
    page.fill("#first_name", "Maya")
    page.fill("#last_name", "Okafor")
    page.fill("#email", "maya.okafor@example.com")
    page.fill("#password", "mayas-long-password")
    page.fill("#password2", "mayas-long-password")
    page.locator("main button[type=submit]").click()
    assert "Check your email to confirm" in page.locator("#message").inner_text()

    page.goto(shop.link("maya.okafor@example.com", "/register/confirm"))
    page.locator("text=Confirm and sign in").click()
    page.wait_for_url(shop.url + "/")
    assert page.locator("#signed-in-as").inner_text() == "Signed in as Maya"
    customer = shop.box.crm.customer_by_email("maya.okafor@example.com")  # type: ignore[attr-defined]
    assert customer is not None and customer.last_name == "Okafor"
