"""The analytics page in headless Chromium (Debian's chromium package, driven by Playwright): signing in
through the login form, the figures worked out by hand, the charts, the worst intents linking to an example
conversation, filters, bad input, no script injection through what customers typed, and signing out."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from analytics.service import SqlAnalytics
from console.app import create_app
from crm_adapter.domain import InvalidInput
from handoff.agents import SqlAgentService
from history.timeline import SqlHistoryService
from tests.analytics_history import history
from tests.asgi_server import serve
from tests.conftest import SqlCrm
from tests.console_client import post_login
from tests.services import unavailable
from tests.workspace import workspace_audit

pytestmark = pytest.mark.browser
PASSWORD = "a-long-admin-password"
AGENT_PASSWORD = "a-long-agent-password"
RANGE = "start=2026-11-02&end=2026-11-03"


def chromium_path() -> str:
    path = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        unavailable("Chromium", "no chromium on PATH (scripts/test.sh installs Debian's package)")
    return str(path)


@pytest.fixture
def console(sqlite_crm: SqlCrm) -> Iterator[tuple[str, dict[str, int]]]:
    ids = history(sqlite_crm)
    agents = SqlAgentService(sqlite_crm.sessions)
    agents.create_agent("admin", "Ada Admin", PASSWORD, "admin")
    agents.create_agent("agent", "Sam Taylor", AGENT_PASSWORD, "agent")
    history_service = SqlHistoryService(sqlite_crm.sessions)
    app = create_app(SqlAnalytics(sqlite_crm.sessions), history_service, agents, audit=workspace_audit(sqlite_crm))
    with serve(app) as url:
        yield url, ids


@pytest.fixture
def page(console):  # type: ignore[no-untyped-def]
    """A browser page signed in as the admin through the login form."""
    from playwright.sync_api import sync_playwright

    url, _ = console
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), headless=True)
        page = browser.new_context().new_page()
        page.goto(f"{url}/analytics?{RANGE}")  # not signed in: sent to the login form, then back here
        page.wait_for_url("**/login?next=*")
        page.fill('input[name="username"]', "admin")
        page.fill('input[name="password"]', PASSWORD)
        page.click('#login button[type="submit"]')
        page.wait_for_url(f"{url}/analytics?{RANGE}")
        assert page.locator("#signed-in-as").inner_text() == "Ada Admin"
        yield page
        browser.close()


def signed_in(url: str, username: str, password: str) -> requests.Session:
    session = requests.Session()
    response = post_login(url, {"username": username, "password": password}, http=session)
    assert response.status_code == 200 and response.url == f"{url}/"
    return session


def test_the_page_shows_the_figures_and_the_charts(console, page) -> None:  # type: ignore[no-untyped-def]
    url, ids = console
    page.goto(f"{url}/analytics?{RANGE}")
    figure = lambda name: page.locator(f'[data-figure="{name}"]').inner_text()  # noqa: E731
    assert figure("conversations") == "6"
    assert figure("containment") == "60.0 %"
    assert figure("fallback_rate") == "33.3 %"
    assert figure("csat_bot") == "4.0" and figure("csat_person") == "2.0" and figure("nps") == "0.0"
    assert figure("median_resolution_seconds") == "240 s"

    charts = page.locator("svg.chart")
    assert charts.count() == 5
    assert page.locator("svg.chart rect.bar").count() == 2  # one bar per day
    legends = page.locator("svg.chart text.legend")
    drawn = legends.evaluate_all("els => els.map(e => [e.dataset.series, +e.dataset.points])")
    assert ["containment", 2] in drawn and ["CSAT, bot resolved", 2] in drawn and ["NPS", 2] in drawn
    box = charts.first.bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 100  # laid out, visible

    fallbacks = page.locator('table[data-table="Most fallbacks"]')
    assert fallbacks.locator("tr").nth(1).locator("td").first.inner_text() == "complain"
    page.locator('table[data-table="Most fallbacks"] a', has_text=f"#{ids['c3']}").click()
    page.wait_for_url(f"**/analytics/conversations/{ids['c3']}")
    transcript = page.locator("#transcript").inner_text()
    assert "<script>window.hacked = 1</script> wheres my sofa" in transcript  # shown as text...
    assert page.evaluate("window.hacked") is None  # ...never run


def test_filters_and_bad_input(console, page) -> None:  # type: ignore[no-untyped-def]
    url, _ = console
    page.goto(f"{url}/analytics?{RANGE}&channel=telegram")
    assert page.locator('[data-figure="conversations"]').inner_text() == "1"
    page.goto(f"{url}/analytics?{RANGE}")
    page.select_option('select[name="tier"]', "anonymous")
    page.click('form[action="/analytics"] button[type=submit]')
    assert "tier=anonymous" in page.url
    assert page.locator('[data-figure="conversations"]').inner_text() == "6"
    response = page.goto(f"{url}/analytics?start=yesterday")
    assert response is not None and response.status == 422
    assert "start must be a date" in page.locator(".error").inner_text()


def test_only_the_admin_gets_in(console) -> None:  # type: ignore[no-untyped-def]
    url, ids = console
    wrong = post_login(url, {"username": "admin", "password": "wrong-password!"})
    assert wrong.status_code == 401 and not wrong.cookies
    agent = signed_in(url, "agent", AGENT_PASSWORD)
    for path in ("/analytics", "/analytics/report.csv", f"/analytics/conversations/{ids['c1']}"):
        anonymous = requests.get(url + path, allow_redirects=False, timeout=10)
        assert anonymous.status_code == (401 if path.endswith(".csv") else 303)
        assert agent.get(url + path, allow_redirects=False, timeout=10).status_code == 403
    assert requests.get(url + "/", allow_redirects=False, timeout=10).headers["location"] == "/login"
    admin = signed_in(url, "admin", PASSWORD)
    csv_text = admin.get(f"{url}/analytics/report.csv?{RANGE}", timeout=10).text
    assert csv_text.splitlines()[-1].startswith("total,6,0.6,0.2,0.3333,0.2,4.0,3,2.0,1,0.0,3")
    missing = admin.get(f"{url}/analytics/conversations/999999", timeout=10)
    assert missing.status_code == 404


def test_signing_out(console, page) -> None:  # type: ignore[no-untyped-def]
    url, _ = console
    page.click("#sign-out button")
    page.wait_for_url(f"{url}/login")
    page.goto(f"{url}/analytics")
    assert "/login?next=" in page.url and page.locator("#signed-in-as").count() == 0


def test_a_short_admin_password_is_refused(sqlite_crm: SqlCrm, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput):
        SqlAgentService(sqlite_crm.sessions).create_agent("admin", "Ada Admin", "short", "admin")
