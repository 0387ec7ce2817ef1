"""The demo shop's website (Juniper Home), with the web chat widget on every page.

It plays the part of the business's own website: visitors browse anonymously or sign in, and the page
a signed-in customer sees hands the chat widget a short-lived token signed with WEB_IDENTITY_SECRET
(shared/web_identity.py), so the bot knows who they are without ever trusting a customer id the browser
could invent. A real site does the same from its own login; only the signing is needed from it.

    GET  /             the shop's page, with the widget and links to a few products
    GET  /products/SKU a product's page: its name, average stars and count, the reviews customers let us show
                       (first name and last initial, stars, words, date); an unknown SKU gets a 404 page
    GET  /signin       the sign-in form
    POST /signin       sign in with a customer's website password; POST /signout signs out
    GET  /forgot       ask for a password reset link (POST: the same answer whether or not there is an account)
    GET  /reset        the new password form of an emailed reset link (POST: set it, end every sign-in)
    GET  /register     ask for an account (POST: "check your email", whether or not the address has one)
    GET  /register/confirm   the emailed confirmation link's page (POST: create the account and sign in)
    GET  /static/webchat.js   the widget (rasa-webchat from the npm registry, website/node_modules)

Each sign-in is a record on the server (the CRM's website_sessions, through `WebsiteSignIns`): the session
cookie and every identity token handed to the widget name it, and count only while it lasts. Signing out ends
it, so a cookie or a token kept from before recognises nobody any more (the bot's session start checks the
token's sign-in: actions/session.py), and tells the browser to clear the site's storage (`Clear-Site-Data`),
where the widget keeps its chat.

Only customers with a website password can sign in: the password is kept as a salted scrypt hash
(shared/passwords.py) on the customer's record; the seed gives one (WEBSITE_DEMO_PASSWORD) to the demo
customers alone. An unknown email is checked against a dummy hash, so it is refused with the same words in
about the same time as a wrong password. With an external CRM nobody can sign in.

Resetting a password and creating an account go through single-use links emailed to the address
(`WebsiteAccounts`, crm_adapter/accounts.py); the pages answer alike whether or not the address has an account.
Their forms carry a CSRF token: the HMAC of a random cookie (SameSite=Strict) under the site's key, checked on
every POST. A link is used only by a POST from its page, so a mail scanner opening it uses nothing up.

Every response carries frame protection, nosniff and a referrer policy; every page carries a Content
Security Policy that allows its own scripts (the widget from /static, the page's one inline script by a
nonce), the Rasa server's socket.io URL and nothing else, and is never cached (it may hold a token).

The widget is rasa-webchat: the web chat widget made for Rasa's socket.io channel, with buttons, quick
replies, a typing indicator and a conversation that survives page loads, ready made and maintained.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Protocol
from urllib.parse import urlsplit

from fastapi import FastAPI, Form, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup

from crm_adapter.accounts import MIN_PASSWORD, NoWebsiteAccounts, plausible_token
from crm_adapter.domain import CrmError, CrmUnavailable, InvalidInput, NotAllowed, NotFound, VerificationFailed
from crm_adapter.ports import WebsiteAccounts, WebsiteSignIns
from knowledge.articles import SLUG, Article, to_html
from knowledge.store import ArticleInfo
from reviews.ports import ReviewStore
from reviews.unavailable import ExternalCrmReviews
from shared import log_redaction, web_identity
from shared.passwords import dummy_hash, verify_password

if TYPE_CHECKING:
    from hearth.container import Container

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
TEMPLATES = Jinja2Templates(directory=str(HERE / "templates"))
WIDGET = HERE / "node_modules" / "rasa-webchat" / "lib" / "index.js"
SESSION_COOKIE = "juniper_session"
SESSION_HOURS = 8
CSRF_COOKIE = "juniper_csrf"
SENT = "If that address has an account, we've emailed a link; it works once, for 30 minutes."
CHECK_EMAIL = "Check your email to confirm: we've sent a link to the address you gave."
NOTICES = {"reset": "Your password has been changed, and every earlier sign-in ended. Sign in with the new one."}
HOME_PRODUCTS = 6  # products linked from the home page
SKU = re.compile(r"^[A-Za-z0-9-]{1,24}$")


@dataclass(frozen=True)
class Account:
    """A customer as the site's sign-in sees them."""

    customer_id: str
    first_name: str
    password_hash: str | None  # None: no website password, no sign-in


# email -> the account, or None; the demo site's stand-in for a shop's own account database
FindCustomer = Callable[[str], "Account | None"]


class HelpCentre(Protocol):
    """The help articles the /help pages show (knowledge/store.py's KnowledgeStore)."""

    def published(self) -> list[Article]: ...

    def listing(self, query: str = "", status: str | None = None, limit: int = 500) -> list[ArticleInfo]: ...

    def get(self, slug: str) -> Article | None: ...


@dataclass(frozen=True)
class Visitor:
    """A signed-in visitor: who, and the sign-in their cookie names."""

    customer_id: str
    first_name: str
    sign_in: str


@dataclass(frozen=True)
class SiteSettings:
    socket_url: str  # where browsers reach the Rasa server's socket.io channel
    identity_secret: str  # shared with the Rasa server
    token_ttl: int = 3600  # seconds a widget's identity token stays valid


SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def socket_sources(socket_url: str) -> str:
    """The origins the widget connects to: the socket.io URL's, over HTTP (polling) and WebSocket."""
    parts = urlsplit(socket_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return ""
    websocket = "wss" if parts.scheme == "https" else "ws"
    return f" {parts.scheme}://{parts.netloc} {websocket}://{parts.netloc}"


def content_security_policy(socket_url: str, nonce: str) -> str:
    return (
        "default-src 'none'; "
        f"script-src 'self' 'nonce-{nonce}'; "
        # the widget adds its own <style> elements and style attributes
        "style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; "
        f"connect-src 'self'{socket_sources(socket_url)}; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    )


def _session_secret(identity_secret: str) -> str:
    """The site's cookie key, derived from (never equal to) the secret the bot checks: a session cookie
    is not a chat token."""
    return hmac.new(identity_secret.encode(), b"juniper-site-session", hashlib.sha256).hexdigest()


def create_app(
    settings: SiteSettings,
    find_customer: FindCustomer,
    sign_ins: WebsiteSignIns,
    accounts: WebsiteAccounts | None = None,
    reviews: ReviewStore | None = None,
    help_centre: HelpCentre | None = None,
) -> FastAPI:
    """`accounts`: password resets and new accounts; `reviews`: the products and their reviews (none kept when not
    given, as with an external CRM); `help_centre`: the published help articles (/help)."""
    product_reviews: ReviewStore = reviews or ExternalCrmReviews()
    web_identity.sign(settings.identity_secret, "check", 60)  # refuse to start with a secret too short
    app = FastAPI(title="Juniper Home (demo website)", docs_url=None, redoc_url=None, openapi_url=None)
    cookie_secret = _session_secret(settings.identity_secret)
    site_accounts: WebsiteAccounts = accounts if accounts is not None else NoWebsiteAccounts()

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        response.headers.setdefault("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
        return response

    def name_mac(token: str, first_name: str) -> str:
        return hmac.new(cookie_secret.encode(), f"{token}|{first_name}".encode(), hashlib.sha256).hexdigest()

    def signed_in(request: Request) -> Visitor | None:
        """The visitor the session cookie names, while the sign-in it names lasts."""
        token, _, rest = request.cookies.get(SESSION_COOKIE, "").partition("|")
        first_name, _, mac = rest.rpartition("|")
        try:
            checked = web_identity.verify(cookie_secret, token)
        except web_identity.InvalidToken:
            return None
        if not hmac.compare_digest(mac, name_mac(token, first_name)) or checked.sign_in is None:
            return None
        try:
            if not sign_ins.is_active(checked.sign_in, checked.customer_id):
                return None  # signed out (here or in another tab), or lapsed
        except CrmUnavailable:
            return None
        return Visitor(checked.customer_id, first_name, checked.sign_in)

    def page(request: Request, template: str, status: int = 200, **context: Any) -> Response:
        visitor = signed_in(request)
        widget: dict[str, Any] = {
            "socketUrl": settings.socket_url,
            "socketPath": "/socket.io/",
            "initPayload": "/greet",
            "title": "Juno",
            "subtitle": "Juniper Home customer service",
            "inputTextFieldHint": "Type a message…",
            "params": {"storage": "local"},
            "customData": {},
        }
        if visitor:
            token = web_identity.sign(
                settings.identity_secret, visitor.customer_id, settings.token_ttl, sign_in=visitor.sign_in
            )
            widget["customData"] = {"identity_token": token}
        # Signing in or out starts a new chat, so one person's conversation never shows up for the next.
        owner = visitor.customer_id if visitor else ""
        chat_owner = hashlib.sha256(f"{owner}|{cookie_secret}".encode()).hexdigest()[:16]
        nonce = secrets.token_urlsafe(18)
        csrf_cookie = request.cookies.get(CSRF_COOKIE, "")
        new_csrf_cookie = None if len(csrf_cookie) == 32 else secrets.token_hex(16)
        response = TEMPLATES.TemplateResponse(
            request,
            template,
            {
                "visitor": (visitor.customer_id, visitor.first_name) if visitor else None,
                "widget": Markup(json.dumps(widget).replace("<", "\\u003c")),
                "chat_owner": chat_owner,
                "nonce": nonce,
                "csrf": csrf_mac(new_csrf_cookie or csrf_cookie),
                **context,
            },
            status_code=status,
        )
        response.headers["Content-Security-Policy"] = content_security_policy(settings.socket_url, nonce)
        response.headers["Cache-Control"] = "no-store"
        if new_csrf_cookie:
            response.set_cookie(CSRF_COOKIE, new_csrf_cookie, httponly=True, samesite="strict")
        return response

    def csrf_mac(value: str) -> str:
        return hmac.new(cookie_secret.encode(), f"csrf|{value}".encode(), hashlib.sha256).hexdigest()

    def csrf_ok(request: Request, token: str) -> bool:
        cookie = request.cookies.get(CSRF_COOKIE, "")
        return len(cookie) == 32 and hmac.compare_digest(token.encode(), csrf_mac(cookie).encode())

    def refused_csrf(request: Request) -> Response:
        return page(
            request,
            "message.html",
            403,
            title="Please try again",
            text="That form had expired or did not come from this site. Open it again and resend it.",
            link=("/", "Back to the shop"),
        )

    def unavailable(request: Request, title: str) -> Response:
        text = "That is not possible just now. Please try again later."
        return page(request, "message.html", 503, title=title, text=text, link=("/", "Back to the shop"))

    def signed_in_redirect(customer_id: str, first_name: str, to: str = "/") -> Response:
        """Starts a sign-in and hands the browser its cookie (CrmError when the sign-in cannot be kept)."""
        sign_in = sign_ins.start(customer_id, SESSION_HOURS * 3600)
        session = web_identity.sign(cookie_secret, customer_id, SESSION_HOURS * 3600, sign_in=sign_in)
        redirect = RedirectResponse(to, status_code=303)
        cookie = f"{session}|{first_name}|{name_mac(session, first_name)}"
        redirect.set_cookie(SESSION_COOKIE, cookie, max_age=SESSION_HOURS * 3600, httponly=True, samesite="lax")
        return redirect

    @app.get("/", response_class=HTMLResponse)
    def home(request: Request) -> Response:
        try:
            products = product_reviews.catalogue(HOME_PRODUCTS)
        except CrmError:
            products = []
        return page(request, "home.html", products=products)

    @app.get("/products/{sku}", response_class=HTMLResponse)
    def product(request: Request, sku: str) -> Response:
        if not SKU.match(sku):
            return page(request, "not_found.html", 404, what="product")
        try:
            found = product_reviews.product(sku)
        except (NotFound, NotAllowed):  # never sold here, or reviews kept elsewhere (an external CRM)
            return page(request, "not_found.html", 404, what="product")
        except CrmUnavailable:
            return page(request, "not_found.html", 503, what="unavailable")
        return page(request, "product.html", product=found)

    @app.get("/help", response_class=HTMLResponse)
    def help_index(request: Request, q: Annotated[str, Query(max_length=200)] = "") -> Response:
        if help_centre is None:
            return page(request, "not_found.html", 404, what="page")
        try:
            found = help_centre.listing(q, status="published") if q.strip() else help_centre.published()
        except CrmUnavailable:
            return page(request, "not_found.html", 503, what="unavailable")
        return page(request, "help.html", articles=found, query=q.strip())

    @app.get("/help/{slug}", response_class=HTMLResponse)
    def help_article(request: Request, slug: str) -> Response:
        if help_centre is None or not SLUG.match(slug):
            return page(request, "not_found.html", 404, what="page")
        try:
            article = help_centre.get(slug)
        except CrmUnavailable:
            return page(request, "not_found.html", 503, what="unavailable")
        if article is None or article.status != "published":  # drafts and unpublished articles are the team's
            return page(request, "not_found.html", 404, what="page")
        return page(request, "help_article.html", article=article, body=Markup(to_html(article.body)))

    @app.get("/signin", response_class=HTMLResponse)
    def signin_form(request: Request, notice: str = "") -> Response:
        return page(request, "signin.html", notice=NOTICES.get(notice))

    @app.post("/signin", response_class=HTMLResponse)
    def signin(
        request: Request, email: Annotated[str, Form(max_length=254)] = "", password: Annotated[str, Form()] = ""
    ) -> Response:
        found = find_customer(email.strip())
        password_hash = found.password_hash if found is not None else None
        # one scrypt either way: an unknown email takes as long to refuse as a wrong password
        matches = verify_password(password, password_hash or dummy_hash())
        if found is None or password_hash is None or not matches:
            return page(request, "signin.html", 401, error="That email and password don't match an account.")
        try:
            return signed_in_redirect(found.customer_id, found.first_name)
        except CrmError:
            return page(request, "signin.html", 503, error="Signing in is not possible just now. Please try later.")

    # ---- a forgotten password ----------------------------------------------------------------------------

    @app.get("/forgot", response_class=HTMLResponse)
    def forgot_form(request: Request) -> Response:
        return page(request, "forgot.html")

    @app.post("/forgot", response_class=HTMLResponse)
    def forgot(request: Request, email: Annotated[str, Form()] = "", csrf: Annotated[str, Form()] = "") -> Response:
        if not csrf_ok(request, csrf):
            return refused_csrf(request)
        try:
            site_accounts.request_password_reset(email)
        except InvalidInput:
            error = "That doesn't look like an email address."
            return page(request, "forgot.html", 400, error=error, email=email)
        except CrmError:
            return unavailable(request, "Resetting a password")
        return page(request, "message.html", title="Check your email", text=SENT, link=("/signin", "Back to sign in"))

    @app.get("/reset", response_class=HTMLResponse)
    def reset_form(request: Request, token: Annotated[str, Query()] = "") -> Response:
        if not plausible_token(token):
            return bad_link(request, "/forgot", "ask for a new one")
        return page(request, "reset.html", token=token, min_password=MIN_PASSWORD)

    @app.post("/reset", response_class=HTMLResponse)
    def reset(
        request: Request,
        token: Annotated[str, Form()] = "",
        password: Annotated[str, Form()] = "",
        password2: Annotated[str, Form()] = "",
        csrf: Annotated[str, Form()] = "",
    ) -> Response:
        if not csrf_ok(request, csrf):
            return refused_csrf(request)
        if not plausible_token(token):
            return bad_link(request, "/forgot", "ask for a new one")
        error = None
        if password != password2:
            error = "The two passwords are not the same."
        elif len(password) < MIN_PASSWORD:
            error = f"A password needs at least {MIN_PASSWORD} characters."
        if error:
            return page(request, "reset.html", 400, token=token, error=error, min_password=MIN_PASSWORD)
        try:
            site_accounts.reset_password(token, password)
        except InvalidInput as exc:
            return page(request, "reset.html", 400, token=token, error=str(exc), min_password=MIN_PASSWORD)
        except VerificationFailed:
            return bad_link(request, "/forgot", "ask for a new one")
        except CrmError:
            return unavailable(request, "Resetting a password")
        redirect = RedirectResponse("/signin?notice=reset", status_code=303)
        redirect.delete_cookie(SESSION_COOKIE)  # every sign-in of the customer has ended, this browser's too
        return redirect

    def bad_link(request: Request, again: str, what: str) -> Response:
        return page(
            request,
            "message.html",
            400,
            title="That link doesn't work",
            text="The link is unknown, already used or expired: each works once, for a limited time.",
            link=(again, f"You can {what} here"),
        )

    # ---- a new account -----------------------------------------------------------------------------------

    @app.get("/register", response_class=HTMLResponse)
    def register_form(request: Request) -> Response:
        return page(request, "register.html", min_password=MIN_PASSWORD, form={})

    @app.post("/register", response_class=HTMLResponse)
    def register(
        request: Request,
        first_name: Annotated[str, Form()] = "",
        last_name: Annotated[str, Form()] = "",
        email: Annotated[str, Form()] = "",
        password: Annotated[str, Form()] = "",
        password2: Annotated[str, Form()] = "",
        csrf: Annotated[str, Form()] = "",
    ) -> Response:
        if not csrf_ok(request, csrf):
            return refused_csrf(request)
        form = {"first_name": first_name, "last_name": last_name, "email": email}
        error = "The two passwords are not the same." if password != password2 else None
        if error is None:
            try:
                site_accounts.request_account(first_name, last_name, email, password)
            except InvalidInput as exc:
                error = str(exc)
            except CrmError:
                return unavailable(request, "Creating an account")
        if error:
            return page(request, "register.html", 400, error=error, form=form, min_password=MIN_PASSWORD)
        return page(request, "message.html", title="Check your email", text=CHECK_EMAIL, link=("/", "Back to the shop"))

    @app.get("/register/confirm", response_class=HTMLResponse)
    def confirm_form(request: Request, token: Annotated[str, Query()] = "") -> Response:
        if not plausible_token(token):
            return bad_link(request, "/register", "ask for an account again")
        return page(request, "confirm.html", token=token)

    @app.post("/register/confirm", response_class=HTMLResponse)
    def confirm(request: Request, token: Annotated[str, Form()] = "", csrf: Annotated[str, Form()] = "") -> Response:
        if not csrf_ok(request, csrf):
            return refused_csrf(request)
        try:
            customer = site_accounts.confirm_account(token)
        except VerificationFailed:
            return bad_link(request, "/register", "ask for an account again")
        except NotAllowed as exc:
            if exc.reason != "email_taken":
                return unavailable(request, "Creating an account")
            return page(
                request,
                "message.html",
                409,
                title="That address already has an account",
                text="Someone created an account with this address in the meantime.",
                link=("/forgot", "If it's yours, reset its password here"),
            )
        except CrmError:
            return unavailable(request, "Creating an account")
        try:
            return signed_in_redirect(customer.customer_id, customer.first_name)
        except CrmError:  # the account stands; signing in can wait
            return RedirectResponse("/signin", status_code=303)

    @app.post("/signout")
    def signout(request: Request) -> Response:
        visitor = signed_in(request)
        if visitor is not None:
            # the sign-in ends on the server: its cookie, and every token the widget was given, count no more
            try:
                sign_ins.end(visitor.sign_in)
            except CrmUnavailable:
                log.warning("sign-out could not end the sign-in on the server (CRM unavailable); cookie removed")
        redirect = RedirectResponse("/", status_code=303)
        redirect.delete_cookie(SESSION_COOKIE)
        # and the browser forgets the site's storage, where the widget keeps its chat session
        redirect.headers["Clear-Site-Data"] = '"storage"'
        return redirect

    @app.get("/static/webchat.js")
    def widget_script() -> Response:
        if not WIDGET.exists():
            return JSONResponse({"error": "the widget is not installed: run scripts/bootstrap.sh"}, status_code=503)
        return FileResponse(WIDGET, media_type="text/javascript", headers={"Cache-Control": "max-age=3600"})

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def app_from_env() -> FastAPI:
    """For `uvicorn --factory website.app:app_from_env` (the run command's `website` process)."""
    from hearth.container import container

    log_redaction.install()  # emails and phone numbers masked in every log line of this process
    return app_for(container())


def app_for(box: Container) -> FastAPI:
    """The site on a container's services (the CRM's accounts, sign-ins and account links)."""
    settings = box.settings
    if not settings.web_identity_secret:
        raise RuntimeError("Set WEB_IDENTITY_SECRET: the website signs the widget's identity tokens with it.")
    return create_app(
        SiteSettings(
            socket_url=settings.webchat_socket_url,
            identity_secret=settings.web_identity_secret,
            token_ttl=settings.web_identity_ttl,
        ),
        accounts_of(box.crm),
        box.website_sign_ins,
        box.website_accounts,
        box.product_reviews,
        box.knowledge.store,  # ours whatever the CRM
    )


def accounts_of(crm: object) -> FindCustomer:
    """The sign-in's accounts on the CRM: the SQL CRM's customers and their website passwords. An external
    CRM keeps no website passwords: nobody can sign in."""
    by_email = getattr(crm, "customer_by_email", None)
    password_hash_of = getattr(crm, "website_password_hash", None)

    def find_customer(email: str) -> Account | None:
        if by_email is None or password_hash_of is None:
            return None
        customer = by_email(email)
        if customer is None:
            return None
        return Account(customer.customer_id, customer.first_name, password_hash_of(customer.customer_id))

    return find_customer
