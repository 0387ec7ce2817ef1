"""Rasa's Redis lock store, made safe for several Rasa servers.

Rasa 3.6's `RedisLockStore` changes a conversation's lock by reading it, changing it in the process and writing
it back. Two servers that receive messages of one conversation at the same moment (a customer tapping send
twice, nginx giving one message to each server) both read "no tickets", both issue ticket 0, and both handle
their message at once: each turn is predicted without the other's message. tests/e2e/test_production.py saw
it with the stock store (a message taken in 25 ms before the previous turn had ended).

Here every change is one Redis transaction (WATCH the key, read, MULTI, write, EXEC; retried when another
server changed the key meanwhile), so ticket numbers are unique and waiters are never dropped.

A second fix, for a server that dies holding a conversation's lock: Rasa lets every ticket expire
TICKET_LOCK_LIFETIME after it was issued, including the tickets of messages still waiting, and a waiter whose
own ticket has expired waits forever (it is never "now serving" again). When the dead server's ticket and the
waiter's, issued moments apart, expire within one polling interval, the waiting message hangs; the production
test saw it (two messages answered only by nginx's timeout). Here a waiting ticket is renewed at every poll,
so only a holder's ticket can expire, TICKET_LOCK_LIFETIME after it was last renewed. The stored format is
Rasa's own.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar

import redis
from rasa.core.lock import Ticket, TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

T = TypeVar("T")
POLL_SECONDS = 0.1  # how often a waiting message looks again (Rasa: 1 s, a second added to a double tap)


class AtomicRedisLockStore(RedisLockStore):
    """`lock_store: type: bot.lock_store.AtomicRedisLockStore` with RedisLockStore's settings (url, port, db,
    username, password, use_ssl, key_prefix)."""

    def __init__(self, endpoint_config: EndpointConfig | None = None, **kwargs: Any) -> None:
        if endpoint_config is not None:  # how Rasa builds a lock store named by its module path
            kwargs = {"host": endpoint_config.url or "localhost", **endpoint_config.kwargs, **kwargs}
        super().__init__(**kwargs)

    def _change(self, conversation_id: str, change: Callable[[TicketLock | None], tuple[TicketLock | None, T]]) -> T:
        """Apply `change` to the stored lock atomically; it returns the lock to store (None deletes it)."""
        key = self.key_prefix + conversation_id
        while True:
            with self.red.pipeline() as pipe:
                try:
                    pipe.watch(key)
                    stored = pipe.get(key)
                    lock, result = change(TicketLock.from_dict(json.loads(stored)) if stored else None)
                    pipe.multi()
                    if lock is None:
                        pipe.delete(key)
                    else:
                        pipe.set(key, lock.dumps())
                    pipe.execute()
                    return result
                except redis.WatchError:
                    continue  # another server changed this lock between our read and write: again

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        def issue(lock: TicketLock | None) -> tuple[TicketLock, int]:
            lock = lock or TicketLock(conversation_id)
            return lock, lock.issue_ticket(lock_lifetime)

        try:
            return self._change(conversation_id, issue)
        except redis.RedisError as exc:
            raise LockError(f"Error while acquiring lock. Error:\n{exc}") from exc

    async def _acquire_lock(self, conversation_id: str, ticket: int, wait_time_in_seconds: float) -> TicketLock:
        def renew(lock: TicketLock | None) -> tuple[TicketLock, TicketLock]:
            lock = lock or TicketLock(conversation_id)
            others = [t for t in lock.tickets if t.number != ticket and not t.has_expired()]
            mine = Ticket(ticket, time.time() + LOCK_LIFETIME)
            lock.tickets = deque(sorted([*others, mine], key=lambda t: t.number))
            return lock, lock

        while True:
            try:
                lock = self._change(conversation_id, renew)
            except redis.RedisError as exc:
                raise LockError(f"Could not acquire lock for conversation_id '{conversation_id}': {exc}") from exc
            if not lock.is_locked(ticket):
                return lock
            await asyncio.sleep(min(wait_time_in_seconds, POLL_SECONDS))

    def update_lock(self, conversation_id: str) -> None:
        def drop_expired(lock: TicketLock | None) -> tuple[TicketLock | None, None]:
            if lock is not None:
                lock.remove_expired_tickets()
            return lock, None

        self._change(conversation_id, drop_expired)

    def finish_serving(self, conversation_id: str, ticket_number: int) -> None:
        self.cleanup(conversation_id, ticket_number)

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        """Remove this ticket; delete the lock if nobody else is waiting (one transaction, so a ticket issued
        meanwhile is never deleted with it)."""

        def finish(lock: TicketLock | None) -> tuple[TicketLock | None, None]:
            if lock is None:
                return None, None
            lock.remove_ticket_for(ticket_number)
            return (lock if lock.is_someone_waiting() else None), None

        self._change(conversation_id, finish)
