"""Console accounts and sessions (handoff/agents.py) on a real, migrated SQLite file."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import select

from crm_adapter.domain import InvalidInput, NotFound
from handoff.agents import (
    LOGIN_LIMITS,
    LOGIN_WINDOW,
    SESSION_HOURS,
    Agent,
    SqlAgentService,
    TooManyAttempts,
)
from handoff.rows import AgentRow, AgentSessionRow
from shared.passwords import hash_password, verify_password
from tests.conftest import SqlCrm

pytestmark = pytest.mark.unit
PASSWORD = "correct horse battery"


@pytest.fixture
def agents(sqlite_crm: SqlCrm) -> SqlAgentService:
    return SqlAgentService(sqlite_crm.sessions, clock=sqlite_crm.clock)


@pytest.fixture
def sam(agents: SqlAgentService) -> Agent:
    return agents.create_agent("sam", "Sam Taylor", PASSWORD, "agent")


def test_a_password_hash_round_trips_and_is_salted() -> None:
    encoded = hash_password(PASSWORD)
    scheme, n, r, p, salt, digest = encoded.split("$")
    assert (scheme, n, r, p) == ("scrypt", str(2**14), "8", "1")
    assert len(bytes.fromhex(salt)) == 16
    assert verify_password(PASSWORD, encoded)
    assert not verify_password(PASSWORD + "!", encoded)
    assert hash_password(PASSWORD) != encoded  # a fresh salt each time
    assert not verify_password(PASSWORD, "not-a-hash") and not verify_password(PASSWORD, "md5$1$2$3$00$00")


def test_authenticate(agents: SqlAgentService, sam: Agent) -> None:
    assert sam == Agent(sam.agent_id, "sam", "Sam Taylor", "agent", True)
    assert agents.authenticate("sam", PASSWORD) == sam
    assert agents.authenticate("  SAM ", PASSWORD) == sam  # usernames are not case-sensitive
    assert agents.authenticate("sam", "correct horse battery!") is None
    assert agents.authenticate("sam", "") is None
    assert agents.authenticate("nobody", PASSWORD) is None


def test_an_unknown_user_is_checked_against_a_dummy_hash(
    agents: SqlAgentService, sam: Agent, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Constant time: one scrypt whether or not the username exists."""
    import handoff.agents as module

    checked: list[str] = []
    real = module.verify_password
    monkeypatch.setattr(module, "verify_password", lambda pw, encoded: checked.append(encoded) or real(pw, encoded))
    assert agents.authenticate("nobody", PASSWORD) is None
    assert agents.authenticate("sam", "wrong password!!") is None
    assert len(checked) == 2 and all(e.startswith("scrypt$16384$8$1$") for e in checked)


@pytest.mark.parametrize("password", ["", "short", "elevenchars"])
def test_a_short_password_is_refused(agents: SqlAgentService, sam: Agent, password: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        agents.create_agent("kim", "Kim", password, "agent")
    assert refused.value.field == "password"
    with pytest.raises(InvalidInput):
        agents.set_password("sam", password)
    assert agents.authenticate("sam", PASSWORD) == sam


def test_bad_accounts_are_refused(agents: SqlAgentService, sam: Agent) -> None:
    for username, name, role, field in [
        ("SAM", "Another Sam", "agent", "username"),  # taken
        ("has space", "X", "agent", "username"),
        ("x" * 41, "X", "agent", "username"),
        ("kim", "", "agent", "display_name"),
        ("kim", "Kim", "owner", "role"),
    ]:
        with pytest.raises(InvalidInput) as refused:
            agents.create_agent(username, name, PASSWORD, role)
        assert refused.value.field == field
    assert [a.username for a in agents.list_agents()] == ["sam"]


def test_the_stored_hash_never_holds_the_password(agents: SqlAgentService, sqlite_crm: SqlCrm) -> None:
    agents.create_agent("kim", "Kim Lee", PASSWORD, "admin")
    agents.set_password("kim", "another long password")
    with sqlite_crm.sessions() as s:
        stored = s.scalar(select(AgentRow.password_hash).where(AgentRow.username == "kim"))
    assert stored is not None and stored != "another long password" and "another long password" not in stored
    assert PASSWORD not in stored and stored.startswith("scrypt$")
    assert agents.authenticate("kim", "another long password") is not None
    assert agents.authenticate("kim", PASSWORD) is None


def test_a_session_finds_its_agent_and_is_stored_only_hashed(
    agents: SqlAgentService, sam: Agent, sqlite_crm: SqlCrm
) -> None:
    token, csrf = agents.start_session(sam.agent_id)
    assert len(token) >= 43 and len(csrf) >= 43 and token != csrf
    session = agents.session_agent(token)
    assert session is not None and session.agent == sam and session.csrf_token == csrf
    assert session.expires_at == sqlite_crm.clock.now + timedelta(hours=SESSION_HOURS)
    with sqlite_crm.sessions() as s:
        rows = s.scalars(select(AgentSessionRow)).all()
    assert [r.token_hash for r in rows] == [hashlib.sha256(token.encode()).hexdigest()]
    assert all(token not in str(getattr(rows[0], column)) for column in ("token_hash", "csrf_token", "agent_id"))
    assert agents.session_agent(hashlib.sha256(token.encode()).hexdigest()) is None  # the hash is not a token
    assert agents.session_agent("") is None and agents.session_agent("made-up") is None


def test_sessions_expire(agents: SqlAgentService, sam: Agent, sqlite_crm: SqlCrm) -> None:
    token, _ = agents.start_session(sam.agent_id)
    sqlite_crm.clock.advance(hours=SESSION_HOURS, seconds=-1)
    assert agents.session_agent(token) is not None
    sqlite_crm.clock.advance(seconds=1)
    assert agents.session_agent(token) is None
    with sqlite_crm.sessions() as s:
        assert s.scalars(select(AgentSessionRow)).all() == []  # an expired session is removed when found


def test_ending_a_session(agents: SqlAgentService, sam: Agent) -> None:
    first, _ = agents.start_session(sam.agent_id)
    second, _ = agents.start_session(sam.agent_id)
    agents.end_session(first)
    assert agents.session_agent(first) is None
    assert agents.session_agent(second) is not None  # other devices stay signed in
    agents.end_session("")  # nothing to end: no error


def test_a_deactivated_agent_is_locked_out(agents: SqlAgentService, sam: Agent) -> None:
    token, _ = agents.start_session(sam.agent_id)
    assert agents.deactivate("sam").active is False
    assert agents.session_agent(token) is None
    assert agents.authenticate("sam", PASSWORD) is None
    with pytest.raises(NotFound):
        agents.start_session(sam.agent_id)
    with pytest.raises(NotFound):
        agents.deactivate("nobody")
    assert [(a.username, a.active) for a in agents.list_agents()] == [("sam", False)]


def test_an_inactive_agents_session_stops_working_even_if_left_in_the_table(
    agents: SqlAgentService, sam: Agent, sqlite_crm: SqlCrm
) -> None:
    token, _ = agents.start_session(sam.agent_id)
    with sqlite_crm.sessions.begin() as s:
        s.get_one(AgentRow, sam.agent_id).active = False
    assert agents.session_agent(token) is None


def test_a_new_password_signs_the_agent_out_everywhere(agents: SqlAgentService, sam: Agent) -> None:
    token, _ = agents.start_session(sam.agent_id)
    agents.set_password("sam", "a brand new password")
    assert agents.session_agent(token) is None
    with pytest.raises(NotFound):
        agents.set_password("nobody", "a brand new password")


def test_last_seen_is_written_at_most_once_a_minute(agents: SqlAgentService, sam: Agent, sqlite_crm: SqlCrm) -> None:
    token, _ = agents.start_session(sam.agent_id)
    started = sqlite_crm.clock.now

    def last_seen():  # type: ignore[no-untyped-def]
        with sqlite_crm.sessions() as s:
            return s.scalar(select(AgentSessionRow.last_seen_at))

    sqlite_crm.clock.advance(seconds=59)
    agents.session_agent(token)
    assert last_seen() == started
    sqlite_crm.clock.advance(seconds=1)
    agents.session_agent(token)
    assert last_seen() == started + timedelta(minutes=1)


def test_online_agents(agents: SqlAgentService, sam: Agent, sqlite_crm: SqlCrm) -> None:
    clock = sqlite_crm.clock
    kim = agents.create_agent("kim", "Kim Lee", PASSWORD, "admin")
    ola = agents.create_agent("ola", "Ola Nowak", PASSWORD, "agent")
    agents.create_agent("ned", "Ned Never", PASSWORD, "agent")  # never signs in
    assert agents.online_agents() == []

    sam_token, _ = agents.start_session(sam.agent_id)
    agents.start_session(sam.agent_id)  # two devices: listed once
    agents.start_session(kim.agent_id)
    ola_token, _ = agents.start_session(ola.agent_id)
    assert agents.online_agents() == [kim, ola, sam]  # by display name

    clock.advance(minutes=4)
    agents.session_agent(sam_token)  # Sam is still using the console; the others are idle
    clock.advance(minutes=2)
    assert agents.online_agents() == [sam]
    assert agents.online_agents(within=timedelta(minutes=10)) == [kim, ola, sam]

    agents.end_session(sam_token)
    assert agents.online_agents(within=timedelta(minutes=10)) == [kim, ola, sam]  # Sam's other device
    agents.deactivate("ola")
    assert agents.online_agents(within=timedelta(minutes=10)) == [kim, sam]
    clock.advance(hours=SESSION_HOURS)
    assert agents.online_agents(within=timedelta(days=1)) == []  # every session has expired


# ---- sign-in throttling -----------------------------------------------------


def test_wrong_passwords_lock_the_username_for_a_short_window_only(
    agents: SqlAgentService, sam: Agent, sqlite_crm: SqlCrm
) -> None:
    for i in range(LOGIN_LIMITS["user"]):
        assert agents.sign_in("sam", f"guess number {i}", f"10.0.0.{i}") is None  # from several addresses
    with pytest.raises(TooManyAttempts) as refused:
        agents.sign_in("SAM", PASSWORD, "10.0.1.1")  # even the right password, from a fresh address
    assert refused.value.retry_after == LOGIN_WINDOW.total_seconds()
    sqlite_crm.clock.advance(minutes=2)
    for _ in range(10):  # refused attempts are not counted: they cannot stretch the lock
        with pytest.raises(TooManyAttempts):
            agents.sign_in("sam", "another guess!!", "10.0.1.2")
    sqlite_crm.clock.advance(seconds=LOGIN_WINDOW.total_seconds() - 120)
    assert agents.sign_in("sam", PASSWORD, "10.0.1.1") == sam


def test_an_unknown_username_is_throttled_the_same_way(agents: SqlAgentService, sam: Agent) -> None:
    for name in ("sam", "nobody"):
        for _ in range(LOGIN_LIMITS["user"]):
            assert agents.sign_in(name, "a wrong password", "10.0.0.1" if name == "sam" else "10.0.0.2") is None
        with pytest.raises(TooManyAttempts) as refused:
            agents.sign_in(name, PASSWORD, "10.0.0.3")
        assert refused.value.retry_after == LOGIN_WINDOW.total_seconds()


def test_a_success_clears_the_usernames_count(agents: SqlAgentService, sam: Agent) -> None:
    for _ in range(3):
        for _ in range(LOGIN_LIMITS["user"] - 1):
            assert agents.sign_in("sam", "a wrong password", "10.0.0.1") is None
        assert agents.sign_in("sam", PASSWORD, "10.0.0.1") == sam


def test_one_address_trying_many_usernames_is_throttled(
    agents: SqlAgentService, sam: Agent, sqlite_crm: SqlCrm
) -> None:
    for i in range(LOGIN_LIMITS["addr"]):
        assert agents.sign_in(f"user{i}", "a wrong password", "10.9.9.9") is None
        sqlite_crm.clock.advance(seconds=1)
    with pytest.raises(TooManyAttempts) as refused:
        agents.sign_in("sam", PASSWORD, "10.9.9.9")
    assert refused.value.retry_after == LOGIN_WINDOW.total_seconds() - LOGIN_LIMITS["addr"]
    assert agents.sign_in("sam", PASSWORD, "10.0.0.1") == sam  # another address is not held up
    sqlite_crm.clock.advance(seconds=LOGIN_WINDOW.total_seconds() - LOGIN_LIMITS["addr"])
    assert agents.sign_in("sam", PASSWORD, "10.9.9.9") == sam
