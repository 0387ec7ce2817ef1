"""The shop website's sign-ins: what an id looks like, and the stand-in for an external CRM, where nobody signs in
(the port: crm_adapter/ports.py, `WebsiteSignIns`)."""

from __future__ import annotations

import secrets

from crm_adapter.domain import NotAllowed

MAX_SIGN_IN_SECONDS = 24 * 3600


def new_sign_in_id() -> str:
    """An unguessable sign-in id (it is named in signed tokens; nothing is gained by guessing one)."""
    return "si_" + secrets.token_hex(16)


def check_lifetime(lifetime_seconds: int) -> None:
    if not 0 < lifetime_seconds <= MAX_SIGN_IN_SECONDS:
        raise ValueError(f"a website sign-in lasts between 1 s and {MAX_SIGN_IN_SECONDS} s")


class NoWebsiteSignIns:
    """With an external CRM the website keeps no accounts: nobody signs in, so no token names a live sign-in."""

    def start(self, customer_id: str, lifetime_seconds: int) -> str:
        raise NotAllowed("website_sign_in", "an external CRM keeps no website accounts")

    def is_active(self, sign_in_id: str, customer_id: str) -> bool:
        return False

    def end(self, sign_in_id: str) -> bool:
        return False
