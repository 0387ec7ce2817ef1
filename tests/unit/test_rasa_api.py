"""crm_adapter/rasa_api.py: the console's calls to Rasa's HTTP API carry a short-lived JWT, never the key.

Security review finding 10: the key (RASA_API_TOKEN) went in every URL as `?token=...`, so access logs and
proxies kept it. Now each request has `Authorization: Bearer <JWT>`, HS256, signed with the key, for Rasa's admin
role, expiring 60 s after it was made; nothing of the key is in the URL or in any header.
"""

from __future__ import annotations

import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

import jwt
import pytest
import requests

from crm_adapter.rasa_api import RasaConversations, RasaUnavailable

pytestmark = pytest.mark.unit

KEY = "the-rasa-api-key-" + "0123456789abcdef" * 3
NOW = 1_800_000_000.0


@dataclass
class Sent:
    url: str
    params: dict[str, str]
    headers: dict[str, str]
    body: Any


@dataclass
class RecordingSession:
    """Stands in for requests.Session: records each POST and answers with `status`."""

    status: int = 200
    sent: list[Sent] = field(default_factory=list)

    def post(self, url: str, *, json: Any, params: dict[str, str], headers: dict[str, str], timeout: float) -> Any:
        assert timeout > 0
        self.sent.append(Sent(url, dict(params), dict(headers), json))
        response = requests.Response()
        response.status_code = self.status
        response._content = b"{}"
        return response


def client(session: RecordingSession, now: float = NOW) -> RasaConversations:
    return RasaConversations("http://rasa.internal:5005/", KEY, session=session, clock=lambda: now)  # type: ignore[arg-type]


def full_urls(session: RecordingSession) -> list[str]:
    return [requests.Request("POST", s.url, params=s.params).prepare().url or "" for s in session.sent]


def bearer(sent: Sent) -> str:
    scheme, _, token = sent.headers["Authorization"].partition(" ")
    assert scheme == "Bearer"
    return token


def test_no_request_carries_the_key_in_its_url_or_headers():
    session = RecordingSession()
    rasa = client(session)
    rasa.send_as_agent("web-1234", "socketio", "Hello, Sam here", "Sam", 7)
    rasa.hand_back("web-1234", "socketio", "Sam", "resolved")
    assert len(session.sent) == 3
    for url, sent in zip(full_urls(session), session.sent, strict=True):
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
        assert "token" not in query
        assert KEY not in urllib.parse.unquote(url)
        assert all(KEY not in value for value in sent.headers.values())
    # what the calls still say in the query string: the side effects and the channel, nothing else
    assert [s.params for s in session.sent] == [
        {"execute_side_effects": "true", "output_channel": "socketio"},
        {},
        {"output_channel": "socketio"},
    ]


def test_each_request_carries_an_admin_jwt_signed_with_the_key_valid_for_60_seconds():
    session = RecordingSession()
    client(session).send_as_agent("web-1234", "socketio", "Hello", "Sam", 7)
    token = bearer(session.sent[0])
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    claims = jwt.decode(token, KEY, algorithms=["HS256"], options={"verify_exp": False, "verify_iat": False})
    assert claims["user"] == {"username": "hearth-console", "role": "admin"}  # Rasa's role for any conversation
    assert claims["iat"] == int(NOW)
    assert 0 < claims["exp"] - NOW <= 60
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, "another-key-" + "f" * 40, algorithms=["HS256"], options={"verify_exp": False})


def test_a_fresh_token_for_every_request():
    session = RecordingSession()
    times = iter([NOW, NOW + 300])
    rasa = RasaConversations("http://rasa.internal:5005", KEY, session=session, clock=lambda: next(times))  # type: ignore[arg-type]
    rasa.send_as_agent("web-1", "socketio", "one", "Sam", 7)
    rasa.send_as_agent("web-1", "socketio", "two", "Sam", 7)
    first, second = (bearer(s) for s in session.sent)
    options = {"verify_exp": False, "verify_iat": False}
    expiries = [jwt.decode(t, KEY, algorithms=["HS256"], options=options)["exp"] for t in (first, second)]
    assert expiries == [int(NOW) + 60, int(NOW) + 360]


def test_a_token_is_accepted_when_made_and_refused_a_minute_later():
    made_now, made_61_s_ago = RecordingSession(), RecordingSession()
    client(made_now, now=time.time()).hand_back("web-1", "rest", "Sam", "resolved")
    client(made_61_s_ago, now=time.time() - 61).hand_back("web-1", "rest", "Sam", "resolved")
    assert jwt.decode(bearer(made_now.sent[0]), KEY, algorithms=["HS256"])["user"]["role"] == "admin"
    with pytest.raises(jwt.ExpiredSignatureError):
        jwt.decode(bearer(made_61_s_ago.sent[0]), KEY, algorithms=["HS256"])


def test_a_refusal_becomes_rasa_unavailable():
    session = RecordingSession(status=401)
    with pytest.raises(RasaUnavailable, match="HTTP 401"):
        client(session).send_as_agent("web-1", "socketio", "Hello", "Sam", 7)


def test_stepping_in_pauses_the_bot_and_tells_the_customer_on_their_channel():
    session = RecordingSession()
    told = client(session).join("tg-42", "telegram", "Sam Taylor", 7)
    assert len(session.sent) == 1
    sent = session.sent[0]
    assert sent.url == "http://rasa.internal:5005/conversations/tg-42/tracker/events"
    assert sent.params == {"execute_side_effects": "true", "output_channel": "telegram"}
    pause, said = sent.body
    assert pause == {"event": "pause"}  # first: the bot says nothing more once the person has joined
    assert said == {"event": "bot", "text": told, "metadata": {"agent": "Sam Taylor", "agent_id": 7}}
    assert told.startswith("Sam Taylor from our team has joined")
