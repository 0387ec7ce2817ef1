"""Channel identities on the SQL database: the sender a channel knows, linked to a verified customer."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from crm_adapter.domain import CustomerContext
from crm_adapter.rules import check_channel_identity, storable_identity
from crm_adapter.sql.customers import context_of
from crm_adapter.sql.db import unit_of_work
from crm_adapter.sql.lookups import customer_row
from crm_adapter.sql.models import ChannelIdentityRow


class ChannelIdentities:
    """Recognizing, linking and unlinking channel identities: the identity part of `SqlCrmService`."""

    def __init__(self, sessions: sessionmaker[Session], clock: Callable[[], datetime]) -> None:
        self._sessions = sessions
        self._now = clock

    def recognize(self, channel: str, sender_id: str) -> CustomerContext | None:
        if not storable_identity(channel, sender_id):
            return None  # no such identity can have been stored
        with unit_of_work(self._sessions) as s:
            identity = _identity_row(s, channel, sender_id)
            if identity is None:
                return None
            identity.last_seen_at = self._now()
            return context_of(s, identity.customer_id, self._now)

    def link_identity(self, customer_id: str, channel: str, sender_id: str) -> None:
        check_channel_identity(channel, sender_id)
        with unit_of_work(self._sessions) as s:
            customer_row(s, customer_id)
            identity = _identity_row(s, channel, sender_id)
            now = self._now()
            if identity is None:
                s.add(
                    ChannelIdentityRow(
                        customer_id=customer_id,
                        channel=channel,
                        sender_id=sender_id,
                        verified_at=now,
                        last_seen_at=now,
                    )
                )
            else:
                identity.customer_id = customer_id
                identity.verified_at = now
                identity.last_seen_at = now

    def unlink_identity(self, channel: str, sender_id: str) -> bool:
        if not storable_identity(channel, sender_id):
            return False
        with unit_of_work(self._sessions) as s:
            identity = _identity_row(s, channel, sender_id)
            if identity is None:
                return False
            s.delete(identity)
            return True


def _identity_row(s: Session, channel: str, sender_id: str) -> ChannelIdentityRow | None:
    return s.scalar(
        select(ChannelIdentityRow).where(
            ChannelIdentityRow.channel == channel, ChannelIdentityRow.sender_id == sender_id
        )
    )
