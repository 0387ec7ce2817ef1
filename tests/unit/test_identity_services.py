"""Verification's lockout and account linking on their own, on the in-memory CRM: wrong proofs are counted
per conversation in one place (crm_adapter/identity.py), and per customer by the CRM."""

from __future__ import annotations

import pytest

from crm_adapter.identity import (
    MAX_SESSION_FAILURES,
    AccountLinking,
    ChannelAccount,
    LinkOffer,
    ProofOutcome,
    Verification,
    session_locked,
)
from crm_adapter.rules import MAX_ORDER_FAILURES

pytestmark = pytest.mark.unit
TELEGRAM = ChannelAccount("telegram", "777000111")


@pytest.fixture
def anna(crm) -> str:
    customer = crm.arrange.add_customer(first_name="Anna", email="anna@example.com")
    crm.arrange.add_order(customer, "JH600001")
    return customer


def test_three_wrong_proofs_lock_the_conversation():
    assert MAX_SESSION_FAILURES == 3
    assert not session_locked(None) and not session_locked(2.0)
    assert session_locked(3.0) and session_locked(4)


def test_wrong_proofs_are_counted_until_the_conversation_locks(crm, anna):
    verification = Verification(crm.service)
    failures: float | None = None
    results = []
    for _ in range(3):
        outcome = verification.prove("anna@example.com", "order:JH699999", failures)
        results.append((outcome.result, outcome.failures))
        failures = outcome.failures
    assert results == [("failed", 1), ("failed", 2), ("locked", 3)]
    assert verification.locked(failures)


def test_an_unreadable_proof_counts_nothing_and_a_right_one_starts_again(crm, anna):
    verification = Verification(crm.service)
    assert verification.prove("anna@example.com", "unreadable", 2.0).result == "unreadable"
    assert verification.prove("anna@example.com", "unreadable", 2.0).failures == 2
    proved = verification.prove("anna@example.com", "order:JH600001", 2.0)
    assert (proved.result, proved.failures, proved.by) == ("verified", 0, "order")
    assert proved.context is not None and proved.context.customer_id == anna


def test_guessing_from_many_conversations_steps_up_to_a_code_the_owner_receives(crm, anna):
    verification = Verification(crm.service)
    for _ in range(MAX_ORDER_FAILURES):
        assert verification.prove("anna@example.com", "order:JH699999", None).result == "failed"  # new conversations
    assert crm.codes.sender.sent == []

    stepped_up = verification.prove("anna@example.com", "order:JH600001", None)  # the owner, in a new conversation

    assert (stepped_up.result, stepped_up.failures, stepped_up.context) == ("code_required", 0, None)
    code = crm.codes.last_code_for("anna@example.com")  # a code was queued for the address, and emailed
    assert code is not None and len(crm.codes.sent) == 1
    again = verification.prove("anna@example.com", "order:JH600001", 0, code_sent=True)
    assert again.result == "code_required" and len(crm.codes.sent) == 1  # one code per conversation
    proved = verification.prove("anna@example.com", f"code:{code}", 0)
    assert proved.result == "verified" and proved.context is not None and proved.context.customer_id == anna


def test_stepping_up_says_the_same_for_an_address_not_on_file(crm, anna):
    verification = Verification(crm.service)
    outcomes = []
    for email in ("anna@example.com", "nobody@example.com"):
        for _ in range(MAX_ORDER_FAILURES):
            verification.prove(email, "order:JH699999", None)
        outcomes.append(verification.prove(email, "order:JH600001", None))
    assert outcomes[0] == outcomes[1] == ProofOutcome("code_required", 0)


def test_a_code_proves_only_its_own_customer(crm, anna):
    ben = crm.arrange.add_customer(first_name="Ben", email="ben@example.com")
    verification = Verification(crm.service)
    crm.service.send_one_time_code("ben@example.com")
    bens = crm.codes.last_code_for("ben@example.com")
    assert verification.prove_code(anna, bens, 0).result == "failed"
    assert verification.prove_code(anna, bens, 2).result == "locked"
    crm.service.send_one_time_code("anna@example.com")
    assert verification.prove_code(anna, crm.codes.last_code_for("anna@example.com"), 1).result == "verified"
    assert ben


def test_who_is_offered_a_link(crm, anna):
    linking = AccountLinking(crm.service)
    offer = linking.offer
    assert offer(anna, ChannelAccount("socketio", "x"), offered=False, verified_by="code", asked_for=True) is None
    assert offer(anna, TELEGRAM, offered=False, verified_by=None, asked_for=False) is None  # recognised, not proved
    assert offer(anna, TELEGRAM, offered=True, verified_by="order", asked_for=False) is None  # once per conversation
    assert offer(anna, TELEGRAM, offered=True, verified_by="order", asked_for=True) == LinkOffer("Telegram account")
    crm.service.link_identity(anna, TELEGRAM.channel, TELEGRAM.sender_id)
    assert offer(anna, TELEGRAM, offered=False, verified_by="code", asked_for=False) is None
    assert offer(anna, TELEGRAM, offered=False, verified_by="code", asked_for=True) == LinkOffer(
        "Telegram account", already_linked=True
    )


def test_linking_needs_a_yes_and_an_emailed_code(crm, anna):
    linking = AccountLinking(crm.service)

    def answer(question: str, intent: str, **kw):
        args = {"verified_by": "order", "code": None, "text": "", "failures": None, **kw}
        return linking.answer(question, intent, anna, TELEGRAM, **args)

    assert answer("link_channel", "inform").result == "ask_again"
    assert answer("link_channel", "stop").result == "declined"
    unverified = linking.answer(
        "link_channel", "affirm", None, TELEGRAM, verified_by=None, code=None, text="", failures=0
    )
    assert unverified.result == "not_verified"
    sent = answer("link_channel", "affirm")
    assert (sent.result, sent.masked_email) == ("code_sent", "a***@example.com")
    assert answer("link_code", "inform", text="JH600001").result == "ask_code_again"  # an order number is no code
    code = crm.codes.last_code_for("anna@example.com")
    wrong = answer("link_code", "inform", text="000000" if code != "000000" else "111111")
    assert (wrong.result, wrong.failures) == ("code_wrong", 1)
    linked = answer("link_code", "inform", code=code, failures=1)
    assert (linked.result, linked.failures) == ("linked", 0)
    assert crm.service.recognize("telegram", TELEGRAM.sender_id).customer_id == anna
