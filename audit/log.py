"""The audit log: who viewed or changed which customer's data, who took, replied to, resolved or handed back which
conversation, and every admin change, with the time and the address it came from.

Entries are written by the console (each route that reads a customer's data or changes something records one
after it succeeded) and by the command line (`python -m hearth agents ...`). They are never edited or deleted by
the app; a customer's erasure (relationship/privacy.py) calls `forget_customer` in its own transaction, which
replaces the customer's id by a keyed hash of it. `detail` names fields and counts, never what a customer or an
agent wrote.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from audit.rows import AuditRow
from crm_adapter.rules import utcnow

ACTIONS: dict[str, str] = {
    "customer.searched": "searched customers",
    "customer.viewed": "viewed a customer's page",
    "conversation.viewed": "read a conversation",
    "handoff.viewed": "opened a handoff",
    "handoff.taken": "took a conversation",
    "handoff.joined": "stepped into a conversation the bot was having",
    "handoff.assigned": "assigned a conversation",
    "handoff.replied": "replied to a customer",
    "handoff.resolved": "resolved a conversation",
    "handoff.returned": "handed a conversation back to the bot",
    "handoff.noted": "added a private note",
    "handoff.tagged": "changed a conversation's tags",
    "handoff.proposed": "proposed a help article",
    "article.created": "created a help article",
    "article.saved": "saved a help article",
    "article.published": "published a help article",
    "article.unpublished": "unpublished a help article",
    "agent.added": "added an account",
    "agent.deactivated": "deactivated an account",
    "agent.capacity": "changed an agent's capacity",
    "canned.created": "created a canned response",
    "canned.saved": "changed a canned response",
    "canned.deleted": "deleted a canned response",
    "targets.changed": "changed the response targets",
}
TARGET_KINDS = frozenset({"customer", "conversation", "handoff", "article", "agent", "canned", "targets"})
MAX_TARGET, MAX_DETAIL, MAX_ACTOR, MAX_ADDRESS = 120, 300, 80, 64


@dataclass(frozen=True)
class Actor:
    """Who did it: a console agent (their id and username) from an address, or the command line."""

    actor_id: int | None
    name: str
    address: str

    @classmethod
    def command_line(cls) -> Actor:
        return cls(None, "command line", "local")


@dataclass(frozen=True)
class AuditEntry:
    entry_id: int
    at: datetime
    actor_id: int | None
    actor: str
    address: str
    action: str
    target_kind: str
    target: str
    customer_id: str | None
    erased: bool  # the customer has since been erased: their id is gone from the entry
    detail: str

    @property
    def label(self) -> str:
        return ACTIONS.get(self.action, self.action)


@dataclass(frozen=True)
class AuditQuery:
    """Filters, all optional: an actor's username, an action or a family of them ("handoff" for every
    handoff.*), a customer's id (matching entries made before their erasure too), a day range (UTC, inclusive)."""

    actor: str | None = None
    action: str | None = None
    customer_id: str | None = None
    since: date | None = None
    until: date | None = None


@dataclass(frozen=True)
class AuditPage:
    entries: tuple[AuditEntry, ...]
    next_before: int | None  # pass as `before` for the next (older) page; None at the end


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def forget_customer(s: Session, customer_id: str, erased_subject: str) -> int:
    """In the erasure's transaction: the customer's entries keep everything but the customer's id, which becomes
    `erased_subject` (a keyed hash of it), also where the id was the entry's target. Returns the entries changed."""
    s.execute(
        update(AuditRow)
        .where(AuditRow.target_kind == "customer", AuditRow.target == customer_id)
        .values(target="erased customer")
        .execution_options(synchronize_session=False)
    )
    result = s.execute(
        update(AuditRow)
        .where(AuditRow.customer_id == customer_id)
        .values(customer_id=None, erased_subject=erased_subject)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


class AuditLog:
    """The SQL audit log. `erased_subject` is the keyed hash an erasure puts in place of a customer's id (the same
    function relationship/privacy.py uses), so a search by a customer's id finds their entries after erasure."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        erased_subject: Callable[[str], str],
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessions = sessions
        self._erased_subject = erased_subject
        self._clock = clock

    @contextmanager
    def _uow(self) -> Iterator[Session]:
        with self._sessions() as s, s.begin():
            yield s

    def record(
        self,
        actor: Actor,
        action: str,
        target_kind: str,
        target: str | int,
        *,
        customer_id: str | None = None,
        detail: str = "",
    ) -> None:
        if action not in ACTIONS:
            raise ValueError(f"unknown audit action {action!r}")
        if target_kind not in TARGET_KINDS:
            raise ValueError(f"unknown audit target kind {target_kind!r}")
        with self._uow() as s:
            s.add(
                AuditRow(
                    at=self._clock(),
                    actor_id=actor.actor_id,
                    actor=_clip(actor.name, MAX_ACTOR),
                    address=_clip(actor.address or "unknown", MAX_ADDRESS),
                    action=action,
                    target_kind=target_kind,
                    target=_clip(str(target), MAX_TARGET),
                    customer_id=customer_id,
                    detail=_clip(detail, MAX_DETAIL),
                )
            )

    def entries(self, query: AuditQuery, before: int | None = None, limit: int = 50) -> AuditPage:
        """Newest first, `limit` at a time."""
        conditions: list[ColumnElement[bool]] = []
        if query.actor:
            conditions.append(AuditRow.actor == query.actor)
        if query.action:
            family = query.action.rstrip(".")
            conditions.append(or_(AuditRow.action == family, AuditRow.action.startswith(family + ".")))
        if query.customer_id:
            conditions.append(
                or_(
                    AuditRow.customer_id == query.customer_id,
                    AuditRow.erased_subject == self._erased_subject(query.customer_id),
                )
            )
        if query.since:
            conditions.append(AuditRow.at >= datetime.combine(query.since, time.min))
        if query.until:
            conditions.append(AuditRow.at < datetime.combine(query.until + timedelta(days=1), time.min))
        if before is not None:
            conditions.append(AuditRow.id < before)
        with self._sessions() as s:
            rows = list(s.scalars(select(AuditRow).where(*conditions).order_by(AuditRow.id.desc()).limit(limit + 1)))
        more = len(rows) > limit
        rows = rows[:limit]
        return AuditPage(tuple(_entry(r) for r in rows), rows[-1].id if more and rows else None)

    def actors(self) -> list[str]:
        """Every name that has an entry, for the filter's list."""
        with self._sessions() as s:
            return sorted(s.scalars(select(AuditRow.actor).distinct()))


def _entry(row: AuditRow) -> AuditEntry:
    return AuditEntry(
        entry_id=row.id,
        at=row.at,
        actor_id=row.actor_id,
        actor=row.actor,
        address=row.address,
        action=row.action,
        target_kind=row.target_kind,
        target=row.target,
        customer_id=row.customer_id,
        erased=row.erased_subject is not None,
        detail=row.detail,
    )
