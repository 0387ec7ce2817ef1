"""`WebsiteSignIns` and `WebsiteAccounts` in memory: the SQL stores' behaviour (crm_adapter/sql/website_sessions.py,
crm_adapter/sql/website_accounts.py) on a `MemoryCrmStore`, each held to the same contract suite
(tests/integration/test_website_sign_ins_contract.py, tests/integration/test_website_accounts_contract.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from crm_adapter import accounts
from crm_adapter.accounts import REGISTER, RESET, AccountMail
from crm_adapter.domain import CrmUnavailable, Customer, NotFound, VerificationFailed
from crm_adapter.rules import address_key, utcnow
from crm_adapter.validation import normalize_email
from crm_adapter.website import MAX_SIGN_IN_SECONDS, check_lifetime, new_sign_in_id
from shared.passwords import hash_password
from tests.fakes.crm import AccountTokenRecord, CustomerRecord, MemoryCrmStore, WebsiteSessionRecord, _customer


class MemoryWebsiteSignIns:
    """Implements `crm_adapter.ports.WebsiteSignIns` on a `MemoryCrmStore` (down: `CrmUnavailable`)."""

    def __init__(self, store: MemoryCrmStore, clock: Callable[[], datetime] = utcnow) -> None:
        self.store = store
        self._now = clock

    def start(self, customer_id: str, lifetime_seconds: int) -> str:
        check_lifetime(lifetime_seconds)
        self.store.reach()
        if customer_id not in self.store.customers:
            raise NotFound(f"customer {customer_id}")
        now = self._now()
        stale = now - timedelta(seconds=MAX_SIGN_IN_SECONDS)
        for old in [r for r in self.store.website_sessions.values() if r.customer_id == customer_id]:
            if old.expires_at < stale:
                del self.store.website_sessions[old.id]
        record = WebsiteSessionRecord(new_sign_in_id(), customer_id, now, now + timedelta(seconds=lifetime_seconds))
        self.store.website_sessions[record.id] = record
        return record.id

    def is_active(self, sign_in_id: str, customer_id: str) -> bool:
        if not isinstance(sign_in_id, str) or not sign_in_id or len(sign_in_id) > 64:
            return False
        self.store.reach()
        record = self.store.website_sessions.get(sign_in_id)
        return (
            record is not None
            and record.customer_id == customer_id
            and record.ended_at is None
            and record.expires_at > self._now()
        )

    def end(self, sign_in_id: str) -> bool:
        if not isinstance(sign_in_id, str) or not sign_in_id or len(sign_in_id) > 64:
            return False
        self.store.reach()
        record = self.store.website_sessions.get(sign_in_id)
        if record is None or record.ended_at is not None:
            return False
        record.ended_at = self._now()
        return True


class MemoryWebsiteAccounts:
    """Implements `crm_adapter.ports.WebsiteAccounts` on a `MemoryCrmStore` (down: `CrmUnavailable`)."""

    def __init__(
        self,
        store: MemoryCrmStore,
        mail: AccountMail,
        secret: str = "test-secret",
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self._mail = mail
        self._secret = secret.encode()
        self._now = clock

    def request_password_reset(self, email: str) -> None:
        address = normalize_email(email)
        self.store.reach()
        token = accounts.new_token()
        counted = self._ask(RESET, address)
        owner = self.store.customer_by_email(address)
        self._add(RESET, address, token, customer_id=owner.id if owner is not None else None)
        if counted and owner is not None:
            self._send(lambda: self._mail.reset_link(owner.email, owner.first_name, token))

    def request_account(self, first_name: str, last_name: str, email: str, password: str) -> None:
        first, last = accounts.check_name("first_name", first_name), accounts.check_name("last_name", last_name)
        address = normalize_email(email)
        accounts.check_password(password)
        password_hash = hash_password(password)
        self.store.reach()
        token = accounts.new_token()
        counted = self._ask(REGISTER, address)
        owner = self.store.customer_by_email(address)
        if owner is None:
            self._add(REGISTER, address, token, email=address, first_name=first, last_name=last)
            self.store.account_tokens[accounts.token_hash(token)].password_hash = password_hash
        else:
            self._add(REGISTER, address, token)
        if not counted:
            return
        if owner is not None:
            self._send(lambda: self._mail.already_registered(address, owner.first_name))
        else:
            self._send(lambda: self._mail.confirm_link(address, first, token))

    def reset_password(self, token: str, new_password: str) -> Customer:
        if not accounts.plausible_token(token):
            raise VerificationFailed("unknown link")
        accounts.check_password(new_password)
        new_hash = hash_password(new_password)
        self.store.reach()
        record = self._live(RESET, token)
        customer = self.store.customers.get(record.customer_id or "")
        if customer is None:
            raise VerificationFailed("unknown link")
        now = self._now()
        customer.website_password_hash, customer.updated_at = new_hash, now
        for other in self.store.account_tokens.values():
            if other.customer_id == customer.id and other.purpose == RESET and other.used_at is None:
                other.used_at = now
        for sign_in in self.store.website_sessions.values():
            if sign_in.customer_id == customer.id and sign_in.ended_at is None:
                sign_in.ended_at = now
        return _customer(customer)

    def confirm_account(self, token: str) -> Customer:
        if not accounts.plausible_token(token):
            raise VerificationFailed("unknown link")
        self.store.reach()
        record = self._live(REGISTER, token)
        if record.email is None or record.first_name is None or record.last_name is None:
            raise VerificationFailed("unknown link")
        now = self._now()
        record.used_at = now
        if self.store.customer_by_email(record.email) is not None:
            _clear(record)
            raise accounts.email_taken()
        customer = CustomerRecord(
            id=accounts.new_customer_id(),
            first_name=record.first_name,
            last_name=record.last_name,
            email=record.email,
            phone=None,
            address=None,
            loyalty_points=0,
            created_at=now,
            updated_at=now,
            website_password_hash=record.password_hash,
        )
        self.store.customers[customer.id] = customer
        record.customer_id = customer.id
        _clear(record)
        return _customer(customer)

    def _ask(self, purpose: str, address: str) -> bool:
        now = self._now()
        for stale in [k for k, r in self.store.account_tokens.items() if r.created_at < now - accounts.KEEP_TOKENS]:
            del self.store.account_tokens[stale]
        key = address_key(self._secret, address)
        recent = [
            r
            for r in self.store.account_tokens.values()
            if r.address_key == key and r.purpose == purpose and r.created_at > now - accounts.LINK_WINDOW
        ]
        return len(recent) < accounts.LINKS_PER_WINDOW

    def _add(self, purpose: str, address: str, token: str, **fields: str | None) -> None:
        now = self._now()
        record = AccountTokenRecord(
            accounts.token_hash(token),
            purpose,
            address_key(self._secret, address),
            now,
            now + accounts.lifetime(purpose),
            **fields,  # type: ignore[arg-type]
        )
        self.store.account_tokens[record.token_hash] = record

    def _live(self, purpose: str, token: str) -> AccountTokenRecord:
        record = self.store.account_tokens.get(accounts.token_hash(token))
        if (
            record is None
            or record.purpose != purpose
            or record.used_at is not None
            or record.expires_at <= self._now()
        ):
            raise VerificationFailed("unknown, used or expired link")
        return record

    @staticmethod
    def _send(send: Callable[[], None]) -> None:
        try:
            send()
        except CrmUnavailable:
            pass  # logged by the SQL store; the answer is the same


def _clear(record: AccountTokenRecord) -> None:
    record.email = record.first_name = record.last_name = record.password_hash = None
