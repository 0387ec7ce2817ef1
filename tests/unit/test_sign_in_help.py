"""Trouble signing in to the shop's website, in the chat: a reset link emailed to the address (the same reply
whether or not it has an account), the address on file for a verified customer, and where to open an account."""

from __future__ import annotations

import asyncio

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.account import ActionCreateAccountHelp, ActionSendPasswordReset, ValidateSignInHelpForm
from tests.bot import domain, responses, run, slots_set, tracker

pytestmark = pytest.mark.unit


def links(crm, email: str) -> list[str]:
    return [n.body for n in crm.notices.to(email) if "/reset?token=" in n.body]


def test_a_reset_link_goes_to_the_address_only_if_it_has_an_account_and_the_reply_is_the_same(crm):
    crm.arrange.add_customer(first_name="Anna", email="anna@example.com")

    said = {}
    for email in ("anna@example.com", "nobody@example.com"):
        events, messages = run(ActionSendPasswordReset(), tracker(slots={"reset_email": email}))
        assert slots_set(events) == {"reset_email": None}
        said[email] = (responses(messages), messages[0]["url"])
    assert (
        said["anna@example.com"]
        == said["nobody@example.com"]
        == (
            ["utter_password_reset_sent"],
            "http://127.0.0.1:5080/forgot",
        )
    )
    assert len(links(crm, "anna@example.com")) == 1 and crm.notices.to("nobody@example.com") == []


def test_a_verified_customer_gets_the_link_at_the_address_on_file_without_being_asked(crm):
    anna = crm.arrange.add_customer(first_name="Anna", email="anna@example.com")
    form = ValidateSignInHelpForm()

    verified = {"verified": True, "customer_id": anna}
    assert (
        asyncio.run(form.required_slots(["reset_email"], CollectingDispatcher(), tracker(slots=verified), domain()))
        == []
    )
    _, messages = run(ActionSendPasswordReset(), tracker(slots={**verified, "reset_email": "typed@example.com"}))
    assert messages[0]["email"] == "anna@example.com" and len(links(crm, "anna@example.com")) == 1


def test_the_address_is_taken_from_the_answer_and_a_bad_one_is_asked_again(crm):
    events, messages = run(
        ValidateSignInHelpForm(),
        tracker(slots={"requested_slot": "reset_email"}, text="Anna@Example.com", active_loop="sign_in_help_form"),
    )
    assert slots_set(events)["reset_email"] == "anna@example.com"
    events, messages = run(
        ValidateSignInHelpForm(),
        tracker(slots={"requested_slot": "reset_email"}, text="not an email", active_loop="sign_in_help_form"),
    )
    assert responses(messages) == ["utter_identity_invalid_email"] and slots_set(events)["reset_email"] is None


def test_opening_an_account_points_to_the_websites_page(crm):
    _, messages = run(ActionCreateAccountHelp(), tracker(text="how do i make an account", intent="create_account"))
    assert responses(messages) == ["utter_create_account"] and messages[0]["url"] == "http://127.0.0.1:5080/register"
