"""Accounts on the shop's website, through single-use links emailed to the address: resetting a forgotten password
and creating an account (the port: crm_adapter/ports.py, `WebsiteAccounts`). The rules both backends share, the
links' emails, and the stand-in for an external CRM, which keeps no website accounts.

A link's token is 32 random bytes (URL-safe); only its SHA-256 is stored, so the table alone lets nobody in. Asking
answers alike whether or not the address has an account, and at most `LINKS_PER_WINDOW` asks of one kind an hour
count for an address (counted under a keyed hash of it, never the address itself).
"""

from __future__ import annotations

import hashlib
import secrets
import unicodedata
from datetime import timedelta

from crm_adapter.domain import Customer, InvalidInput, NotAllowed
from crm_adapter.ports import Notices

RESET, REGISTER = "reset", "register"  # what a link is for (the `purpose` column)
RESET_LIFETIME = timedelta(minutes=30)
REGISTER_LIFETIME = timedelta(hours=24)
LINK_WINDOW = timedelta(hours=1)
LINKS_PER_WINDOW = 5  # per address, per purpose, per window
KEEP_TOKENS = timedelta(days=2)  # rows older than this (used, expired, counted) are deleted
MIN_PASSWORD, MAX_PASSWORD = 10, 1000
MAX_NAME = 80
MAX_TOKEN = 100


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def plausible_token(token: object) -> bool:
    """Whether `token` could be one we made (anything else is refused before the database is asked)."""
    return isinstance(token, str) and 0 < len(token) <= MAX_TOKEN


def lifetime(purpose: str) -> timedelta:
    return RESET_LIFETIME if purpose == RESET else REGISTER_LIFETIME


def check_password(password: str) -> str:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise InvalidInput("password", f"A password needs at least {MIN_PASSWORD} characters.")
    if len(password) > MAX_PASSWORD:
        raise InvalidInput("password", f"A password may have at most {MAX_PASSWORD} characters.")
    return password


def check_name(field: str, value: str) -> str:
    name = (value or "").strip() if isinstance(value, str) else ""
    if not name or len(name) > MAX_NAME or any(unicodedata.category(c).startswith("C") for c in name):
        raise InvalidInput(field, f"Please give a name of 1 to {MAX_NAME} characters.")
    return name


def new_customer_id() -> str:
    return "cus_" + secrets.token_hex(12)


def email_taken() -> NotAllowed:
    return NotAllowed("email_taken", "that address already has an account")


# ---- the links' emails -------------------------------------------------------------------------------------


class AccountMail:
    """Writes the links' emails and hands them to the notices' delivery (SMTP, or the development outbox, named
    like every outbox email so erasure removes them). `site_url` is the website's public origin."""

    def __init__(self, notices: Notices, site_url: str) -> None:
        self.notices = notices
        self.site_url = site_url.rstrip("/")

    def reset_link(self, email: str, first_name: str, token: str) -> None:
        minutes = int(RESET_LIFETIME.total_seconds() // 60)
        self.notices.send_notice(
            email,
            first_name,
            "Reset your Juniper Home password",
            "Someone (we hope you) asked to reset the password of your Juniper Home account. To choose a new one, "
            f"open this link; it works once, for {minutes} minutes:\n\n{self.site_url}/reset?token={token}\n\n"
            "If you didn't ask, ignore this email: your password stays as it is.",
        )

    def confirm_link(self, email: str, first_name: str, token: str) -> None:
        hours = int(REGISTER_LIFETIME.total_seconds() // 3600)
        self.notices.send_notice(
            email,
            first_name,
            "Confirm your Juniper Home account",
            "Thank you for creating an account with Juniper Home. To confirm it, open this link; it works once, "
            f"for {hours} hours:\n\n{self.site_url}/register/confirm?token={token}\n\n"
            "If you didn't ask, ignore this email: no account is made without the link.",
        )

    def already_registered(self, email: str, first_name: str) -> None:
        self.notices.send_notice(
            email,
            first_name,
            "You already have a Juniper Home account",
            "Someone (we hope you) asked to create a Juniper Home account with this address, which already has "
            f"one. If you've forgotten its password, you can reset it here:\n\n{self.site_url}/forgot\n\n"
            "If you didn't ask, ignore this email: nothing has changed.",
        )


class NoWebsiteAccounts:
    """With an external CRM the website keeps no accounts: asking for a reset or a new account is refused."""

    def _refuse(self) -> NotAllowed:
        return NotAllowed("website_accounts", "an external CRM keeps no website accounts")

    def request_password_reset(self, email: str) -> None:
        raise self._refuse()

    def reset_password(self, token: str, new_password: str) -> Customer:
        raise self._refuse()

    def request_account(self, first_name: str, last_name: str, email: str, password: str) -> None:
        raise self._refuse()

    def confirm_account(self, token: str) -> Customer:
        raise self._refuse()
