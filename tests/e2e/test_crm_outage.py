"""The CRM goes away and comes back: the customer is told, nothing is lost, the conversation goes on.

The stack runs with CRM_BACKEND=http against a port where, at first, nothing listens; later
the CRM API (crm_api over a seeded SQLite store) starts on that port.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from crm_adapter.sql.db import make_engine, make_session_factory, upgrade
from crm_adapter.sql.service import SqlCrmService
from crm_api import create_app
from hearth.seed import seed
from tests.asgi_server import serve
from tests.e2e.stack import Stack, free_port, running_stack
from tests.fakes import RecordingCodeSender

pytestmark = pytest.mark.e2e
TOKEN = "outage-test-token"
UNAVAILABLE = "I'm sorry, I can't reach our customer system right now"


@pytest.fixture(scope="module")
def crm_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, crm_port: int) -> Iterator[Stack]:
    with running_stack(
        tmp_path_factory.mktemp("outage"),
        CRM_BACKEND="http",
        CRM_HTTP_BASE_URL=f"http://127.0.0.1:{crm_port}",
        CRM_HTTP_TOKEN=TOKEN,
        CRM_HTTP_TIMEOUT="2",
    ) as s:
        yield s


def test_an_unreachable_crm_gets_a_helpful_reply_and_the_chat_goes_on(stack: Stack, crm_port: int, tmp_path: Path):
    sender = "outage-visitor"
    # recognition fails quietly: the customer is greeted, anonymously
    assert stack.say(sender, "hello")[0].startswith("Hi, I'm Juno")
    stack.say(sender, "where is my order?")
    stack.say(sender, "anna.berg@example.com")
    replies = stack.say(sender, "JH100001")
    assert replies[0].startswith(UNAVAILABLE)
    assert "order you've placed" in replies[-1]  # asked again: the email she gave is kept
    # what needs no CRM still works
    assert "Monday to Friday" in " ".join(stack.say(sender, "when are you open?"))

    # the CRM comes back: the same conversation carries on from where it was
    url = f"sqlite:///{tmp_path / 'crm.db'}"
    upgrade(url)
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    seed(sessions, customers=10)
    service = SqlCrmService(sessions, RecordingCodeSender(), secret="s")
    with serve(create_app(service, token=TOKEN), port=crm_port):
        replies = stack.say(sender, "JH100001")  # the proof, and the order she asked about
        assert replies[-1].startswith("Your order JH100001 (") and "on its way" in replies[-1]
        assert service.recognize("rest", sender) is None  # verifying a conversation links no channel account
    engine.dispose()
