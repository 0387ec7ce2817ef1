"""Console accounts (agents and admins), their passwords and their signed-in sessions.

Passwords are kept as salted scrypt hashes (shared/passwords.py). A session token is 32 random bytes
handed to the browser once; the database keeps only its SHA-256, so a copy of the table cannot be replayed
as a cookie. Each session also carries a CSRF token that the console's forms send back.

Sign-in is throttled (`sign_in`): wrong passwords are counted per username and per client address in the
CRM database, so every console process sees the same counts. After LOGIN_LIMITS failures within
LOGIN_WINDOW, further attempts for that username or from that address are refused (`TooManyAttempts`) until
the oldest counted failure leaves the window; refused attempts are not counted, so a stranger guessing an
agent's username can hold the account for at most LOGIN_WINDOW after the last counted failure. A success
clears the username's count.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from crm_adapter.domain import InvalidInput, NotFound
from crm_adapter.sql.db import unavailable_as_crm_error
from handoff.rows import AgentRow, AgentSessionRow, ConsoleLoginFailureRow
from shared.passwords import dummy_hash, hash_password, verify_password

ROLES = ("agent", "admin")
SESSION_HOURS = 12
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024
SEEN_EVERY = timedelta(minutes=1)  # last_seen_at is written at most this often per session
LOGIN_WINDOW = timedelta(minutes=5)
LOGIN_LIMITS = {"user": 5, "addr": 20}  # wrong passwords within LOGIN_WINDOW per username, per client address
MAX_CAPACITY = 20
DEFAULT_CAPACITY = {"agent": 3, "admin": 0}  # conversations auto-assignment gives a new account at once
_USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,39}")


@dataclass(frozen=True)
class Agent:
    agent_id: int
    username: str
    display_name: str
    role: str  # agent | admin
    active: bool
    capacity: int = 3  # conversations auto-assignment gives them at once

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


@dataclass(frozen=True)
class AgentSession:
    agent: Agent
    csrf_token: str
    expires_at: datetime


class TooManyAttempts(Exception):
    """Too many wrong passwords lately for this username or from this address: try again in `retry_after`
    seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many sign-in attempts; retry after {retry_after} s")
        self.retry_after = retry_after


def utcnow() -> datetime:
    return datetime.utcnow().replace(microsecond=0)


# ---- passwords ----------------------------------------------------------


def check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput("password", f"A password needs at least {MIN_PASSWORD_LENGTH} characters.")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidInput("password", f"A password can have at most {MAX_PASSWORD_LENGTH} characters.")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# ---- the service --------------------------------------------------------


def _agent(row: AgentRow) -> Agent:
    return Agent(row.id, row.username, row.display_name, row.role, row.active, row.capacity)


def normalize_username(username: str) -> str:
    return username.strip().lower()


class SqlAgentService:
    """Accounts and sessions of the console, on the CRM database."""

    def __init__(self, sessions: sessionmaker[Session], clock: Callable[[], datetime] = utcnow) -> None:
        self._sessions = sessions
        self._now = clock

    @contextmanager
    def _uow(self) -> Iterator[Session]:
        """A unit of work: commits when the block succeeds, rolls back otherwise."""
        with unavailable_as_crm_error(), self._sessions() as session, session.begin():
            yield session

    @staticmethod
    def _row(session: Session, username: str) -> AgentRow:
        row = session.scalar(select(AgentRow).where(AgentRow.username == normalize_username(username)))
        if row is None:
            raise NotFound(f"agent {username}")
        return row

    # ---- accounts -------------------------------------------------------

    def create_agent(self, username: str, display_name: str, password: str, role: str) -> Agent:
        username, display_name = normalize_username(username), display_name.strip()
        if not _USERNAME.fullmatch(username):
            raise InvalidInput(
                "username",
                "A username has 1 to 40 characters (letters, digits, '.', '_' or '-'), "
                "starting with a letter or digit.",
            )
        if not display_name or len(display_name) > 80:
            raise InvalidInput("display_name", "A display name has 1 to 80 characters.")
        if role not in ROLES:
            raise InvalidInput("role", f"The role is one of: {', '.join(ROLES)}.")
        check_password_rules(password)
        row = AgentRow(
            username=username,
            display_name=display_name,
            password_hash=hash_password(password),
            role=role,
            active=True,
            created_at=self._now(),
            capacity=DEFAULT_CAPACITY[role],  # an admin gets conversations only once given a capacity on /team
        )
        try:
            with self._uow() as s:
                if s.scalar(select(AgentRow.id).where(AgentRow.username == username)) is not None:
                    raise InvalidInput("username", f"The username {username!r} is taken.")
                s.add(row)
                s.flush()
                return _agent(row)
        except IntegrityError:  # taken by a concurrent create
            raise InvalidInput("username", f"The username {username!r} is taken.") from None

    def set_password(self, username: str, password: str) -> None:
        """Replaces the password and signs the agent out everywhere."""
        check_password_rules(password)
        encoded = hash_password(password)
        with self._uow() as s:
            row = self._row(s, username)
            row.password_hash = encoded
            s.execute(delete(AgentSessionRow).where(AgentSessionRow.agent_id == row.id))

    def deactivate(self, username: str) -> Agent:
        """The agent can no longer sign in; their sessions end at once. The account stays for the record."""
        with self._uow() as s:
            row = self._row(s, username)
            row.active = False
            s.execute(delete(AgentSessionRow).where(AgentSessionRow.agent_id == row.id))
            return _agent(row)

    def set_capacity(self, agent_id: int, capacity: int) -> Agent:
        """How many conversations auto-assignment gives the agent at once (0 to MAX_CAPACITY; 0: none)."""
        if not 0 <= capacity <= MAX_CAPACITY:
            raise InvalidInput("capacity", f"A capacity is a whole number from 0 to {MAX_CAPACITY}.")
        with self._uow() as s:
            row = s.get(AgentRow, agent_id)
            if row is None:
                raise NotFound(f"agent {agent_id}")
            row.capacity = capacity
            return _agent(row)

    def list_agents(self) -> list[Agent]:
        with self._uow() as s:
            return [_agent(row) for row in s.scalars(select(AgentRow).order_by(AgentRow.username))]

    def authenticate(self, username: str, password: str) -> Agent | None:
        """The active agent with this username and password, or None. Takes about as long whether or not the
        username exists (an unknown one is checked against a dummy hash)."""
        with self._uow() as s:
            row = s.scalar(select(AgentRow).where(AgentRow.username == normalize_username(username)[:80]))
            agent = _agent(row) if row is not None else None
            encoded = row.password_hash if row is not None else dummy_hash()
        password_ok = verify_password(password[:MAX_PASSWORD_LENGTH], encoded)
        if agent is None or not password_ok or not agent.active:
            return None
        return agent

    def sign_in(self, username: str, password: str, address: str) -> Agent | None:
        """`authenticate`, throttled per username and per client `address`: raises TooManyAttempts (whether
        or not the username exists) before checking the password when either has too many recent failures."""
        keys = {"user": "user:" + normalize_username(username)[:40], "addr": "addr:" + address[:60]}
        now = self._now()
        with self._uow() as s:
            s.execute(delete(ConsoleLoginFailureRow).where(ConsoleLoginFailureRow.created_at <= now - LOGIN_WINDOW))
            waits = []
            for kind, key in keys.items():
                times = list(
                    s.scalars(
                        select(ConsoleLoginFailureRow.created_at)
                        .where(ConsoleLoginFailureRow.key == key)
                        .order_by(ConsoleLoginFailureRow.created_at)
                    )
                )
                if len(times) >= LOGIN_LIMITS[kind]:  # free again once the failure that tipped it leaves the window
                    waits.append((times[len(times) - LOGIN_LIMITS[kind]] + LOGIN_WINDOW - now).total_seconds())
        if waits:
            raise TooManyAttempts(max(1, int(max(waits) + 0.999)))
        agent = self.authenticate(username, password)
        with self._uow() as s:
            if agent is None:
                s.add_all(ConsoleLoginFailureRow(key=key, created_at=now) for key in keys.values())
            else:
                s.execute(delete(ConsoleLoginFailureRow).where(ConsoleLoginFailureRow.key == keys["user"]))
        return agent

    # ---- sessions -------------------------------------------------------

    def start_session(self, agent_id: int) -> tuple[str, str]:
        """A new session for an active agent: (token for the cookie, CSRF token). Only the token's hash is kept."""
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        now = self._now()
        with self._uow() as s:
            row = s.get(AgentRow, agent_id)
            if row is None or not row.active:
                raise NotFound(f"agent {agent_id}")
            # tidy up: this agent's expired sessions
            s.execute(
                delete(AgentSessionRow).where(AgentSessionRow.agent_id == agent_id, AgentSessionRow.expires_at <= now)
            )
            s.add(
                AgentSessionRow(
                    token_hash=token_hash(token),
                    agent_id=agent_id,
                    created_at=now,
                    expires_at=now + timedelta(hours=SESSION_HOURS),
                    last_seen_at=now,
                    csrf_token=csrf,
                )
            )
        return token, csrf

    def session_agent(self, token: str) -> AgentSession | None:
        """The session of this token, or None when it is unknown, expired or its agent inactive. Notes that
        the agent was seen (at most once a minute)."""
        if not token or len(token) > 200:
            return None
        now = self._now()
        with self._uow() as s:
            found = s.execute(
                select(AgentSessionRow, AgentRow)
                .join(AgentRow, AgentRow.id == AgentSessionRow.agent_id)
                .where(AgentSessionRow.token_hash == token_hash(token))
            ).first()
            if found is None:
                return None
            session_row, agent_row = found._tuple()
            if session_row.expires_at <= now:
                s.delete(session_row)
                return None
            if not agent_row.active:
                return None
            if now - session_row.last_seen_at >= SEEN_EVERY:
                session_row.last_seen_at = now
            return AgentSession(_agent(agent_row), session_row.csrf_token, session_row.expires_at)

    def end_session(self, token: str) -> None:
        if not token:
            return
        with self._uow() as s:
            s.execute(delete(AgentSessionRow).where(AgentSessionRow.token_hash == token_hash(token)))

    def online_agents(self, within: timedelta = timedelta(minutes=5)) -> list[Agent]:
        """Active agents (of either role) with a live session seen in the last `within` (which should be more
        than a minute: last_seen_at is written at most once a minute)."""
        now = self._now()
        with self._uow() as s:
            rows = s.scalars(
                select(AgentRow)
                .where(
                    AgentRow.active.is_(True),
                    AgentRow.id.in_(
                        select(AgentSessionRow.agent_id).where(
                            AgentSessionRow.expires_at > now, AgentSessionRow.last_seen_at >= now - within
                        )
                    ),
                )
                .order_by(AgentRow.display_name, AgentRow.username)
            )
            return [_agent(row) for row in rows]
