"""The shop website's accounts on the SQL database (website_account_tokens): password resets and new accounts,
each through a single-use link emailed to the address (the rules and emails: crm_adapter/accounts.py)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from crm_adapter import accounts
from crm_adapter.accounts import REGISTER, RESET, AccountMail
from crm_adapter.domain import CrmUnavailable, Customer, VerificationFailed
from crm_adapter.rules import address_key, utcnow
from crm_adapter.sql.db import unit_of_work
from crm_adapter.sql.lookups import customer_with_email
from crm_adapter.sql.mapping import to_customer
from crm_adapter.sql.models import CustomerRow, WebsiteAccountTokenRow, WebsiteSessionRow
from crm_adapter.validation import normalize_email
from shared.log_redaction import mask_email
from shared.passwords import hash_password

log = logging.getLogger("hearth.codes")

Rows = WebsiteAccountTokenRow


class SqlWebsiteAccounts:
    """Implements `crm_adapter.ports.WebsiteAccounts` on a SQLAlchemy session factory. Addresses are counted under
    `address_key` keyed with `secret`; emails go through `mail` once the row is committed."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        mail: AccountMail,
        secret: str,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessions = sessions
        self._mail = mail
        self._secret = secret.encode()
        self._now = clock

    # ---- asking ------------------------------------------------------------------------------------------

    def request_password_reset(self, email: str) -> None:
        address = normalize_email(email)
        token = accounts.new_token()
        with unit_of_work(self._sessions) as s:
            counted = self._ask(s, RESET, address)
            owner = customer_with_email(s, address)
            # a row either way (the same statements whether or not the address has an account); only the owner's
            # names a customer, and only its token leaves this method
            s.add(self._row(RESET, address, token, customer_id=owner.id if owner is not None else None))
            to_send = (owner.email, owner.first_name) if counted and owner is not None else None
        if to_send is not None:
            self._send(lambda: self._mail.reset_link(to_send[0], to_send[1], token), to_send[0])

    def request_account(self, first_name: str, last_name: str, email: str, password: str) -> None:
        first, last = accounts.check_name("first_name", first_name), accounts.check_name("last_name", last_name)
        address = normalize_email(email)
        accounts.check_password(password)
        password_hash = hash_password(password)  # before the transaction, and whether or not it is kept
        token = accounts.new_token()
        with unit_of_work(self._sessions) as s:
            counted = self._ask(s, REGISTER, address)
            owner = customer_with_email(s, address)
            # every column given either way, so the statement is the same; a taken address's row keeps nothing
            asked = owner is None
            row = self._row(
                REGISTER,
                address,
                token,
                email=address if asked else None,
                first_name=first if asked else None,
                last_name=last if asked else None,
                password_hash=password_hash if asked else None,
            )
            s.add(row)
            owner_name = owner.first_name if owner is not None else None
        if not counted:
            return
        if owner_name is not None:
            self._send(lambda: self._mail.already_registered(address, owner_name), address)
        else:
            self._send(lambda: self._mail.confirm_link(address, first, token), address)

    # ---- using a link --------------------------------------------------------------------------------------

    def reset_password(self, token: str, new_password: str) -> Customer:
        if not accounts.plausible_token(token):
            raise VerificationFailed("unknown link")
        accounts.check_password(new_password)
        new_hash = hash_password(new_password)
        now = self._now()
        with unit_of_work(self._sessions) as s:
            row = self._live(s, RESET, token)
            if row.customer_id is None:
                raise VerificationFailed("unknown link")
            customer = s.get(CustomerRow, row.customer_id)
            if customer is None:
                raise VerificationFailed("unknown link")
            customer.website_password_hash = new_hash
            customer.updated_at = now
            # this link and every other reset link of the customer are used up
            s.execute(
                update(Rows)
                .where(Rows.customer_id == customer.id, Rows.purpose == RESET, Rows.used_at.is_(None))
                .values(used_at=now)
            )
            # and every live sign-in ends: whoever knew the old password is signed out
            s.execute(
                update(WebsiteSessionRow)
                .where(WebsiteSessionRow.customer_id == customer.id, WebsiteSessionRow.ended_at.is_(None))
                .values(ended_at=now)
            )
            return to_customer(customer)

    def confirm_account(self, token: str) -> Customer:
        if not accounts.plausible_token(token):
            raise VerificationFailed("unknown link")
        now = self._now()
        with unit_of_work(self._sessions) as s:
            row = self._live(s, REGISTER, token)
            if row.email is None or row.first_name is None or row.last_name is None or row.password_hash is None:
                raise VerificationFailed("unknown link")
            taken = customer_with_email(s, row.email) is not None
            if taken:  # someone has the address since: the link is used up, and makes nobody
                row.used_at = now
                _clear(row)
            else:
                try:
                    customer = self._create(s, row, now)
                except IntegrityError as exc:  # the address taken by another link confirmed at the same moment
                    raise accounts.email_taken() from exc
        if taken:
            raise accounts.email_taken()
        return customer

    def _create(self, s: Session, row: WebsiteAccountTokenRow, now: datetime) -> Customer:
        assert row.email and row.first_name and row.last_name and row.password_hash
        customer = CustomerRow(
            id=accounts.new_customer_id(),
            first_name=row.first_name,
            last_name=row.last_name,
            email=row.email,
            loyalty_points=0,
            created_at=now,
            updated_at=now,
            website_password_hash=row.password_hash,
        )
        s.add(customer)
        s.flush()
        row.used_at, row.customer_id = now, customer.id
        _clear(row)  # what was asked for is now the customer's record; the link keeps none of it
        return to_customer(customer)

    # ---- helpers -----------------------------------------------------------------------------------------

    def _ask(self, s: Session, purpose: str, address: str) -> bool:
        """Clears rows past keeping; whether this ask is within the address's allowance for the hour."""
        now = self._now()
        s.execute(delete(Rows).where(Rows.created_at < now - accounts.KEEP_TOKENS))
        key = address_key(self._secret, address)
        recent = s.scalar(
            select(func.count())
            .select_from(Rows)
            .where(Rows.address_key == key, Rows.purpose == purpose, Rows.created_at > now - accounts.LINK_WINDOW)
        )
        return (recent or 0) < accounts.LINKS_PER_WINDOW

    def _row(self, purpose: str, address: str, token: str, **fields: str | None) -> WebsiteAccountTokenRow:
        now = self._now()
        return Rows(
            token_hash=accounts.token_hash(token),
            purpose=purpose,
            address_key=address_key(self._secret, address),
            created_at=now,
            expires_at=now + accounts.lifetime(purpose),
            used_at=None,
            **(
                {"customer_id": None, "email": None, "first_name": None, "last_name": None, "password_hash": None}
                | fields
            ),
        )

    def _live(self, s: Session, purpose: str, token: str) -> WebsiteAccountTokenRow:
        row = s.get(Rows, accounts.token_hash(token), with_for_update=True)
        if row is None or row.purpose != purpose or row.used_at is not None or row.expires_at <= self._now():
            raise VerificationFailed("unknown, used or expired link")
        return row

    def _send(self, send: Callable[[], None], email: str) -> None:
        """Sends after the commit; a failed delivery is logged, and the answer stays the same."""
        try:
            send()
        except CrmUnavailable as exc:
            log.error("could not email the website link to %s: %s", mask_email(email), exc)


def _clear(row: WebsiteAccountTokenRow) -> None:
    row.email = row.first_name = row.last_name = row.password_hash = None
