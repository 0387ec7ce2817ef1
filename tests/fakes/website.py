"""`WebsiteSignIns` in memory: the SQL store's behaviour (crm_adapter/sql/website_sessions.py) on a
`MemoryCrmStore`, held to the same contract suite (tests/integration/test_website_sign_ins_contract.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from crm_adapter.domain import NotFound
from crm_adapter.rules import utcnow
from crm_adapter.website import MAX_SIGN_IN_SECONDS, check_lifetime, new_sign_in_id
from tests.fakes.crm import MemoryCrmStore, WebsiteSessionRecord


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
