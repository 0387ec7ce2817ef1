"""The demo website (website/app.py) under uvicorn: sign-in, the session cookie, the identity token it
hands the chat widget only for a signed-in customer, and the headers that keep its pages out of caches and
frames."""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests

from crm_adapter.accounts import AccountMail
from crm_adapter.sql.models import CustomerRow, WebsiteSessionRow
from crm_adapter.sql.website_sessions import SqlWebsiteSignIns
from hearth.seed import DEMO_CUSTOMERS, seed
from shared.passwords import hash_password, verify_password
from shared.web_identity import sign, verify
from tests.asgi_server import serve
from tests.conftest import SqlCrm
from tests.factories import Clock
from tests.fakes import MemoryArrange, MemoryCrmStore, RecordingNotices
from tests.fakes.website import MemoryWebsiteAccounts, MemoryWebsiteSignIns
from tests.web_chat_client import widget_config
from website.app import SESSION_COOKIE, Account, SiteSettings, accounts_of, create_app

pytestmark = pytest.mark.integration
SECRET = "s" * 40


class Site(requests.Session):
    """A browser-like client (cookies kept) of the demo website, served by uvicorn on a free port."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url

    def request(self, method, path, *args, **kwargs):  # type: ignore[no-untyped-def, override]
        return super().request(method, self.url + path, *args, **kwargs)


@dataclass
class Customers:
    """The site's two customers, and their sign-ins in memory (held to the SQL store's contract)."""

    sign_ins: MemoryWebsiteSignIns
    anna: str
    bob: str


@pytest.fixture
def customers() -> Customers:
    store = MemoryCrmStore()
    arrange = MemoryArrange(store)
    return Customers(MemoryWebsiteSignIns(store), arrange.add_customer("Anna"), arrange.add_customer("Bob"))


@pytest.fixture
def site(customers: Customers):  # type: ignore[no-untyped-def]
    accounts = {
        "anna@example.com": Account(customers.anna, "Anna", hash_password("pw")),
        "bob@example.com": Account(customers.bob, "Bob", None),  # a customer without a website password
    }
    settings = SiteSettings(socket_url="http://rasa.example", identity_secret=SECRET)
    with serve(create_app(settings, accounts.get, customers.sign_ins)) as url, Site(url) as client:
        yield client


def test_the_page_hands_the_widget_a_token_only_for_a_signed_in_customer(site: Site, customers: Customers):
    anonymous = widget_config(site.get("/").text)
    assert anonymous["customData"] == {} and anonymous["socketUrl"] == "http://rasa.example"

    wrong = site.post("/signin", data={"email": "anna@example.com", "password": "nope"}, allow_redirects=False)
    assert wrong.status_code == 401 and SESSION_COOKIE not in wrong.cookies
    assert site.post("/signin", data={"email": "bob@example.com", "password": "pw"}).status_code == 401

    ok = site.post("/signin", data={"email": "anna@example.com", "password": "pw"}, allow_redirects=False)
    assert ok.status_code == 303
    page = site.get("/").text
    assert "Signed in as Anna" in page
    token = widget_config(page)["customData"]["identity_token"]
    assert verify(SECRET, token).customer_id == customers.anna

    site.post("/signout")
    assert widget_config(site.get("/").text)["customData"] == {}


def test_a_tampered_session_cookie_signs_nobody_in(site: Site, customers: Customers):
    site.post("/signin", data={"email": "anna@example.com", "password": "pw"})
    cookie = site.cookies[SESSION_COOKIE].strip('"')
    assert "Signed in as Anna" in site.get("/").text
    token, name, mac = cookie.split("|")
    for forged in (f"{token}|Mallory|{mac}", f"{sign(SECRET, customers.anna)}|Anna|{mac}", "garbage"):
        site.cookies.clear()
        site.cookies.set(SESSION_COOKIE, forged)
        page = site.get("/").text
        assert "Signed in as" not in page and widget_config(page)["customData"] == {}


def test_signing_out_ends_the_sign_in_so_its_cookie_and_tokens_stop_counting(site: Site, customers: Customers):
    """Finding 8: the widget's identity token stayed valid for its full hour after sign-out, and so did the
    session cookie for its eight. Now both name a sign-in on the server, which signing out ends."""
    sign_ins, anna = customers.sign_ins, customers.anna
    assert signin(site, "anna@example.com", "pw").status_code == 303
    kept_cookie = site.cookies[SESSION_COOKIE]
    token = widget_config(site.get("/").text)["customData"]["identity_token"]
    sign_in = verify(SECRET, token).sign_in
    assert sign_in and sign_ins.is_active(sign_in, anna)

    out = site.post("/signout", allow_redirects=False)

    assert out.status_code == 303 and out.headers["Clear-Site-Data"] == '"storage"'
    assert not sign_ins.is_active(sign_in, anna)  # its tokens name an ended sign-in: the bot recognises nobody
    assert sign_ins.store.website_sessions[sign_in].ended_at is not None
    # the cookie kept from before signing out signs nobody in
    site.cookies.clear()
    site.cookies.set(SESSION_COOKIE, kept_cookie)
    page = site.get("/").text
    assert "Signed in as" not in page and widget_config(page)["customData"] == {}
    # signing in again is a new sign-in, with new tokens; the old one stays ended
    assert signin(site, "anna@example.com", "pw").status_code == 303
    again = verify(SECRET, widget_config(site.get("/").text)["customData"]["identity_token"]).sign_in
    assert again and again != sign_in and sign_ins.is_active(again, anna)
    assert not sign_ins.is_active(sign_in, anna)


def test_signing_out_in_one_browser_leaves_another_signed_in(site: Site):
    with Site(site.url) as other:
        signin(site, "anna@example.com", "pw")
        signin(other, "anna@example.com", "pw")
        site.post("/signout")
        assert "Signed in as Anna" in other.get("/").text
        assert "Signed in as" not in site.get("/").text


def test_a_cookie_without_a_sign_in_signs_nobody_in(site: Site, customers: Customers):
    """A cookie signed with the site's key but naming no sign-in (as cookies were before sign-ins were kept)."""
    signin(site, "anna@example.com", "pw")
    _, name, _ = site.cookies[SESSION_COOKIE].strip('"').split("|")
    import website.app as module

    cookie_secret = module._session_secret(SECRET)
    old = sign(cookie_secret, customers.anna, 3600)
    mac = hmac.new(cookie_secret.encode(), f"{old}|{name}".encode(), hashlib.sha256).hexdigest()
    site.cookies.clear()
    site.cookies.set(SESSION_COOKIE, f"{old}|{name}|{mac}")
    assert "Signed in as" not in site.get("/").text


def test_the_widget_script_is_served(site: Site):
    response = site.get("/static/webchat.js")
    assert response.status_code == 200 and "WebChat" in response.text[:2000]


# ---- per-customer passwords on the seeded CRM ---------------------------------------------------------


@pytest.fixture
def shop(sql_crm: SqlCrm):  # type: ignore[no-untyped-def]
    """The site on a CRM seeded as the product seeds it (the demo customers' password: "juniper")."""
    seed(sql_crm.sessions, customers=12)
    settings = SiteSettings(socket_url="http://rasa.example", identity_secret=SECRET)
    sign_ins = SqlWebsiteSignIns(sql_crm.sessions)
    with serve(create_app(settings, accounts_of(sql_crm.service), sign_ins)) as url, Site(url) as client:
        yield client


def signin(site: Site, email: str, password: str) -> requests.Response:
    return site.post("/signin", data={"email": email, "password": password}, allow_redirects=False)


def test_only_the_demo_customers_sign_in_and_each_with_their_own_hashed_password(shop: Site, sql_crm: SqlCrm):
    """Finding 2: the site signed in every customer of the CRM with the one shared demo password."""
    with sql_crm.sessions() as s:
        rows = s.query(CustomerRow).all()
    demo_ids = {d.customer_id for d in DEMO_CUSTOMERS}
    others = [row for row in rows if row.id not in demo_ids]
    assert others and all(row.website_password_hash is None for row in others)
    demo_hashes = [row.website_password_hash for row in rows if row.id in demo_ids]
    assert len(set(demo_hashes)) == 3 and all(h and h.startswith("scrypt$") and "juniper" not in h for h in demo_hashes)

    refused = signin(shop, others[0].email, "juniper")  # a customer who is not a demo customer
    assert refused.status_code == 401 and SESSION_COOKIE not in refused.cookies
    assert widget_config(shop.get("/").text)["customData"] == {}

    for demo in DEMO_CUSTOMERS:
        shop.cookies.clear()
        assert signin(shop, demo.email, "juniper").status_code == 303
        page = shop.get("/").text
        assert verify(SECRET, widget_config(page)["customData"]["identity_token"]).customer_id == demo.customer_id


def test_a_sign_in_is_kept_in_the_crm_database_and_signing_out_ends_it_there(shop: Site, sql_crm: SqlCrm):
    assert signin(shop, "anna.berg@example.com", "juniper").status_code == 303
    token = widget_config(shop.get("/").text)["customData"]["identity_token"]
    sign_in = verify(SECRET, token).sign_in
    with sql_crm.sessions() as s:
        row = s.get(WebsiteSessionRow, sign_in)
        assert row is not None and row.customer_id == "cus_demo_anna" and row.ended_at is None

    shop.post("/signout")

    with sql_crm.sessions() as s:
        row = s.get(WebsiteSessionRow, sign_in)
        assert row is not None and row.ended_at is not None
    assert not SqlWebsiteSignIns(sql_crm.sessions).is_active(sign_in, "cus_demo_anna")


def test_an_unknown_email_and_a_wrong_password_get_the_same_answer_in_about_the_same_time(
    shop: Site, monkeypatch: pytest.MonkeyPatch
):
    import website.app as module

    checked: list[str] = []
    real = module.verify_password
    monkeypatch.setattr(module, "verify_password", lambda pw, encoded: checked.append(encoded) or real(pw, encoded))

    answers = {}
    for email, password in (("nobody@example.com", "juniper"), ("anna.berg@example.com", "not-juniper")):
        times, response = [], None
        for _ in range(5):
            start = time.perf_counter()
            response = signin(shop, email, password)
            times.append(time.perf_counter() - start)
        assert response is not None and response.status_code == 401 and SESSION_COOKIE not in response.cookies
        body = re.sub(r"nonce-[^;']+|nonce=\"[^\"]+\"|\"[0-9a-f]{16}\"", "", response.text)
        answers[email] = (body, min(times))
    (unknown_body, unknown_time), (wrong_body, wrong_time) = answers.values()
    assert unknown_body == wrong_body
    # one scrypt check each time, whether or not the email is a customer's
    assert len(checked) == 10 and all(encoded.startswith("scrypt$16384$8$1$") for encoded in checked)
    # so the fastest of each takes about as long (without the dummy hash an unknown email is many times faster)
    assert unknown_time > wrong_time / 3 and wrong_time > unknown_time / 3


def test_an_external_crm_has_no_website_accounts():
    class ExternalCrm:  # the HTTP CRM: customers by email perhaps, but no website passwords
        def customer_by_email(self, email: str) -> object:
            raise AssertionError("not asked")

    assert accounts_of(ExternalCrm())("anna.berg@example.com") is None
    assert accounts_of(object())("anna.berg@example.com") is None


def test_pages_are_not_cached_framed_or_open_to_other_scripts(site: Site):
    """Finding 8: pages carrying the widget's identity token had no Cache-Control, CSP or frame protection."""
    signin(site, "anna@example.com", "pw")
    for path in ("/", "/signin"):
        response = site.get(path)
        assert widget_config(response.text)["customData"]["identity_token"]
        headers = response.headers
        assert headers["Cache-Control"] == "no-store", path
        assert headers["X-Frame-Options"] == "DENY" and headers["X-Content-Type-Options"] == "nosniff", path
        assert headers["Referrer-Policy"] == "same-origin", path
        policy = dict(
            (d.split(" ", 1) + [""])[:2] for d in (d.strip() for d in headers["Content-Security-Policy"].split(";"))
        )
        assert policy["default-src"] == "'none'" and policy["frame-ancestors"] == "'none'"
        assert policy["connect-src"] == "'self' http://rasa.example ws://rasa.example"
        nonce = re.search(r"'nonce-([^']+)'", policy["script-src"])
        assert nonce and policy["script-src"] == f"'self' 'nonce-{nonce.group(1)}'"
        assert "unsafe-inline" not in policy["script-src"] and "unsafe-eval" not in policy["script-src"]
        # every inline script that runs carries the page's nonce; the widget comes from the site itself
        scripts = re.findall(r"<script([^>]*)>", response.text)
        runnable = [attrs for attrs in scripts if 'type="application/json"' not in attrs]
        assert runnable and all(f'nonce="{nonce.group(1)}"' in attrs for attrs in runnable)
        assert '"/static/webchat.js"' in response.text
    assert site.get("/").headers["Content-Security-Policy"] != site.get("/").headers["Content-Security-Policy"]
    for path in ("/static/webchat.js", "/health"):
        headers = site.get(path).headers
        assert headers["X-Frame-Options"] == "DENY" and headers["X-Content-Type-Options"] == "nosniff", path


# ---- a forgotten password, a new account ----------------------------------------------------------------


@dataclass
class Accounts:
    """The site with accounts (in memory, held to the SQL store's contract), what it emailed, and its clock."""

    site: Site
    store: MemoryCrmStore
    mail: RecordingNotices
    clock: Clock
    anna: str

    def link(self, email: str, path: str) -> str:
        for notice in reversed(self.mail.to(email)):
            found = re.search(re.escape(LINK_SITE + path) + r"\?token=([A-Za-z0-9_\-]+)", notice.body)
            if found:
                return found.group(1)
        raise AssertionError(f"no {path} link emailed to {email}")


LINK_SITE = "https://shop.example.com"


@pytest.fixture
def accounts() -> Iterator[Accounts]:
    store, clock, mail = MemoryCrmStore(), Clock(), RecordingNotices()
    anna = MemoryArrange(store).add_customer("Anna", email="anna@example.com")
    store.customers[anna].website_password_hash = hash_password("old-password")

    def find(email: str) -> Account | None:
        record = store.customer_by_email(email.strip().lower())
        return Account(record.id, record.first_name, record.website_password_hash) if record else None

    sign_ins = MemoryWebsiteSignIns(store, clock=clock)
    site_accounts = MemoryWebsiteAccounts(store, AccountMail(mail, LINK_SITE), clock=clock)
    settings = SiteSettings(socket_url="http://rasa.example", identity_secret=SECRET)
    with serve(create_app(settings, find, sign_ins, site_accounts)) as url, Site(url) as client:
        yield Accounts(client, store, mail, clock, anna)


def csrf_of(site: Site, path: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', site.get(path).text)
    assert found, path
    return found.group(1)


def without_nonces(html: str) -> str:
    return re.sub(r"nonce-[^;']+|nonce=\"[^\"]+\"|\"[0-9a-f]{16}\"|value=\"[0-9a-f]{64}\"", "", html)


def test_the_sign_in_page_leads_to_a_reset_and_to_a_new_account(accounts: Accounts):
    page = accounts.site.get("/signin").text
    assert 'href="/forgot"' in page and "Forgot your password?" in page and 'href="/register"' in page


def test_asking_for_a_reset_answers_alike_whether_or_not_the_address_has_an_account(accounts: Accounts):
    site = accounts.site
    answers = []
    for email in ("anna@example.com", "nobody@example.com"):
        response = site.post("/forgot", data={"email": email, "csrf": csrf_of(site, "/forgot")})
        assert response.status_code == 200
        assert (
            "If that address has an account, we&#39;ve emailed a link; it works once, for 30 minutes" in response.text
        )
        answers.append(without_nonces(response.text))
    assert answers[0] == answers[1]
    assert [n.email for n in accounts.mail.sent] == ["anna@example.com"]


def test_a_password_reset_through_the_pages_ends_every_sign_in_and_the_new_password_works(accounts: Accounts):
    site = accounts.site
    with Site(site.url) as thief:
        assert signin(thief, "anna@example.com", "old-password").status_code == 303
        assert "Signed in as Anna" in thief.get("/").text
        site.post("/forgot", data={"email": "anna@example.com", "csrf": csrf_of(site, "/forgot")})
        token = accounts.link("anna@example.com", "/reset")

        form = site.get(f"/reset?token={token}")
        assert form.status_code == 200 and f'value="{token}"' in form.text
        csrf = csrf_of(site, f"/reset?token={token}")
        different = site.post(
            "/reset", data={"token": token, "password": "new-password-1", "password2": "x", "csrf": csrf}
        )
        assert (
            different.status_code == 400 and "not the same" in different.text and f'value="{token}"' in different.text
        )
        short = site.post("/reset", data={"token": token, "password": "short", "password2": "short", "csrf": csrf})
        assert short.status_code == 400 and "at least 10 characters" in short.text
        done = site.post(
            "/reset",
            data={"token": token, "password": "new-password-1", "password2": "new-password-1", "csrf": csrf},
            allow_redirects=False,
        )
        assert done.status_code == 303 and done.headers["location"] == "/signin?notice=reset"
        assert "Your password has been changed" in site.get("/signin?notice=reset").text

        assert "Signed in as" not in thief.get("/").text  # the thief's sign-in ended
        assert signin(site, "anna@example.com", "old-password").status_code == 401
        assert signin(site, "anna@example.com", "new-password-1").status_code == 303
        assert "Signed in as Anna" in site.get("/").text

        again = site.post(
            "/reset",
            data={"token": token, "password": "other-password-2", "password2": "other-password-2", "csrf": csrf},
        )
        assert again.status_code == 400 and "doesn&#39;t work" in again.text and 'href="/forgot"' in again.text


@pytest.mark.parametrize("token", ["", "unknown-token", "x" * 5000, "<script>alert(1)</script>"])
def test_an_unknown_reset_link_gets_a_clear_page_with_a_way_to_ask_again(accounts: Accounts, token: str):
    site = accounts.site
    csrf = csrf_of(site, "/forgot")
    for response in (
        site.get("/reset", params={"token": token}) if len(token) > 100 or not token else None,
        site.post(
            "/reset", data={"token": token, "password": "new-password-1", "password2": "new-password-1", "csrf": csrf}
        ),
        site.post("/register/confirm", data={"token": token, "csrf": csrf}),
    ):
        if response is None:
            continue
        assert response.status_code == 400 and "doesn&#39;t work" in response.text, response.text
        assert "<script>alert" not in response.text


def test_an_expired_reset_link_gets_the_same_clear_page(accounts: Accounts):
    site = accounts.site
    site.post("/forgot", data={"email": "anna@example.com", "csrf": csrf_of(site, "/forgot")})
    token = accounts.link("anna@example.com", "/reset")
    accounts.clock.advance(minutes=31)
    csrf = csrf_of(site, f"/reset?token={token}")
    expired = site.post(
        "/reset", data={"token": token, "password": "new-password-1", "password2": "new-password-1", "csrf": csrf}
    )
    assert expired.status_code == 400 and 'href="/forgot"' in expired.text
    assert verify_password("old-password", accounts.store.customers[accounts.anna].website_password_hash or "")


def test_a_malformed_address_gets_a_clear_400_and_keeps_what_was_typed(accounts: Accounts):
    site = accounts.site
    response = site.post("/forgot", data={"email": "anna@", "csrf": csrf_of(site, "/forgot")})
    assert response.status_code == 400 and "look like an email" in response.text and 'value="anna@"' in response.text
    assert accounts.mail.sent == []


def test_every_account_form_refuses_a_post_without_its_csrf_token(accounts: Accounts):
    site = accounts.site
    fields = {
        "email": "anna@example.com",
        "first_name": "M",
        "last_name": "O",
        "password": "p" * 12,
        "password2": "p" * 12,
    }
    good = csrf_of(site, "/forgot")
    with Site(site.url) as other:  # another browser's token, and one with no cookie at all
        theirs = csrf_of(other, "/forgot")
        for path in ("/forgot", "/reset", "/register", "/register/confirm"):
            for csrf in (None, "", theirs, good[:-1] + ("1" if good.endswith("0") else "0")):  # a wrong last digit
                data = dict(fields, token="t" * 40) | ({"csrf": csrf} if csrf is not None else {})
                response = site.post(path, data=data, allow_redirects=False)
                assert response.status_code == 403 and "did not come from this site" in response.text, (path, csrf)
            cookie_less = requests.post(site.url + path, data=dict(fields, csrf=good), allow_redirects=False)
            assert cookie_less.status_code == 403, path
    assert accounts.mail.sent == [] and len(accounts.store.account_tokens) == 0


def test_at_most_five_reset_emails_an_hour_reach_an_address_and_the_page_never_says(accounts: Accounts):
    site = accounts.site
    pages = set()
    for _ in range(7):
        response = site.post("/forgot", data={"email": "anna@example.com", "csrf": csrf_of(site, "/forgot")})
        assert response.status_code == 200
        pages.add(without_nonces(response.text))
    assert len(pages) == 1 and len(accounts.mail.to("anna@example.com")) == 5
    accounts.clock.advance(minutes=61)
    site.post("/forgot", data={"email": "anna@example.com", "csrf": csrf_of(site, "/forgot")})
    assert len(accounts.mail.to("anna@example.com")) == 6


def test_a_new_customer_registers_confirms_by_the_emailed_link_and_is_signed_in(accounts: Accounts):
    site = accounts.site
    csrf = csrf_of(site, "/register")
    form = {"first_name": "Maya", "last_name": "Okafor", "email": "maya@example.com", "csrf": csrf}
    different = site.post("/register", data=dict(form, password="mayas-password", password2="mayas-passw0rd"))
    assert different.status_code == 400 and "not the same" in different.text
    assert 'value="Maya"' in different.text and 'value="maya@example.com"' in different.text  # nothing lost
    assert "mayas-password" not in different.text
    short = site.post("/register", data=dict(form, password="short", password2="short"))
    assert short.status_code == 400 and "at least 10 characters" in short.text and 'value="Okafor"' in short.text
    assert accounts.mail.sent == []

    asked = site.post("/register", data=dict(form, password="mayas-password", password2="mayas-password"))
    assert asked.status_code == 200 and "Check your email to confirm" in asked.text
    token = accounts.link("maya@example.com", "/register/confirm")
    assert accounts.store.customer_by_email("maya@example.com") is None

    page = site.get(f"/register/confirm?token={token}")  # opening the link (a mail scanner too) uses nothing up
    assert page.status_code == 200 and f'value="{token}"' in page.text
    confirmed = site.post(
        "/register/confirm", data={"token": token, "csrf": csrf_of(site, "/register")}, allow_redirects=False
    )
    assert confirmed.status_code == 303 and confirmed.headers["location"] == "/"
    home = site.get("/").text
    assert "Signed in as Maya" in home
    maya = accounts.store.customer_by_email("maya@example.com")
    assert (
        maya is not None and verify(SECRET, widget_config(home)["customData"]["identity_token"]).customer_id == maya.id
    )

    site.post("/signout")
    assert signin(site, "maya@example.com", "mayas-password").status_code == 303
    reused = site.post("/register/confirm", data={"token": token, "csrf": csrf_of(site, "/register")})
    assert reused.status_code == 400 and 'href="/register"' in reused.text


def test_registering_a_taken_address_reads_the_same_and_emails_its_owner_the_reset_page(accounts: Accounts):
    site = accounts.site
    answers = []
    for email in ("anna@example.com", "maya@example.com"):
        data = {
            "first_name": "Maya",
            "last_name": "Okafor",
            "email": email,
            "password": "p" * 12,
            "password2": "p" * 12,
        }
        response = site.post("/register", data=dict(data, csrf=csrf_of(site, "/register")))
        assert response.status_code == 200
        answers.append(without_nonces(response.text))
    assert answers[0] == answers[1]
    (notice,) = accounts.mail.to("anna@example.com")
    assert f"{LINK_SITE}/forgot" in notice.body and "token=" not in notice.body
    assert verify_password("old-password", accounts.store.customers[accounts.anna].website_password_hash or "")


def test_with_an_external_crm_the_account_pages_say_it_is_not_possible(site: Site):
    for path, data in (("/forgot", {"email": "anna@example.com"}), ("/register/confirm", {"token": "t" * 40})):
        response = site.post(path, data=dict(data, csrf=csrf_of(site, "/forgot")))
        assert response.status_code == 503 and "not possible just now" in response.text, path
