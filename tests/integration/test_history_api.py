"""The timeline and conversation endpoints of the CRM API, over real HTTP on a real database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from crm_adapter.domain import NewFeedback
from crm_api.app import create_app
from history.rows import ConversationRow
from history.timeline import SqlHistoryService
from relationship.service import SqlRelationshipService
from tests.asgi_server import serve
from tests.conftest import SqlCrm
from tests.factories import add_customer, add_order, add_ticket
from tests.history_events import Chat, ingest_chats

pytestmark = pytest.mark.integration
TOKEN = "history-api-token"


@pytest.fixture
def api(sqlite_crm: SqlCrm, tmp_path: Path) -> Iterator[tuple[str, SqlCrm]]:
    relationship = SqlRelationshipService(sqlite_crm.sessions, clock=sqlite_crm.clock)
    app = create_app(sqlite_crm.service, TOKEN, SqlHistoryService(sqlite_crm.sessions), relationship)
    with serve(app) as base_url:
        yield base_url, sqlite_crm


def get(url: str, token: str | None = TOKEN, **params: object) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.get(url, headers=headers, params=params, timeout=10)


def test_the_timeline_pages_through_a_customers_history_as_json(api, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    base_url, crm = api
    customer = add_customer(crm.sessions)
    add_order(crm.sessions, customer, "JH300001")
    add_ticket(crm.sessions, customer, "Wobbly chair")
    chat = Chat("api-1").session_start().user("hi", "greet").slot("customer_id", customer).action("action_listen")
    chat.action("utter_greet").bot("Hello Anna", "utter_greet").action("action_listen")
    ingest_chats(crm.sessions, tmp_path / "tracker.db", [chat])

    first = get(f"{base_url}/v1/customers/{customer}/timeline", limit=2)
    assert first.status_code == 200, first.text
    body = first.json()
    assert [e["kind"] for e in body["entries"]] == ["conversation", "ticket"]
    assert body["entries"][0]["occurred_at"].endswith("Z") and body["entries"][0]["detail"]["channel"] == "rest"
    rest = get(f"{base_url}/v1/customers/{customer}/timeline", limit=2, cursor=body["next_cursor"]).json()
    assert [e["reference"] for e in rest["entries"]] == ["JH300001"] and rest["next_cursor"] is None

    conv_id = body["entries"][0]["reference"]
    conv = get(f"{base_url}/v1/customers/{customer}/conversations/{conv_id}").json()
    assert [(m["sender"], m["text"]) for m in conv["messages"]] == [("customer", "hi"), ("bot", "Hello Anna")]
    assert conv["messages"][0]["intent"] == "greet" and conv["messages"][1]["response"] == "utter_greet"


def test_history_endpoints_refuse_strangers_bad_cursors_and_other_customers(api, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    base_url, crm = api
    owner = add_customer(crm.sessions)
    other = add_customer(crm.sessions, email="other@example.com")
    ingest_chats(
        crm.sessions,
        tmp_path / "tracker.db",
        [Chat("api-2").session_start().user("hi", "greet").slot("customer_id", owner)],
    )
    with crm.sessions() as s:
        conv_id = s.scalar(select(ConversationRow.id))

    assert get(f"{base_url}/v1/customers/{owner}/timeline", token=None).status_code == 401
    assert get(f"{base_url}/v1/customers/{owner}/timeline", token="wrong").status_code == 401
    bad = get(f"{base_url}/v1/customers/{owner}/timeline", cursor="garbage")
    assert (bad.status_code, bad.json()["error"]["field"]) == (422, "cursor")
    assert get(f"{base_url}/v1/customers/{owner}/timeline", limit=0).status_code == 422
    assert get(f"{base_url}/v1/customers/cus_nobody/timeline").json()["error"]["code"] == "not_found"
    stolen = get(f"{base_url}/v1/customers/{other}/conversations/{conv_id}")
    assert stolen.status_code == 404  # someone else's conversation does not exist for you
    assert get(f"{base_url}/v1/customers/{owner}/conversations/{conv_id}").status_code == 200
    assert get(f"{base_url}/v1/customers/{owner}/conversations/not-a-number").status_code == 422


def test_a_backend_without_history_says_so(sqlite_crm: SqlCrm) -> None:
    with serve(create_app(sqlite_crm.service, TOKEN)) as base_url:
        response = get(f"{base_url}/v1/customers/cus_x/timeline")
    assert (response.status_code, response.json()["error"]["code"]) == (404, "history_unavailable")


def test_the_profile_shows_value_with_its_breakdown(api) -> None:  # type: ignore[no-untyped-def]
    base_url, crm = api
    customer = add_customer(crm.sessions, first_name="Greta")
    add_order(crm.sessions, customer, "JH300101", status="delivered", delivered_days_ago=5,
              items=(("Sofa", 1, 100000),))  # fmt: skip
    SqlRelationshipService(crm.sessions).record_feedback(NewFeedback("nps", 10, None, customer))
    SqlRelationshipService(crm.sessions).set_consent(customer, "marketing", False)

    response = get(f"{base_url}/v1/customers/{customer}/profile")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["customer"]["first_name"] == "Greta"
    parts = {p["name"]: p for p in body["value"]["parts"]}
    assert parts["purchases"]["points"] == 25.0
    assert parts["purchases"]["reasons"] == ["£1,000.00 net spend over 1 order"]
    assert parts["advocacy"]["points"] == 12.0 and "would recommend us 10/10" in parts["advocacy"]["reasons"]
    assert body["value"]["score"] == sum(p["points"] for p in parts.values())
    assert body["consents"] == {"history": None, "service": None, "marketing": False}
    assert get(f"{base_url}/v1/customers/{customer}/profile", token=None).status_code == 401
    assert get(f"{base_url}/v1/customers/cus_nobody/profile").json()["error"]["code"] == "not_found"
