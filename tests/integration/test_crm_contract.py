"""One contract suite, four backends: every `CrmService` must behave exactly alike.

* ``memory``     MemoryCrmService (tests/fakes/), the in-memory stand-in; these run in the unit tier
* ``sqlite``     SqlCrmService on a migrated SQLite file
* ``postgresql`` SqlCrmService on PostgreSQL (skipped when no server is reachable, fails in CI)
* ``http``       HttpCrmService -> real uvicorn server -> crm_api.create_app -> SqlCrmService on SQLite

Data is arranged with the backend's `Arrange` (tests/factories.py) straight into the store behind it,
bypassing the service; one-time codes are read from the RecordingCodeSender after the worker's delivery
(`Inbox`) and time moves with the fixture's Clock. An unreachable database (the in-memory store while down;
SqlCrmService where nothing listens) is its own pair of rows at the end (an unreachable external CRM:
tests/integration/test_http_backend_failures.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
import requests

from crm_adapter.domain import (
    CodeRequired,
    ContactField,
    CrmUnavailable,
    Customer,
    CustomerContext,
    Highlight,
    InvalidInput,
    LoyaltyBalance,
    NewTicket,
    NotAllowed,
    NotFound,
    Order,
    OrderChange,
    OrderLine,
    OrderStatus,
    ReturnRequest,
    Ticket,
    TicketKind,
    TicketStatus,
    VerificationFailed,
)
from crm_adapter.http_backend import HttpCrmService
from crm_adapter.ports import CrmService
from crm_adapter.rules import CODE_MAX_ATTEMPTS, CODES_PER_WINDOW, MAX_ORDER_FAILURES
from crm_adapter.sql.db import make_engine, make_session_factory
from crm_adapter.sql.service import SqlCrmService
from crm_api import create_app
from tests.asgi_server import serve
from tests.factories import NOW, Arrange, Clock, SqlArrange
from tests.fakes import Inbox, MemoryArrange, MemoryCrmService, MemoryCrmStore, RecordingCodeSender

TOKEN = "t0ken"


@dataclass
class Backend:
    name: str
    service: CrmService
    arrange: Arrange
    codes: Inbox
    clock: Clock


@pytest.fixture(
    params=[
        pytest.param("memory", marks=pytest.mark.unit),
        pytest.param("sqlite", marks=pytest.mark.integration),
        pytest.param("postgresql", marks=pytest.mark.integration),
        pytest.param("http", marks=pytest.mark.integration),
    ]
)
def crm(request: pytest.FixtureRequest) -> Iterator[Backend]:
    if request.param == "memory":
        store, sender, clock = MemoryCrmStore(), RecordingCodeSender(), Clock()
        service = MemoryCrmService(store, sender, clock=clock)
        yield Backend("memory", service, MemoryArrange(store), Inbox(sender, service.deliver_codes), clock)
        return
    if request.param == "http":
        sql = request.getfixturevalue("sqlite_crm")
        with serve(create_app(sql.service, token=TOKEN)) as base_url, requests.Session() as session:
            session.headers["Authorization"] = f"Bearer {TOKEN}"
            service = HttpCrmService(base_url, session=session, timeout=5.0)
            yield Backend("http", service, SqlArrange(sql.sessions), sql.codes, sql.clock)
        return
    sql = request.getfixturevalue("sqlite_crm" if request.param == "sqlite" else "postgres_crm")
    yield Backend(request.param, sql.service, SqlArrange(sql.sessions), sql.codes, sql.clock)


def customer_of(crm: Backend, customer_id: str, **overrides: object) -> Customer:
    """The Customer that `Arrange.add_customer` builds with default arguments."""
    n = int(customer_id.removeprefix("cus_test"))
    values: dict[str, object] = {
        "customer_id": customer_id,
        "first_name": "Anna",
        "last_name": "Berg",
        "email": f"customer{n}@example.com",
        "phone": "+447700900123",
        "address": "12 Elm Street, Leeds LS1 4AB",
        "loyalty_points": 120,
    }
    values.update(overrides)
    return Customer(**values)  # type: ignore[arg-type]


# ---- identity -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sender_id",
    ["4f9c2a7e-1b7d-4c1e-9a55-0d5b1f3f2c11", "user/42", "..", ".", "a b?c#d%e&f=g+h", "%2F", "Zoë 😀", "x" * 255],
)
def test_link_then_recognize_then_unlink(crm: Backend, sender_id: str) -> None:
    cid = crm.arrange.add_customer()
    assert crm.service.recognize("rest", sender_id) is None

    crm.service.link_identity(cid, "rest", sender_id)

    assert crm.service.recognize("rest", sender_id) == CustomerContext(
        customer_id=cid, first_name="Anna", loyalty_points=120, highlight=None, open_ticket_count=0
    )
    assert crm.service.recognize("telegram", sender_id) is None  # the channel is part of the identity
    assert crm.service.unlink_identity("rest", sender_id) is True
    assert crm.service.recognize("rest", sender_id) is None
    assert crm.service.unlink_identity("rest", sender_id) is False


def test_recognize_an_arranged_identity(crm: Backend) -> None:
    cid = crm.arrange.add_customer(first_name="Omar", loyalty_points=2400)
    crm.arrange.add_identity(cid, "socketio", "sock-77")

    context = crm.service.recognize("socketio", "sock-77")

    assert context == CustomerContext(customer_id=cid, first_name="Omar", loyalty_points=2400, highlight=None)


def test_link_identity_moves_it_to_the_new_customer(crm: Backend) -> None:
    first, second = crm.arrange.add_customer(), crm.arrange.add_customer(first_name="Ben")
    crm.service.link_identity(first, "rest", "shared-device")

    crm.service.link_identity(second, "rest", "shared-device")

    context = crm.service.recognize("rest", "shared-device")
    assert context is not None and (context.customer_id, context.first_name) == (second, "Ben")


def test_link_identity_to_unknown_customer_is_not_found(crm: Backend) -> None:
    with pytest.raises(NotFound):
        crm.service.link_identity("cus_nobody", "rest", "s-1")
    assert crm.service.recognize("rest", "s-1") is None


def test_link_identity_rejects_a_sender_id_longer_than_255_characters(crm: Backend) -> None:
    cid = crm.arrange.add_customer()
    with pytest.raises(InvalidInput) as caught:
        crm.service.link_identity(cid, "rest", "x" * 256)
    assert caught.value.field == "sender_id"


# ---- verification ---------------------------------------------------------------------------


def test_verify_with_order_normalises_email_and_order_number(crm: Backend) -> None:
    cid = crm.arrange.add_customer(email="anna.berg@example.com")
    crm.arrange.add_order(cid, "JH100001")

    customer = crm.service.verify_with_order("  Anna.Berg@EXAMPLE.com ", "jh-100001")

    assert customer == customer_of(crm, cid, email="anna.berg@example.com")


@pytest.mark.parametrize(
    ("email", "order_number"),
    [
        ("someone.else@example.com", "JH100001"),  # wrong email
        ("anna.berg@example.com", "JH200002"),  # someone else's order
        ("anna.berg@example.com", "JH999999"),  # no such order
        ("not an email", "JH100001"),
        ("anna.berg@example.com", "100001"),
    ],
)
def test_verify_with_order_fails_without_saying_why(crm: Backend, email: str, order_number: str) -> None:
    anna = crm.arrange.add_customer(email="anna.berg@example.com")
    crm.arrange.add_order(anna, "JH100001")
    other = crm.arrange.add_customer(email="someone.else@example.com")
    crm.arrange.add_order(other, "JH200002")

    with pytest.raises(VerificationFailed):
        crm.service.verify_with_order(email, order_number)


def test_one_time_code_verifies_once(crm: Backend) -> None:
    cid = crm.arrange.add_customer(email="anna.berg@example.com")

    crm.service.send_one_time_code(" Anna.Berg@example.com")

    assert len(crm.codes.sent) == 1
    address, code = crm.codes.sent[0]
    assert address == "anna.berg@example.com" and code.isdigit() and len(code) == 6
    assert crm.service.verify_one_time_code("anna.berg@example.com", f" {code} ") == customer_of(
        crm, cid, email="anna.berg@example.com"
    )
    with pytest.raises(VerificationFailed):  # replayed
        crm.service.verify_one_time_code("anna.berg@example.com", code)


def test_one_time_code_wrong_code_fails_and_the_right_one_still_works(crm: Backend) -> None:
    cid = crm.arrange.add_customer(email="anna.berg@example.com")
    crm.service.send_one_time_code("anna.berg@example.com")
    code = crm.codes.last_code_for("anna.berg@example.com")
    assert code is not None
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"

    with pytest.raises(VerificationFailed):
        crm.service.verify_one_time_code("anna.berg@example.com", wrong)
    assert crm.service.verify_one_time_code("anna.berg@example.com", code).customer_id == cid


def test_one_time_code_locks_after_five_wrong_attempts(crm: Backend) -> None:
    crm.arrange.add_customer(email="anna.berg@example.com")
    crm.service.send_one_time_code("anna.berg@example.com")
    code = crm.codes.last_code_for("anna.berg@example.com")
    assert code is not None
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"

    for _ in range(5):
        with pytest.raises(VerificationFailed):
            crm.service.verify_one_time_code("anna.berg@example.com", wrong)
    with pytest.raises(VerificationFailed):
        crm.service.verify_one_time_code("anna.berg@example.com", code)


def test_one_time_code_expires_after_ten_minutes(crm: Backend) -> None:
    crm.arrange.add_customer(email="anna.berg@example.com")
    crm.service.send_one_time_code("anna.berg@example.com")
    code = crm.codes.last_code_for("anna.berg@example.com")
    assert code is not None

    crm.clock.advance(minutes=11)

    with pytest.raises(VerificationFailed):
        crm.service.verify_one_time_code("anna.berg@example.com", code)


def test_a_new_one_time_code_replaces_the_previous_one(crm: Backend) -> None:
    cid = crm.arrange.add_customer(email="anna.berg@example.com")
    crm.service.send_one_time_code("anna.berg@example.com")
    crm.service.send_one_time_code("anna.berg@example.com")
    (_, first), (_, second) = crm.codes.sent

    if first != second:
        with pytest.raises(VerificationFailed):
            crm.service.verify_one_time_code("anna.berg@example.com", first)
    assert crm.service.verify_one_time_code("anna.berg@example.com", second).customer_id == cid
    if first != second:
        with pytest.raises(VerificationFailed):  # nor does it come back once the new one is used
            crm.service.verify_one_time_code("anna.berg@example.com", first)


@pytest.mark.parametrize("email", ["nobody@example.com", "not an email", ""])
def test_one_time_code_for_unknown_or_invalid_email_is_silent(crm: Backend, email: str) -> None:
    crm.arrange.add_customer(email="anna.berg@example.com")

    crm.service.send_one_time_code(email)  # no error: whether an address is on file stays private

    assert crm.codes.sent == []
    with pytest.raises(VerificationFailed):
        crm.service.verify_one_time_code(email, "123456")


def test_one_time_code_still_works_at_ten_minutes(crm: Backend) -> None:
    cid = crm.arrange.add_customer(email="anna.berg@example.com")
    crm.service.send_one_time_code("anna.berg@example.com")
    code = crm.codes.last_code_for("anna.berg@example.com")
    assert code is not None

    crm.clock.advance(minutes=10)

    assert crm.service.verify_one_time_code("anna.berg@example.com", code).customer_id == cid


def test_wrong_order_numbers_for_an_address_leave_its_owner_the_code(crm: Backend) -> None:
    """A stranger's wrong order numbers, from however many conversations, slow the guessing without locking the
    customer out: past the limit no order number is taken for the address, and a code emailed to it still works."""
    anna = crm.arrange.add_customer(email="anna.berg@example.com")
    crm.arrange.add_order(anna, "JH100001")
    for n in range(MAX_ORDER_FAILURES - 1):
        with pytest.raises(VerificationFailed) as wrong:
            crm.service.verify_with_order("anna.berg@example.com", f"JH9{n:05d}")
        assert not isinstance(wrong.value, CodeRequired)
    crm.clock.advance(minutes=30)
    with pytest.raises(VerificationFailed):
        crm.service.verify_with_order(" Anna.Berg@example.com", "JH999999")  # the same address, as typed

    with pytest.raises(CodeRequired):  # now no order number is taken for the address, not even the right one
        crm.service.verify_with_order("anna.berg@example.com", "JH100001")
    for n in range(MAX_ORDER_FAILURES):  # and, meanwhile, nothing more is counted
        with pytest.raises(CodeRequired):
            crm.service.verify_with_order("anna.berg@example.com", f"JH8{n:05d}")
    crm.service.send_one_time_code("anna.berg@example.com")  # but the owner gets in with the emailed code
    code = crm.codes.last_code_for("anna.berg@example.com")
    assert code is not None
    assert crm.service.verify_one_time_code("anna.berg@example.com", code).customer_id == anna

    crm.clock.advance(minutes=29, seconds=59)
    with pytest.raises(CodeRequired):
        crm.service.verify_with_order("anna.berg@example.com", "JH100001")
    crm.clock.advance(seconds=1)  # the first wrong ones are an hour old and no longer count: one is left
    assert crm.service.verify_with_order("anna.berg@example.com", "JH100001").customer_id == anna


def test_an_address_not_on_file_is_limited_alike(crm: Backend) -> None:
    crm.arrange.add_customer(email="anna.berg@example.com")
    for n in range(MAX_ORDER_FAILURES):
        with pytest.raises(VerificationFailed) as wrong:
            crm.service.verify_with_order("nobody@example.com", f"JH9{n:05d}")
        assert not isinstance(wrong.value, CodeRequired)
    with pytest.raises(CodeRequired):  # the same answer as for an address on file
        crm.service.verify_with_order("nobody@example.com", "JH100001")


def test_wrong_codes_do_not_stop_order_numbers_and_a_new_code_works(crm: Backend) -> None:
    anna = crm.arrange.add_customer(email="anna.berg@example.com")
    crm.arrange.add_order(anna, "JH100001")
    crm.service.send_one_time_code("anna.berg@example.com")
    code = crm.codes.last_code_for("anna.berg@example.com") or ""
    for n in range(CODE_MAX_ATTEMPTS):
        with pytest.raises(VerificationFailed):
            crm.service.verify_one_time_code("anna.berg@example.com", f"{(int(code) + n + 1) % 1_000_000:06d}")
    with pytest.raises(VerificationFailed):  # the code has had its guesses: the right one fails
        crm.service.verify_one_time_code("anna.berg@example.com", code)
    assert crm.service.verify_with_order("anna.berg@example.com", "JH100001").customer_id == anna

    crm.service.send_one_time_code("anna.berg@example.com")  # a new code takes guesses again
    fresh = crm.codes.last_code_for("anna.berg@example.com")
    assert fresh is not None
    assert crm.service.verify_one_time_code("anna.berg@example.com", fresh).customer_id == anna


def test_wrong_order_numbers_count_against_no_other_address(crm: Backend) -> None:
    anna = crm.arrange.add_customer(email="anna.berg@example.com")
    crm.arrange.add_order(anna, "JH100001")
    omar = crm.arrange.add_customer(email="omar@example.com")
    crm.arrange.add_order(omar, "JH200002")
    for _ in range(MAX_ORDER_FAILURES):
        with pytest.raises(VerificationFailed):
            crm.service.verify_with_order("omar@example.com", "JH100001")  # Anna's order, Omar's email

    assert crm.service.verify_with_order("anna.berg@example.com", "JH100001").customer_id == anna
    with pytest.raises(CodeRequired):
        crm.service.verify_with_order("omar@example.com", "JH200002")


def test_a_code_request_is_only_queued_and_the_worker_emails_it(crm: Backend) -> None:
    """Asking does the same for an address on file or not: it queues; delivery emails the customer's code."""
    anna = crm.arrange.add_customer(email="anna.berg@example.com")
    crm.service.send_one_time_code("anna.berg@example.com")
    crm.service.send_one_time_code("nobody@example.com")
    assert crm.codes.sender.sent == []  # nothing emailed by the request itself

    assert [address for address, _ in crm.codes.sent] == ["anna.berg@example.com"]
    code = crm.codes.last_code_for("anna.berg@example.com")
    assert code is not None and crm.service.verify_one_time_code("anna.berg@example.com", code).customer_id == anna
    assert len(crm.codes.sent) == 1  # each request is delivered once


def test_a_queued_code_request_older_than_a_code_is_dropped(crm: Backend) -> None:
    crm.arrange.add_customer(email="anna.berg@example.com")
    crm.service.send_one_time_code("anna.berg@example.com")
    crm.clock.advance(minutes=11)  # the worker was away longer than a code lives

    assert crm.codes.sent == []


def test_at_most_a_few_codes_an_hour_are_emailed(crm: Backend) -> None:
    crm.arrange.add_customer(email="anna.berg@example.com")
    for _ in range(CODES_PER_WINDOW + 3):
        crm.service.send_one_time_code("anna.berg@example.com")
    assert len(crm.codes.sent) == CODES_PER_WINDOW

    crm.clock.advance(minutes=59, seconds=59)
    crm.service.send_one_time_code("anna.berg@example.com")
    assert len(crm.codes.sent) == CODES_PER_WINDOW

    crm.clock.advance(seconds=1)  # an hour on, the first codes no longer count
    crm.service.send_one_time_code("anna.berg@example.com")

    assert len(crm.codes.sent) == CODES_PER_WINDOW + 1
    code = crm.codes.last_code_for("anna.berg@example.com")
    assert code is not None and crm.service.verify_one_time_code("anna.berg@example.com", code).email == (
        "anna.berg@example.com"
    )


# ---- profile --------------------------------------------------------------------------------


def test_get_customer(crm: Backend) -> None:
    cid = crm.arrange.add_customer(first_name="Zoë", last_name="O'Neill", loyalty_points=7, phone=None)

    assert crm.service.get_customer(cid) == customer_of(
        crm, cid, first_name="Zoë", last_name="O'Neill", loyalty_points=7, phone=None
    )
    with pytest.raises(NotFound):
        crm.service.get_customer("cus_nobody")


@pytest.mark.parametrize(
    ("field", "value", "stored"),
    [
        (ContactField.PHONE, "07700 900-456", "+447700900456"),
        (ContactField.PHONE, "+49 (30) 1234 5678", "+493012345678"),
        (ContactField.ADDRESS, "  5  High Street,\n York   YO1 7HH ", "5 High Street, York YO1 7HH"),
    ],
)
def test_update_contact_normalises(crm: Backend, field: ContactField, value: str, stored: str) -> None:
    cid = crm.arrange.add_customer()

    updated = crm.service.update_contact(cid, field, value)

    assert updated == customer_of(crm, cid, **{field.value: stored})
    assert crm.service.get_customer(cid) == updated


@pytest.mark.parametrize(
    ("field", "value"),
    [
        (ContactField.PHONE, "call me maybe"),
        (ContactField.PHONE, "12345"),
        (ContactField.ADDRESS, "Leeds"),
        (ContactField.ADDRESS, "Somewhere far away without a number"),
    ],
)
def test_update_contact_rejects_invalid_values(crm: Backend, field: ContactField, value: str) -> None:
    cid = crm.arrange.add_customer()

    with pytest.raises(InvalidInput) as caught:
        crm.service.update_contact(cid, field, value)

    assert caught.value.field == field.value
    assert str(caught.value)  # a message the bot can say
    assert crm.service.get_customer(cid) == customer_of(crm, cid)


@pytest.mark.parametrize("value", ["new.address@example.com", "taken@example.com", "customer2@example.com", "x"])
def test_update_contact_never_changes_the_email(crm: Backend, value: str) -> None:
    """The email on file changes only once the new address confirms it (crm_adapter/contact_changes.py); over
    HTTP this is a 409 with the code email_needs_confirmation. A taken address reads like any other."""
    crm.arrange.add_customer(email="taken@example.com")
    cid = crm.arrange.add_customer()

    with pytest.raises(NotAllowed) as caught:
        crm.service.update_contact(cid, ContactField.EMAIL, value)

    assert caught.value.reason == "email_needs_confirmation"
    assert crm.service.get_customer(cid) == customer_of(crm, cid)
    assert crm.codes.sent == []


def test_update_contact_of_unknown_customer(crm: Backend) -> None:
    with pytest.raises(NotFound):
        crm.service.update_contact("cus_nobody", ContactField.PHONE, "07700900456")


@pytest.mark.parametrize(
    ("points", "expected"),
    [
        (0, LoyaltyBalance(points=0, tier="Bronze", value_cents=0, points_to_next_tier=500)),
        (499, LoyaltyBalance(points=499, tier="Bronze", value_cents=499, points_to_next_tier=1)),
        (500, LoyaltyBalance(points=500, tier="Silver", value_cents=500, points_to_next_tier=1500)),
        (1999, LoyaltyBalance(points=1999, tier="Silver", value_cents=1999, points_to_next_tier=1)),
        (2000, LoyaltyBalance(points=2000, tier="Gold", value_cents=2000, points_to_next_tier=None)),
        (12345, LoyaltyBalance(points=12345, tier="Gold", value_cents=12345, points_to_next_tier=None)),
    ],
)
def test_loyalty_tiers(crm: Backend, points: int, expected: LoyaltyBalance) -> None:
    cid = crm.arrange.add_customer(loyalty_points=points)
    assert crm.service.loyalty(cid) == expected


def test_loyalty_of_unknown_customer(crm: Backend) -> None:
    with pytest.raises(NotFound):
        crm.service.loyalty("cus_nobody")


# ---- orders ---------------------------------------------------------------------------------


def test_get_order_returns_every_field(crm: Backend) -> None:
    cid = crm.arrange.add_customer()
    crm.arrange.add_order(
        cid, "JH100001", status="shipped", items=(("Oak side table", 1, 8900), ("Linen cushion", 2, 1450))
    )

    expected = Order(
        order_number="JH100001",
        customer_id=cid,
        status=OrderStatus.SHIPPED,
        placed_at=NOW - timedelta(days=3),
        expected_delivery=NOW + timedelta(days=2),
        delivered_at=None,
        total_cents=11800,
        currency="GBP",
        carrier="DPD",
        tracking_number="DPD123456789",
        lines=(OrderLine("SKU0", "Oak side table", 1, 8900), OrderLine("SKU1", "Linen cushion", 2, 1450)),
    )
    assert crm.service.get_order(cid, "JH100001") == expected
    assert crm.service.get_order(cid, " jh-100001") == expected
    assert expected.summary == "Oak side table and 2 more items"


@pytest.mark.parametrize("order_number", ["JH200002", "JH999999", "nonsense", "JH/100001", ""])
def test_get_order_of_someone_else_or_nonexistent_is_not_found(crm: Backend, order_number: str) -> None:
    cid = crm.arrange.add_customer()
    crm.arrange.add_order(cid, "JH100001")
    other = crm.arrange.add_customer()
    crm.arrange.add_order(other, "JH200002")

    with pytest.raises(NotFound):
        crm.service.get_order(cid, order_number)


def test_list_orders_newest_first_with_limit(crm: Backend) -> None:
    cid = crm.arrange.add_customer()
    crm.arrange.add_order(cid, "JH100001", status="delivered", placed_days_ago=40, delivered_days_ago=35)
    crm.arrange.add_order(cid, "JH100002", status="shipped", placed_days_ago=5)
    crm.arrange.add_order(cid, "JH100003", status="placed", placed_days_ago=1)
    crm.arrange.add_order(crm.arrange.add_customer(), "JH200001", placed_days_ago=0)

    assert [o.order_number for o in crm.service.list_orders(cid)] == ["JH100003", "JH100002", "JH100001"]
    assert [o.order_number for o in crm.service.list_orders(cid, limit=2)] == ["JH100003", "JH100002"]
    assert [o.order_number for o in crm.service.list_orders(cid, limit=0)] == ["JH100003"]  # clamped to 1
    assert len(crm.service.list_orders(cid, limit=500)) == 3  # clamped to 50
    assert crm.service.list_orders(cid)[2].delivered_at == NOW - timedelta(days=35)
    assert crm.service.list_orders(crm.arrange.add_customer()) == []
    with pytest.raises(NotFound):
        crm.service.list_orders("cus_nobody")


@pytest.mark.parametrize("status", ["placed", "packed"])
def test_cancel_order(crm: Backend, status: str) -> None:
    cid = crm.arrange.add_customer()
    crm.arrange.add_order(cid, "JH100001", status=status)

    cancelled = crm.service.cancel_order(cid, "jh100001")

    assert (cancelled.order_number, cancelled.status) == ("JH100001", OrderStatus.CANCELLED)
    assert crm.service.get_order(cid, "JH100001") == cancelled
    with pytest.raises(NotAllowed) as caught:
        crm.service.cancel_order(cid, "JH100001")
    assert caught.value.reason == "order_cancelled"


@pytest.mark.parametrize(
    ("status", "reason"),
    [("shipped", "order_shipped"), ("out_for_delivery", "order_out_for_delivery"), ("delivered", "order_delivered")],
)
def test_cancel_order_too_late(crm: Backend, status: str, reason: str) -> None:
    cid = crm.arrange.add_customer()
    crm.arrange.add_order(cid, "JH100001", status=status, delivered_days_ago=1 if status == "delivered" else None)

    with pytest.raises(NotAllowed) as caught:
        crm.service.cancel_order(cid, "JH100001")

    assert caught.value.reason == reason
    assert crm.service.get_order(cid, "JH100001").status == OrderStatus(status)


def test_cancel_someone_elses_order_is_not_found(crm: Backend) -> None:
    crm.arrange.add_order(crm.arrange.add_customer(), "JH200002", status="placed")
    with pytest.raises(NotFound):
        crm.service.cancel_order(crm.arrange.add_customer(), "JH200002")


TWO_LINES = (("Wool rug", 1, 12900), ("Linen cushion", 2, 1450))


@pytest.mark.parametrize("status", ["placed", "packed"])
def test_change_order_items_and_quantities_recomputes_the_total(crm: Backend, status: str) -> None:
    cid = crm.arrange.add_customer()
    crm.arrange.add_order(cid, "JH100001", status=status, items=TWO_LINES)
    rug, cushion = (line.sku for line in crm.service.get_order(cid, "JH100001").lines)

    fewer = crm.service.change_order(cid, "jh-100001", OrderChange("set_quantity", sku=cushion, quantity=1))
    assert [(line.name, line.quantity) for line in fewer.lines] == [("Wool rug", 1), ("Linen cushion", 1)]
    assert fewer.total_cents == 12900 + 1450
    without = crm.service.change_order(cid, "JH100001", OrderChange("remove_item", sku=rug))
    assert [line.name for line in without.lines] == ["Linen cushion"] and without.total_cents == 1450
    assert crm.service.get_order(cid, "JH100001") == without
    with pytest.raises(NotAllowed) as caught:
        crm.service.change_order(cid, "JH100001", OrderChange("set_quantity", sku=cushion, quantity=0))
    assert caught.value.reason == "last_item"  # the only item left: cancel instead
    assert crm.service.get_order(cid, "JH100001") == without


def test_change_order_delivery_address_for_that_order_only(crm: Backend) -> None:
    cid = crm.arrange.add_customer()
    crm.arrange.add_order(cid, "JH100001", status="placed")
    on_file = crm.service.get_customer(cid).address

    changed = crm.service.change_order(
        cid, "JH100001", OrderChange("deliver_to", address="  5 High Street,  York YO1 7HX ")
    )

    assert changed.delivery_address == "5 High Street, York YO1 7HX"
    assert crm.service.get_order(cid, "JH100001").delivery_address == "5 High Street, York YO1 7HX"
    assert crm.service.get_customer(cid).address == on_file  # the account's address is not touched


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (OrderChange("remove_item", sku="NOPE"), "sku"),
        (OrderChange("set_quantity", sku=None, quantity=2), "sku"),
        (OrderChange("set_quantity", sku="FIRST", quantity=11), "quantity"),
        (OrderChange("deliver_to", address="x"), "address"),
    ],
)
def test_change_order_refuses_bad_changes_and_changes_nothing(crm: Backend, change: OrderChange, field: str) -> None:
    cid = crm.arrange.add_customer()
    crm.arrange.add_order(cid, "JH100001", status="placed", items=TWO_LINES)
    before = crm.service.get_order(cid, "JH100001")
    if change.sku == "FIRST":
        change = OrderChange(change.kind, sku=before.lines[0].sku, quantity=change.quantity)

    with pytest.raises(InvalidInput) as caught:
        crm.service.change_order(cid, "JH100001", change)

    assert caught.value.field == field
    assert crm.service.get_order(cid, "JH100001") == before


@pytest.mark.parametrize("status", ["shipped", "delivered", "cancelled"])
def test_change_order_too_late_or_someone_elses(crm: Backend, status: str) -> None:
    cid = crm.arrange.add_customer()
    crm.arrange.add_order(cid, "JH100001", status=status, delivered_days_ago=1 if status == "delivered" else None)
    with pytest.raises(NotAllowed) as caught:
        crm.service.change_order(cid, "JH100001", OrderChange("deliver_to", address="5 High Street, York YO1 7HX"))
    assert caught.value.reason == f"order_{status}"
    with pytest.raises(NotFound):
        crm.service.change_order(crm.arrange.add_customer(), "JH100001", OrderChange("remove_item", sku="SKU0"))


def test_start_return_on_delivered_order(crm: Backend) -> None:
    cid = crm.arrange.add_customer()
    crm.arrange.add_order(cid, "JH100001", status="delivered", placed_days_ago=10, delivered_days_ago=5)

    ret = crm.service.start_return(cid, "JH100001", "  Too   small\nfor the room ")

    assert ret.rma_number.startswith("RMA-") and len(ret.rma_number) == 10
    assert ret == ReturnRequest(
        rma_number=ret.rma_number,
        order_number="JH100001",
        reason="Too small for the room",
        status="requested",
        refund_cents=8900,
        created_at=NOW,
        refunded_at=None,
    )
    assert crm.service.list_returns(cid) == [ret]
    with pytest.raises(NotAllowed) as caught:
        crm.service.start_return(cid, "JH100001", "Changed my mind")
    assert caught.value.reason == "already_requested"
    assert crm.service.list_returns(cid) == [ret]


def test_list_returns_newest_first(crm: Backend) -> None:
    cid = crm.arrange.add_customer()
    crm.arrange.add_order(cid, "JH100001", status="delivered", placed_days_ago=10, delivered_days_ago=5)
    crm.arrange.add_order(cid, "JH100002", status="delivered", placed_days_ago=9, delivered_days_ago=4)
    other = crm.arrange.add_customer()
    crm.arrange.add_order(other, "JH200001", status="delivered", delivered_days_ago=1)
    crm.service.start_return(other, "JH200001", "Not for me")

    first = crm.service.start_return(cid, "JH100002", "Too big")
    crm.clock.advance(minutes=1)
    second = crm.service.start_return(cid, "JH100001", "Too small")

    assert crm.service.list_returns(cid) == [second, first]
    assert (second.order_number, second.created_at) == ("JH100001", NOW + timedelta(minutes=1))
    assert crm.service.list_returns("cus_nobody") == []


def test_start_return_on_last_day_of_window(crm: Backend) -> None:
    cid = crm.arrange.add_customer()
    crm.arrange.add_order(cid, "JH100001", status="delivered", placed_days_ago=35, delivered_days_ago=30)
    assert crm.service.start_return(cid, "JH100001", "Faulty lamp").order_number == "JH100001"


@pytest.mark.parametrize(
    ("status", "delivered_days_ago", "reason"),
    [
        ("shipped", None, "not_delivered"),
        ("placed", None, "not_delivered"),
        ("cancelled", None, "not_delivered"),
        ("delivered", 31, "window_closed"),
    ],
)
def test_start_return_not_allowed(crm: Backend, status: str, delivered_days_ago: float | None, reason: str) -> None:
    cid = crm.arrange.add_customer()
    crm.arrange.add_order(cid, "JH100001", status=status, placed_days_ago=40, delivered_days_ago=delivered_days_ago)

    with pytest.raises(NotAllowed) as caught:
        crm.service.start_return(cid, "JH100001", "It wobbles")

    assert caught.value.reason == reason
    assert crm.service.list_returns(cid) == []


@pytest.mark.parametrize("reason", ["", "  ", "ok"])
def test_start_return_needs_a_reason(crm: Backend, reason: str) -> None:
    cid = crm.arrange.add_customer()
    crm.arrange.add_order(cid, "JH100001", status="delivered", delivered_days_ago=2)

    with pytest.raises(InvalidInput) as caught:
        crm.service.start_return(cid, "JH100001", reason)

    assert caught.value.field == "reason"


def test_start_return_on_someone_elses_order_is_not_found(crm: Backend) -> None:
    crm.arrange.add_order(crm.arrange.add_customer(), "JH200002", status="delivered", delivered_days_ago=2)
    with pytest.raises(NotFound):
        crm.service.start_return(crm.arrange.add_customer(), "JH200002", "Not mine")


# ---- tickets --------------------------------------------------------------------------------


def test_open_ticket_for_a_customer(crm: Backend) -> None:
    cid = crm.arrange.add_customer()

    ticket = crm.service.open_ticket(
        NewTicket(
            kind=TicketKind.COMPLAINT,
            subject="  Broken   leg ",
            description=" The table arrived with a broken leg. ",
            customer_id=cid,
            channel="rest",
            sender_id="user/42",
        )
    )

    assert ticket.reference.startswith("TK-") and len(ticket.reference) == 9
    assert ticket == Ticket(
        reference=ticket.reference,
        customer_id=cid,
        kind=TicketKind.COMPLAINT,
        status=TicketStatus.OPEN,
        subject="Broken leg",
        description="The table arrived with a broken leg.",
        channel="rest",
        order_number=None,
        created_at=NOW,
    )
    assert crm.service.list_tickets(cid) == [ticket]


def test_open_ticket_without_a_customer(crm: Backend) -> None:
    ticket = crm.service.open_ticket(
        NewTicket(kind=TicketKind.CALLBACK, subject="Please call me", description="", channel="rest", sender_id="s9")
    )
    assert (ticket.customer_id, ticket.kind, ticket.status, ticket.order_number) == (
        None,
        TicketKind.CALLBACK,
        TicketStatus.OPEN,
        None,
    )
    assert (ticket.subject, ticket.description, ticket.channel, ticket.created_at) == (
        "Please call me",
        "",
        "rest",
        NOW,
    )


def test_open_ticket_about_an_order(crm: Backend) -> None:
    cid = crm.arrange.add_customer()
    crm.arrange.add_order(cid, "JH100001")

    ticket = crm.service.open_ticket(
        NewTicket(
            kind=TicketKind.DELIVERY_PROBLEM,
            subject="Parcel not arrived",
            description="Tracking hasn't moved for 3 days",
            customer_id=cid,
            order_number="jh 100001",
        )
    )

    assert (ticket.order_number, ticket.kind, ticket.channel) == ("JH100001", TicketKind.DELIVERY_PROBLEM, None)
    assert crm.service.list_tickets(cid) == [ticket]


def test_open_ticket_about_an_order_needs_its_customer(crm: Backend) -> None:
    cid = crm.arrange.add_customer()
    crm.arrange.add_order(cid, "JH100001")
    other = crm.arrange.add_customer()

    with pytest.raises(InvalidInput) as caught:
        crm.service.open_ticket(
            NewTicket(kind=TicketKind.GENERAL, subject="Where?", description="", order_number="JH100001")
        )
    assert caught.value.field == "order_number"
    with pytest.raises(NotFound):
        crm.service.open_ticket(
            NewTicket(
                kind=TicketKind.GENERAL, subject="Where?", description="", customer_id=other, order_number="JH100001"
            )
        )
    assert crm.service.list_tickets(other) == []


@pytest.mark.parametrize("subject", ["", "   "])
def test_open_ticket_needs_a_subject(crm: Backend, subject: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        crm.service.open_ticket(NewTicket(kind=TicketKind.GENERAL, subject=subject, description="text"))
    assert caught.value.field == "subject"


def test_open_ticket_for_unknown_customer_is_not_found(crm: Backend) -> None:
    with pytest.raises(NotFound):
        crm.service.open_ticket(
            NewTicket(kind=TicketKind.GENERAL, subject="Hello", description="", customer_id="cus_x")
        )


def test_open_ticket_cuts_long_text_like_every_backend(crm: Backend) -> None:
    cid = crm.arrange.add_customer()
    ticket = crm.service.open_ticket(
        NewTicket(kind=TicketKind.GENERAL, subject="s" * 5000, description="d" * 30000, customer_id=cid)
    )
    assert (ticket.subject, ticket.description) == ("s" * 200, "d" * 5000)


def test_open_ticket_rejects_a_sender_id_longer_than_255_characters(crm: Backend) -> None:
    with pytest.raises(InvalidInput) as caught:
        crm.service.open_ticket(
            NewTicket(kind=TicketKind.GENERAL, subject="Hello", description="", channel="rest", sender_id="x" * 256)
        )
    assert caught.value.field == "sender_id"


def test_list_tickets_open_only(crm: Backend) -> None:
    cid = crm.arrange.add_customer()
    resolved = crm.arrange.add_ticket(cid, "Old complaint", status="resolved")
    pending = crm.arrange.add_ticket(cid, "Waiting on the carrier", status="pending", kind="delivery_problem")
    opened = crm.arrange.add_ticket(cid, "Wrong colour")
    crm.arrange.add_ticket(crm.arrange.add_customer(), "Someone else's")

    everything = crm.service.list_tickets(cid)
    open_only = crm.service.list_tickets(cid, open_only=True)

    assert [t.reference for t in everything] == [opened, pending, resolved]
    assert [t.reference for t in open_only] == [opened, pending]
    assert [t.status for t in everything] == [TicketStatus.OPEN, TicketStatus.PENDING, TicketStatus.RESOLVED]
    assert everything[1] == Ticket(
        reference=pending,
        customer_id=cid,
        kind=TicketKind.DELIVERY_PROBLEM,
        status=TicketStatus.PENDING,
        subject="Waiting on the carrier",
        description="Waiting on the carrier",
        channel="rest",
        order_number=None,
        created_at=NOW - timedelta(days=2),
    )
    assert crm.service.list_tickets("cus_nobody") == []


# ---- customer context -----------------------------------------------------------------------


def test_context_open_ticket_beats_order_in_progress(crm: Backend) -> None:
    cid = crm.arrange.add_customer(loyalty_points=640)
    crm.arrange.add_order(cid, "JH100001", status="shipped", placed_days_ago=1)
    crm.arrange.add_ticket(cid, "Old question", status="resolved")
    reference = crm.arrange.add_ticket(cid, "Scratched table top", status="pending")

    context = crm.service.customer_context(cid)

    assert context == CustomerContext(
        customer_id=cid,
        first_name="Anna",
        loyalty_points=640,
        highlight=Highlight("open_ticket", reference, "Scratched table top", "pending"),
        open_ticket_count=1,
    )


@pytest.mark.parametrize("status", ["placed", "packed", "shipped", "out_for_delivery"])
def test_context_order_in_progress(crm: Backend, status: str) -> None:
    cid = crm.arrange.add_customer()
    crm.arrange.add_order(cid, "JH100001", status="delivered", placed_days_ago=60, delivered_days_ago=55)
    crm.arrange.add_order(
        cid,
        "JH100002",
        status=status,
        placed_days_ago=2,
        items=(("Floor lamp", 1, 4500), ("Bulb", 1, 300)),
    )

    highlight = crm.service.customer_context(cid).highlight

    assert highlight == Highlight("order_in_progress", "JH100002", "Floor lamp and 1 more item", status)


@pytest.mark.parametrize(("days", "highlighted"), [(1, True), (14, True), (15, False), (40, False)])
def test_context_recent_delivery(crm: Backend, days: float, highlighted: bool) -> None:
    cid = crm.arrange.add_customer()
    crm.arrange.add_order(cid, "JH100001", status="delivered", placed_days_ago=days + 3, delivered_days_ago=days)

    highlight = crm.service.customer_context(cid).highlight

    expected = Highlight("order_delivered", "JH100001", "Oak side table", "delivered") if highlighted else None
    assert highlight == expected


def test_context_the_latest_open_ticket_and_the_latest_delivery(crm: Backend) -> None:
    cid = crm.arrange.add_customer()
    crm.arrange.add_order(cid, "JH100001", status="delivered", placed_days_ago=9, delivered_days_ago=2)
    crm.arrange.add_order(cid, "JH100002", status="delivered", placed_days_ago=8, delivered_days_ago=5)
    assert crm.service.customer_context(cid).highlight == Highlight(
        "order_delivered", "JH100001", "Oak side table", "delivered"
    )

    crm.arrange.add_ticket(cid, "First question", status="pending")
    latest = crm.arrange.add_ticket(cid, "Second question")  # arranged at the same time: the later one counts

    context = crm.service.customer_context(cid)

    assert (context.highlight, context.open_ticket_count) == (
        Highlight("open_ticket", latest, "Second question", "open"),
        2,
    )


def test_context_nothing_to_mention(crm: Backend) -> None:
    cid = crm.arrange.add_customer(first_name="Lee")
    crm.arrange.add_ticket(cid, "Done and dusted", status="resolved")
    crm.arrange.add_order(cid, "JH100001", status="cancelled", placed_days_ago=3)

    context = crm.service.customer_context(cid)

    assert context == CustomerContext(customer_id=cid, first_name="Lee", loyalty_points=120, highlight=None)
    with pytest.raises(NotFound):
        crm.service.customer_context("cus_nobody")


def test_context_a_newer_cancelled_order_does_not_hide_one_on_its_way(crm: Backend) -> None:
    cid = crm.arrange.add_customer()
    crm.arrange.add_order(cid, "JH100001", status="shipped", placed_days_ago=4)
    crm.arrange.add_order(cid, "JH100002", status="cancelled", placed_days_ago=1)
    crm.arrange.add_order(cid, "JH100003", status="delivered", placed_days_ago=9, delivered_days_ago=3)

    highlight = crm.service.customer_context(cid).highlight

    assert (highlight.kind, highlight.reference) == ("order_in_progress", "JH100001")


def test_recognize_carries_the_same_context(crm: Backend) -> None:
    cid = crm.arrange.add_customer()
    crm.arrange.add_order(cid, "JH100001", status="out_for_delivery", placed_days_ago=2)
    crm.arrange.add_identity(cid, "rest", "returning-user")

    assert crm.service.recognize("rest", "returning-user") == crm.service.customer_context(cid)
    assert crm.service.customer_context(cid).highlight == Highlight(
        "order_in_progress", "JH100001", "Oak side table", "out_for_delivery"
    )


def test_control_characters_never_reach_the_database(crm: Backend) -> None:
    cid = crm.arrange.add_customer()
    ticket = crm.service.open_ticket(
        NewTicket(
            kind=TicketKind.COMPLAINT, subject="Bro\x00ken\x07 lamp", description="It\x00 flickers\n", customer_id=cid
        )
    )
    assert (ticket.subject, ticket.description) == ("Broken lamp", "It flickers")
    assert crm.service.list_tickets(cid) == [ticket]  # as stored
    assert crm.service.recognize("rest", "bad\x00id") is None
    assert crm.service.unlink_identity("rest", "bad\x00id") is False


# ---- an unreachable database ----------------------------------------------------------------


@pytest.fixture(
    params=[
        pytest.param("memory", marks=pytest.mark.unit),
        pytest.param("sql", marks=pytest.mark.integration),
    ]
)
def unreachable(request: pytest.FixtureRequest) -> Iterator[CrmService]:
    """A CRM whose database cannot be reached: the in-memory store while down, or PostgreSQL where nothing
    listens (port 1)."""
    if request.param == "memory":
        store = MemoryCrmStore(down=True)
        yield MemoryCrmService(store, RecordingCodeSender())
        return
    engine = make_engine("postgresql+psycopg2://hearth@127.0.0.1:1/hearth")
    yield SqlCrmService(make_session_factory(engine), RecordingCodeSender(), secret="x")
    engine.dispose()


def test_every_method_says_the_database_is_unavailable(unreachable: CrmService) -> None:
    calls = [
        lambda: unreachable.recognize("rest", "web-1"),
        lambda: unreachable.link_identity("cus_x", "rest", "web-1"),
        lambda: unreachable.unlink_identity("rest", "web-1"),
        lambda: unreachable.verify_with_order("anna@example.com", "JH100001"),
        lambda: unreachable.send_one_time_code("anna@example.com"),
        lambda: unreachable.verify_one_time_code("anna@example.com", "123456"),
        lambda: unreachable.get_customer("cus_x"),
        lambda: unreachable.customer_context("cus_x"),
        lambda: unreachable.update_contact("cus_x", ContactField.PHONE, "+447700900111"),
        lambda: unreachable.loyalty("cus_x"),
        lambda: unreachable.list_orders("cus_x"),
        lambda: unreachable.get_order("cus_x", "JH100001"),
        lambda: unreachable.cancel_order("cus_x", "JH100001"),
        lambda: unreachable.start_return("cus_x", "JH100001", "too small"),
        lambda: unreachable.list_returns("cus_x"),
        lambda: unreachable.open_ticket(NewTicket(TicketKind.COMPLAINT, "Broken", "It broke", "cus_x")),
        lambda: unreachable.list_tickets("cus_x"),
    ]
    for call in calls:
        with pytest.raises(CrmUnavailable):
            call()


def test_input_is_checked_before_the_database_is_needed(unreachable: CrmService) -> None:
    assert unreachable.recognize("rest", "") is None  # no such identity can have been stored
    assert unreachable.unlink_identity("rest", "x" * 256) is False
    assert unreachable.send_one_time_code("not an email") is None
    with pytest.raises(VerificationFailed):
        unreachable.verify_with_order("not an email", "JH100001")
    with pytest.raises(VerificationFailed):
        unreachable.verify_one_time_code("not an email", "123456")
    with pytest.raises(InvalidInput):
        unreachable.link_identity("cus_x", "rest", "")
    with pytest.raises(InvalidInput):
        unreachable.update_contact("cus_x", ContactField.PHONE, "not a number")
    with pytest.raises(NotAllowed):
        unreachable.update_contact("cus_x", ContactField.EMAIL, "new@example.com")
    with pytest.raises(InvalidInput):
        unreachable.start_return("cus_x", "JH100001", " ")
    with pytest.raises(InvalidInput):
        unreachable.open_ticket(NewTicket(TicketKind.COMPLAINT, " ", "It broke", "cus_x"))
