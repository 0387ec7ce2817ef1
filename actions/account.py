"""Account actions: contact details, loyalty points, and signing in to the shop's website. A new email address
takes effect only once confirmed (the rules: crm_adapter/contact_changes.py)."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from rasa_sdk.types import DomainDict

from actions.common import (
    QUESTIONS,
    CrmAction,
    VerifiedCrmAction,
    crm,
    crm_call,
    entity,
    intent_of,
    money,
    verified_customer,
)
from crm_adapter.contact_changes import EmailChanges, EmailChangeStep
from crm_adapter.domain import ContactField, InvalidInput, NotAllowed
from crm_adapter.validation import normalize_email
from hearth.container import container, get_website_accounts

_CONTACT_SLOTS = {"new_email": ContactField.EMAIL, "new_phone": ContactField.PHONE, "new_address": ContactField.ADDRESS}
# What each step of an email change says before the question it leaves open ("": the same one again; None: the
# change is over, no question).
_EMAIL_SAID: dict[str, tuple[tuple[str, ...], str | None]] = {
    "unchanged": (("utter_email_unchanged",), None),
    "current_code_sent": (("utter_email_change_current_code_sent",), "email_current_code"),
    "new_code_sent": (("utter_email_change_new_code_sent",), "email_new_code"),
    "code_wrong": (("utter_email_change_code_wrong",), ""),  # "": ask the same question again
    "ask_code_again": ((), ""),
    "code_locked": (("utter_email_change_locked",), None),
    "changed": (("utter_email_changed",), None),
    "cancelled": (("utter_email_change_cancelled",), None),
    "not_verified": (("utter_not_verified",), None),
    "unsupported": (("utter_email_change_unsupported",), None),
}


def email_changes() -> EmailChanges:
    return container().email_changes


def said_email_step(
    step: EmailChangeStep, question: str | None, new_email: str | None, dispatcher: CollectingDispatcher
) -> list[EventType]:
    """The replies to a step of an email change, and the slots: the open question, the conversation's wrong
    proofs, and the new address kept only while the current address's code is awaited."""
    responses, next_question = _EMAIL_SAID[step.result]
    if next_question == "":
        next_question = question or "email_new_code"
    if next_question is not None:
        responses = (*responses, QUESTIONS[next_question])
    for response in responses:
        dispatcher.utter_message(response=response, **({"email": step.masked_email} if step.masked_email else {}))
    keep = new_email if next_question == "email_current_code" else None
    events: list[EventType] = [SlotSet("awaiting", next_question), SlotSet("new_email", keep)]
    if step.failures is not None:
        events.append(SlotSet("identity_attempts", float(step.failures)))
    return events


async def answer_email_change(
    awaiting: str, intent: str | None, dispatcher: CollectingDispatcher, tracker: Tracker
) -> list[EventType]:
    """The customer's answer to an email change's code question (`awaiting` is email_current_code or
    email_new_code)."""
    step = await crm_call(
        email_changes().answer,
        awaiting,
        intent,
        verified_customer(tracker),
        tracker.get_slot("new_email"),
        code=entity(tracker, "otp_code"),
        text=(tracker.latest_message or {}).get("text") or "",
        failures=tracker.get_slot("identity_attempts"),
    )
    return said_email_step(step, awaiting, tracker.get_slot("new_email"), dispatcher)


class ActionUpdateContact(VerifiedCrmAction):
    """Saves whichever new contact value the finished form collected."""

    def name(self) -> str:
        return "action_update_contact"

    async def act_for(
        self, customer_id: str, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        clear = [SlotSet(slot, None) for slot in _CONTACT_SLOTS]
        slot = next((s for s in _CONTACT_SLOTS if tracker.get_slot(s)), None)
        if slot is None:
            dispatcher.utter_message(response="utter_anything_else")
            return clear
        field = _CONTACT_SLOTS[slot]
        try:
            if field is ContactField.EMAIL:
                new_email = tracker.get_slot(slot)
                step = await crm_call(email_changes().start, customer_id, new_email, tracker.get_slot("verified_by"))
                return [*clear, *said_email_step(step, None, new_email, dispatcher)]
            customer = await crm_call(crm().update_contact, customer_id, field, tracker.get_slot(slot))
        except InvalidInput as exc:
            dispatcher.utter_message(response="utter_contact_invalid", problem=str(exc))
            return clear
        dispatcher.utter_message(
            response="utter_contact_updated", field=field.value, value=getattr(customer, field.value)
        )
        return clear

    def when_unavailable(self, tracker: Tracker) -> list[EventType]:
        return []  # keep the new value in its slot: nothing the customer typed is lost


class ActionShowLoyalty(VerifiedCrmAction):
    def name(self) -> str:
        return "action_show_loyalty"

    async def act_for(
        self, customer_id: str, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        balance = await crm_call(crm().loyalty, customer_id)
        values = {"points": f"{balance.points:,}", "tier": balance.tier, "value": money(balance.value_cents)}
        if balance.points_to_next_tier:
            dispatcher.utter_message(
                response="utter_loyalty_points_next_tier", to_next=f"{balance.points_to_next_tier:,}", **values
            )
        else:
            dispatcher.utter_message(response="utter_loyalty_points", **values)
        return []


# ---- the shop website: signing in, opening an account ---------------------------------------------------------


class ValidateSignInHelpForm(FormValidationAction):
    """The address to send a password link to; a verified customer is not asked (the address on file is used)."""

    def name(self) -> str:
        return "validate_sign_in_help_form"

    async def required_slots(
        self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[str]:
        return [] if verified_customer(tracker) else domain_slots

    async def extract_reset_email(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        email = entity(tracker, "email")
        if email is None and tracker.get_slot("requested_slot") == "reset_email" and intent_of(tracker) == "inform":
            email = (tracker.latest_message.get("text") or "").strip() or None
        return {"reset_email": email} if email else {}

    def validate_reset_email(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        try:
            return {"reset_email": normalize_email(str(value))}
        except InvalidInput:
            dispatcher.utter_message(response="utter_identity_invalid_email")
            return {"reset_email": None}


class ActionSendPasswordReset(CrmAction):
    """Asks the website for a password link to the address (the one on file when verified). The reply is the same
    whether or not the address has an account: the link goes only to the address's owner."""

    def name(self) -> str:
        return "action_send_password_reset"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        customer_id = verified_customer(tracker)
        email = (
            (await crm_call(crm().get_customer, customer_id)).email if customer_id else tracker.get_slot("reset_email")
        )
        url = f"{container().website_url}/forgot"
        try:
            await crm_call(get_website_accounts().request_password_reset, str(email or ""))
        except (InvalidInput, NotAllowed):  # no address, or an external CRM keeps no website accounts
            dispatcher.utter_message(response="utter_password_reset_unavailable", url=url)
            return [SlotSet("reset_email", None)]
        dispatcher.utter_message(response="utter_password_reset_sent", email=email, url=url)
        return [SlotSet("reset_email", None)]


class ActionCreateAccountHelp(Action):
    """Where to open an account on the website (the website confirms the address by email)."""

    def name(self) -> str:
        return "action_create_account_help"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        if container().settings.backend == "http":  # an external CRM keeps no website accounts
            dispatcher.utter_message(response="utter_create_account_unavailable")
            return []
        dispatcher.utter_message(response="utter_create_account", url=f"{container().website_url}/register")
        return []
