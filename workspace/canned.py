"""Canned responses: answers the team writes once and agents insert with a `/` shortcut, their placeholders filled
from the customer and the conversation.

Placeholders are written in braces: {first_name}, {last_name}, {full_name}, {email}, {order_number} (the order the
conversation is about, else the customer's latest open order), {ticket} (their latest open ticket), {agent_name}.
An unknown placeholder is refused when the response is saved, so a typo never reaches a customer; a known one with
no value in this conversation is left as "[order number]" for the agent to fill in before sending.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from crm_adapter.domain import InvalidInput, NotFound
from crm_adapter.rules import utcnow
from workspace.rows import CannedResponseRow

PLACEHOLDERS = {
    "first_name": "the customer's first name",
    "last_name": "the customer's last name",
    "full_name": "the customer's name",
    "email": "the customer's email",
    "order_number": "the order the conversation is about, else their latest open order",
    "ticket": "their latest open ticket",
    "agent_name": "your name",
}
SHORTCUT = re.compile(r"[a-z0-9][a-z0-9-]{1,29}")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
MAX_TITLE, MAX_BODY = 80, 2000


@dataclass(frozen=True)
class CannedResponse:
    shortcut: str
    title: str
    body: str
    updated_by: str
    updated_at: datetime


@dataclass(frozen=True)
class Filled:
    """A canned response ready for this conversation: `text` with its placeholders filled, and those it could not."""

    shortcut: str
    title: str
    text: str
    missing: tuple[str, ...]


def check(shortcut: str, title: str, body: str) -> tuple[str, str, str]:
    """The fields cleaned, or InvalidInput naming what is wrong."""
    shortcut, title, body = shortcut.strip().lower().lstrip("/"), " ".join(title.split()), body.strip()
    if not SHORTCUT.fullmatch(shortcut):
        raise InvalidInput(
            "shortcut", "A shortcut is 2 to 30 lowercase letters, digits or dashes, like 'delivery-times'."
        )
    if not title or len(title) > MAX_TITLE:
        raise InvalidInput("title", f"Give it a title of up to {MAX_TITLE} characters.")
    if not body or len(body) > MAX_BODY:
        raise InvalidInput("body", f"Write the response: up to {MAX_BODY} characters.")
    unknown = sorted({name for name in _PLACEHOLDER.findall(body) if name not in PLACEHOLDERS})
    if unknown:
        known = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
        raise InvalidInput("body", f"{', '.join('{' + u + '}' for u in unknown)} is not a placeholder: use {known}.")
    return shortcut, title, body


def conversation_values(packet: Mapping[str, Any], agent_name: str) -> dict[str, str]:
    """What the placeholders can say in a handoff's conversation, from its packet (who the customer is, the order
    the bot was talking about, open orders and tickets)."""
    customer = packet.get("customer") or {}
    name = str(customer.get("name") or "").strip()
    first, _, last = name.partition(" ")
    conversation = packet.get("conversation") or {}
    slots = conversation.get("slots") or {}
    orders = [o.get("order_number") for o in packet.get("open_orders") or [] if o.get("order_number")]
    tickets = [t.get("reference") for t in packet.get("open_tickets") or [] if t.get("reference")]
    values = {
        "first_name": first,
        "last_name": last,
        "full_name": name,
        "email": str(customer.get("email") or ""),
        "order_number": str(slots.get("order_number") or (orders[0] if orders else "")),
        "ticket": str(tickets[0] if tickets else ""),
        "agent_name": agent_name,
    }
    return {k: v for k, v in values.items() if v}


def fill(body: str, values: Mapping[str, str]) -> tuple[str, tuple[str, ...]]:
    """The body with its placeholders filled; those without a value become "[order number]" and are listed."""
    missing: list[str] = []

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in PLACEHOLDERS:
            return match.group(0)
        if name in values:
            return values[name]
        missing.append(name)
        return "[" + name.replace("_", " ") + "]"

    return _PLACEHOLDER.sub(one, body), tuple(dict.fromkeys(missing))


class CannedResponses:
    def __init__(self, sessions: sessionmaker[Session], clock: Callable[[], datetime] = utcnow) -> None:
        self._sessions = sessions
        self._clock = clock

    @contextmanager
    def _uow(self) -> Iterator[Session]:
        with self._sessions() as s, s.begin():
            yield s

    def listing(self) -> list[CannedResponse]:
        with self._sessions() as s:
            return [_response(r) for r in s.scalars(select(CannedResponseRow).order_by(CannedResponseRow.shortcut))]

    def get(self, shortcut: str) -> CannedResponse:
        with self._sessions() as s:
            row = s.scalar(select(CannedResponseRow).where(CannedResponseRow.shortcut == shortcut))
            if row is None:
                raise NotFound(f"canned response {shortcut}")
            return _response(row)

    def save(self, shortcut: str, title: str, body: str, by: str, replacing: str | None = None) -> CannedResponse:
        """Create one (`replacing` None) or change the one whose shortcut was `replacing` (its shortcut too).
        InvalidInput for bad fields or a shortcut another response has."""
        shortcut, title, body = check(shortcut, title, body)
        with self._uow() as s:
            taken = s.scalar(select(CannedResponseRow).where(CannedResponseRow.shortcut == shortcut))
            row: CannedResponseRow | None
            if replacing is None:
                row = CannedResponseRow(shortcut=shortcut)
                s.add(row)
            else:
                row = s.scalar(select(CannedResponseRow).where(CannedResponseRow.shortcut == replacing))
            if row is None:
                raise NotFound(f"canned response {replacing}")
            if taken is not None and taken is not row:
                raise InvalidInput("shortcut", f"/{shortcut} is taken by “{taken.title}”.")
            row.shortcut, row.title, row.body = shortcut, title, body
            row.updated_by, row.updated_at = by, self._clock()
            s.flush()
            return _response(row)

    def delete(self, shortcut: str) -> None:
        with self._uow() as s:
            done: Any = s.execute(delete(CannedResponseRow).where(CannedResponseRow.shortcut == shortcut))
            if not done.rowcount:
                raise NotFound(f"canned response {shortcut}")

    def filled(self, values: Mapping[str, str]) -> list[Filled]:
        """Every canned response, filled for one conversation."""
        found = []
        for response in self.listing():
            text, missing = fill(response.body, values)
            found.append(Filled(response.shortcut, response.title, text, missing))
        return found


def _response(row: CannedResponseRow) -> CannedResponse:
    return CannedResponse(row.shortcut, row.title, row.body, row.updated_by, row.updated_at)
