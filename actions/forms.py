"""Form validation. Every form that touches a customer's data verifies them first, the same way."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from rasa_sdk.types import DomainDict

from actions.common import IDENTITY_SLOTS, crm, crm_call, entity
from actions.session import profile_slots
from crm_adapter.domain import CrmUnavailable, InvalidInput
from crm_adapter.identity import Proof, ProofOutcome, Verification, session_locked
from crm_adapter.validation import normalize_address, normalize_email, normalize_order_number, normalize_phone

log = logging.getLogger(__name__)

# Messages with these intents are not answers to a form's question: rules handle them.
NOT_AN_ANSWER = {"stop", "request_human", "faq", "chitchat", "help", "out_of_scope", "goodbye", "bot_challenge"}


def _answer_text(tracker: Tracker) -> str | None:
    latest = tracker.latest_message or {}
    if (latest.get("intent") or {}).get("name") in NOT_AN_ANSWER:
        return None
    text = (latest.get("text") or "").strip()
    return text or None


def _free_text(value: Any, limit: int = 2000) -> str | None:
    """A short free-text answer with its white space folded, or None when it says nothing."""
    text = " ".join(str(value or "").split())
    return text[:limit] if len(text) >= 3 else None


def _email_answer(tracker: Tracker) -> dict[str, Any]:
    requested = tracker.get_slot("requested_slot")
    if requested is None and (tracker.latest_message.get("intent") or {}).get("name") == "identify":
        email = entity(tracker, "email")  # "verify me, my email is ..." opens the form with the answer
        return {"identity_email": email} if email else {}
    text = _answer_text(tracker) if requested == "identity_email" else None
    return {"identity_email": entity(tracker, "email") or text} if text else {}


def _proof_answer(tracker: Tracker) -> dict[str, Any]:
    """The proof as the form stores it ("order:JH123456", "code:123456"), "send_code", or "unreadable"."""
    if tracker.get_slot("requested_slot") != "identity_proof":
        return {}
    if (tracker.latest_message.get("intent") or {}).get("name") == "request_code":
        return {"identity_proof": "send_code"}
    text = _answer_text(tracker)
    if text is None:
        return {}
    order, code = entity(tracker, "order_number"), entity(tracker, "otp_code")
    proof = Proof("order", order) if order else Proof("code", code) if code else Proof.from_text(text)
    return {"identity_proof": proof.encode() if proof else "unreadable"}


async def _check_proof(
    email: str, value: str, failures: float | None, code_sent: bool, dispatcher: CollectingDispatcher
) -> dict[str, Any]:
    """Email a code ("send_code") or check the proof, counting a wrong one (crm_adapter/identity.py)."""
    verification = Verification(crm())
    try:
        if value == "send_code":
            await crm_call(verification.send_code, email)
            return {"identity_proof": None, "otp_sent": True}
        proved = await crm_call(verification.prove, email, value, failures, code_sent)
    except CrmUnavailable as exc:
        log.warning("verification: CRM unavailable: %s", exc)
        dispatcher.utter_message(response="utter_crm_unavailable")
        return {"identity_proof": None}
    return _proved(proved, dispatcher)


def _proved(outcome: ProofOutcome, dispatcher: CollectingDispatcher) -> dict[str, Any]:
    """The slots (and reply) for what a proof came to."""
    if outcome.result == "unreadable":
        dispatcher.utter_message(response="utter_ask_identity_proof")
        return {"identity_proof": None}
    if outcome.result == "code_required":  # the form asks for the code next (utter_ask_identity_proof)
        dispatcher.utter_message(response="utter_identity_code_required")
        return {"identity_proof": None, "otp_sent": True}
    if outcome.context is None:  # failed, or locked
        dispatcher.utter_message(
            response="utter_identity_locked" if outcome.result == "locked" else "utter_identity_failed"
        )
        return {
            "identity_email": None,
            "identity_proof": None,
            "otp_sent": False,
            "identity_attempts": outcome.failures,
        }
    slots = {event["name"]: event["value"] for event in profile_slots(outcome.context)}
    return {
        **slots,
        "identity_proof": "verified",
        "verified_by": outcome.by,
        "identity_attempts": 0.0,
        "otp_sent": False,
    }


class VerifiedFormValidation(FormValidationAction, ABC):
    """Asks for email and proof (an order number or a one-time code) until the customer is verified."""

    @abstractmethod
    def name(self) -> str:
        """validate_<form name>"""

    async def required_slots(
        self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[str]:
        if tracker.get_slot("verified"):
            return [slot for slot in domain_slots if slot not in IDENTITY_SLOTS]
        if session_locked(tracker.get_slot("identity_attempts")):
            return []  # ends the form; the submit action explains
        return domain_slots

    async def extract_identity_email(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return _email_answer(tracker)

    async def extract_identity_proof(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return _proof_answer(tracker)

    def validate_identity_email(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ):
        try:
            return {"identity_email": normalize_email(str(value))}
        except InvalidInput:
            dispatcher.utter_message(response="utter_identity_invalid_email")
            return {"identity_email": None}

    async def validate_identity_proof(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        email = tracker.get_slot("identity_email")
        if value == "verified" or not email:
            return {}
        attempts, code_sent = tracker.get_slot("identity_attempts"), bool(tracker.get_slot("otp_sent"))
        return await _check_proof(email, str(value), attempts, code_sent, dispatcher)


class ValidateIdentifyForm(VerifiedFormValidation):
    def name(self) -> str:
        return "validate_identify_form"


class ValidateListOrdersForm(VerifiedFormValidation):
    def name(self) -> str:
        return "validate_list_orders_form"


class ValidateRefundStatusForm(VerifiedFormValidation):
    def name(self) -> str:
        return "validate_refund_status_form"


class ValidateLoyaltyForm(VerifiedFormValidation):
    def name(self) -> str:
        return "validate_loyalty_form"


class OrderFormValidation(VerifiedFormValidation):
    """A verified form that also needs one of the customer's orders."""

    def validate_order_number(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        try:
            return {"order_number": normalize_order_number(str(value))}
        except InvalidInput:
            dispatcher.utter_message(response="utter_ask_order_number")
            return {"order_number": None}


class ValidateOrderStatusForm(OrderFormValidation):
    def name(self) -> str:
        return "validate_order_status_form"


class ValidateCancelOrderForm(OrderFormValidation):
    def name(self) -> str:
        return "validate_cancel_order_form"


class ValidateDeliveryProblemForm(OrderFormValidation):
    def name(self) -> str:
        return "validate_delivery_problem_form"

    def validate_problem_description(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return {"problem_description": _free_text(value)}


class ValidateReturnForm(OrderFormValidation):
    def name(self) -> str:
        return "validate_return_form"

    def validate_return_reason(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return {"return_reason": _free_text(value)}


class ContactFormValidation(VerifiedFormValidation):
    """A verified form that asks for a new contact value and checks it before anything is saved."""

    slot = ""

    @staticmethod
    @abstractmethod
    def normalize(value: str) -> str:
        """Return the value in its stored form, or raise InvalidInput."""

    def _validate_contact(self, value: Any, dispatcher: CollectingDispatcher) -> dict[str, Any]:
        try:
            return {self.slot: self.normalize(str(value))}
        except InvalidInput as exc:
            dispatcher.utter_message(response="utter_contact_invalid", problem=str(exc))
            return {self.slot: None}


class ValidateUpdateEmailForm(ContactFormValidation):
    slot = "new_email"
    normalize = staticmethod(normalize_email)

    def name(self) -> str:
        return "validate_update_email_form"

    def validate_new_email(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict):
        return self._validate_contact(entity(tracker, "email") or value, dispatcher)


class ValidateUpdatePhoneForm(ContactFormValidation):
    slot = "new_phone"
    normalize = staticmethod(normalize_phone)

    def name(self) -> str:
        return "validate_update_phone_form"

    def validate_new_phone(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict):
        return self._validate_contact(entity(tracker, "phone") or value, dispatcher)


class ValidateUpdateAddressForm(ContactFormValidation):
    slot = "new_address"
    normalize = staticmethod(normalize_address)

    def name(self) -> str:
        return "validate_update_address_form"

    def validate_new_address(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict):
        return self._validate_contact(value, dispatcher)


class ValidateComplaintForm(FormValidationAction):
    """Takes the complaint from the first message when it already says what happened."""

    def name(self) -> str:
        return "validate_complaint_form"

    def validate_complaint_text(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = " ".join(str(value or "").split())
        asked = tracker.get_slot("requested_slot") == "complaint_text"
        # The message that opened the form counts only when it already tells the story.
        if len(text.split()) >= (3 if asked else 10):
            return {"complaint_text": text[:5000]}
        if asked:
            dispatcher.utter_message(response="utter_complaint_too_short")
        return {"complaint_text": None}


class ValidatePrivacyForm(VerifiedFormValidation):
    def name(self) -> str:
        return "validate_privacy_form"
