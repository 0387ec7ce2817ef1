"""Form validation. Every form that touches a customer's data verifies them first, the same way."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet, UserUtteranceReverted
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from rasa_sdk.types import DomainDict

from actions.common import IDENTITY_SLOTS, crm, crm_call, entity, intent_of, money
from actions.orders import ask_order_number
from actions.session import profile_slots
from crm_adapter.domain import (
    ORDER_CHANGE_KINDS,
    CrmUnavailable,
    InvalidInput,
    NotAllowed,
    NotFound,
    Order,
    OrderChange,
    OrderLine,
)
from crm_adapter.identity import Proof, ProofOutcome, Verification, session_locked
from crm_adapter.order_choice import (
    OfferedOrder,
    change_kind_in,
    choose,
    line_in,
    offered_from,
    quantity_in,
    resolve,
)
from crm_adapter.rules import (
    MAX_LINE_QUANTITY,
    PAYMENT_ISSUES,
    cancellation_terms,
    changed_lines,
    payment_issue_in,
    payment_issue_needs_order,
)
from crm_adapter.validation import normalize_address, normalize_email, normalize_order_number, normalize_phone
from relationship.sentiment import upset
from shared.sentiment import score

log = logging.getLogger(__name__)

# Messages with these intents are not answers to a form's question: rules handle them.
NOT_AN_ANSWER = {"stop", "request_human", "faq", "chitchat", "help", "out_of_scope", "goodbye", "bot_challenge"}


def _answer_text(tracker: Tracker) -> str | None:
    if intent_of(tracker) in NOT_AN_ANSWER:
        return None
    text = ((tracker.latest_message or {}).get("text") or "").strip()
    return text or None


def _free_text(value: Any, limit: int = 2000) -> str | None:
    """A short free-text answer with its white space folded, or None when it says nothing."""
    text = " ".join(str(value or "").split())
    return text[:limit] if len(text) >= 3 else None


def slots_after(slots: dict[str, Any], events: list[EventType]) -> dict[str, Any]:
    """The slots as they will be once `events` (a validation's SlotSets) are applied."""
    return {**slots, **{e["name"]: e["value"] for e in events if e.get("event") == "slot"}}


async def order_in_hand(slots: dict[str, Any]) -> Order | None:
    """The verified customer's order the form is on, or None: not verified or no order yet, an order that is not
    theirs (the action says so), or the CRM down (the action says that too)."""
    number, customer_id = slots.get("order_number"), slots.get("customer_id")
    if not (slots.get("verified") and customer_id and number):
        return None
    try:
        return await crm_call(crm().get_order, str(customer_id), str(number))
    except (NotFound, CrmUnavailable):
        return None


def _email_answer(tracker: Tracker) -> dict[str, Any]:
    requested = tracker.get_slot("requested_slot")
    if requested is None and intent_of(tracker) == "identify":
        email = entity(tracker, "email")  # "verify me, my email is ..." opens the form with the answer
        return {"identity_email": email} if email else {}
    if requested == "identity_proof" and not tracker.get_slot("verified"):
        # "sorry, wrong email, it's ..." while the bot asks for the proof: the new address replaces the old one
        email = entity(tracker, "email")
        if email and email.casefold() != str(tracker.get_slot("identity_email") or "").casefold():
            return {"identity_email": email}
        return {}
    text = _answer_text(tracker) if requested == "identity_email" else None
    return {"identity_email": entity(tracker, "email") or text} if text else {}


def _proof_answer(tracker: Tracker) -> dict[str, Any]:
    """The proof as the form stores it ("order:JH123456", "code:123456"), "send_code", or "unreadable"."""
    if tracker.get_slot("requested_slot") != "identity_proof":
        return {}
    if intent_of(tracker) == "request_code":
        return {"identity_proof": "send_code"}
    text = _answer_text(tracker)
    if text is None:
        return {}
    order, code = entity(tracker, "order_number"), entity(tracker, "otp_code")
    proof = Proof("order", order) if order else Proof("code", code) if code else Proof.from_text(text)
    if proof is None and entity(tracker, "email"):
        return {}  # a corrected email (_email_answer), not a proof: the form asks for the proof again
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
    slots = _proved(proved, dispatcher)
    proof = Proof.decode(value)
    if proved.context is not None and proved.by == "order" and proof is not None:
        # the order the customer proved with is what "my order" means from now on (said out loud when used)
        slots["proof_order"] = normalize_order_number(proof.value)
    return slots


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

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        if tracker.get_slot("requested_slot") is None and tracker.active_loop_name in (None, self.form_name()):
            text = (tracker.latest_message or {}).get("text")
            if upset(text, score(text)):  # the request starts upset: say sorry before asking anything
                dispatcher.utter_message(response="utter_sorry_upset")
        return await super().run(dispatcher, tracker, domain)

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
        try:  # a new address: any code sent went to the one before
            return {"identity_email": normalize_email(str(value)), "otp_sent": False}
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


# What a customer says to take back the order the bot is on: "no, the lamp", "sorry, I meant the other one".
_CORRECTION = ("no", "nope", "not ", "sorry", "wrong", "i meant", "i mean", "actually", "wait", "the other")


def _order_form_slots(tracker: Tracker) -> list[str]:
    """The slots the active order form asks after the order ("problem_description", "confirm_cancel", ...)."""
    requested = tracker.get_slot("requested_slot")
    return [] if requested in (None, "order_number", *IDENTITY_SLOTS) else [requested]


class OrderFormValidation(VerifiedFormValidation):
    """A verified form that also needs one of the customer's orders: the one named, the one proved with, the only one
    that fits, or the one picked from a list (crm_adapter/order_choice.py)."""

    async def extract_order_number(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if not tracker.get_slot("verified") or intent_of(tracker) in NOT_AN_ANSWER:
            return {}
        text = (tracker.latest_message.get("text") or "").strip()
        offered = offered_from(tracker.get_slot("offered_orders"))
        current = tracker.get_slot("order_number")
        if tracker.get_slot("requested_slot") == "order_number":
            picked = entity(tracker, "order_number") or resolve(text, offered, current)
            return {"order_number": picked} if picked else {}
        after = _order_form_slots(tracker)
        if not current or not after or not text.casefold().startswith(_CORRECTION):
            return {}
        # a correction while the bot asks about the order it took: another order number, or one it listed
        picked = entity(tracker, "order_number") or resolve(text, offered, current)
        if not picked or normalize_order_number(picked) == current:
            return {}
        chosen = next((order for order in offered if order.number == picked), None)
        dispatcher.utter_message(
            response="utter_order_switched", order_number=picked, summary=chosen.summary if chosen else picked
        )
        return {"order_number": picked, **{slot: None for slot in after}}

    def validate_order_number(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        try:
            return {"order_number": normalize_order_number(str(value))}
        except InvalidInput:
            dispatcher.utter_message(response="utter_ask_order_number")
            return {"order_number": None}

    def needs_order(self, slots: dict[str, Any]) -> bool:
        """Whether the request needs an order now (a form asking something first says no until it is answered)."""
        return True

    async def get_validation_events(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        events = await super().get_validation_events(dispatcher, tracker, domain)
        if tracker.get_slot("requested_slot") is None and tracker.get_slot("request_text") is None:
            events.append(SlotSet("request_text", _answer_text(tracker)))  # read again once verified ("the lamp")
        slots = slots_after(tracker.slots, events)
        needed = self.needs_order(slots) and not slots.get("order_number")
        if needed and slots.get("verified") and slots.get("customer_id"):
            if slots.get("offered_orders") is None:  # not asked yet: take the order it must be, or list them
                events += await self._choose_order(
                    str(slots["customer_id"]), slots.get("proof_order"), slots.get("request_text"), dispatcher
                )
        return events

    async def _choose_order(
        self, customer_id: str, proof_order: Any, request: Any, dispatcher: CollectingDispatcher
    ) -> list[EventType]:
        try:
            orders = await crm_call(crm().list_orders, customer_id, 10)
        except CrmUnavailable as exc:  # the customer types the number instead
            log.warning("%s: CRM unavailable: %s", self.name(), exc)
            return []
        choice = choose(
            self.form_name(),
            orders,
            proof_order if isinstance(proof_order, str) else None,
            request if isinstance(request, str) else None,
        )
        if choice.order is None:
            return [SlotSet("offered_orders", [OfferedOrder.of(order).to_json() for order in choice.offer])]
        recent = [OfferedOrder.of(order).to_json() for order in orders[:5]]
        if choice.announce and self.form_name() != "order_status_form":  # the status reply names the order itself
            dispatcher.utter_message(
                response="utter_order_chosen",
                order_number=choice.order.order_number,
                summary=choice.order.summary,
                status=choice.order.status.value.replace("_", " "),
            )
        return [SlotSet("order_number", choice.order.order_number), SlotSet("offered_orders", recent)]


class ValidateOrderStatusForm(OrderFormValidation):
    def name(self) -> str:
        return "validate_order_status_form"


class ValidateCancelOrderForm(OrderFormValidation):
    """Once the order is known, what cancelling it costs (the question says so); an order that can no longer be
    cancelled is not asked about: the form ends and the action says why and offers a return."""

    def name(self) -> str:
        return "validate_cancel_order_form"

    async def required_slots(
        self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[str]:
        slots = await super().required_slots(domain_slots, dispatcher, tracker, domain)
        if tracker.get_slot("order_cancellable") is False:
            return [slot for slot in slots if slot != "confirm_cancel"]
        return slots

    async def get_validation_events(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        events = await super().get_validation_events(dispatcher, tracker, domain)
        slots = slots_after(tracker.slots, events)
        order = await order_in_hand(slots) if slots.get("order_cancellable") is None else None
        if order is None:
            return events
        terms = cancellation_terms(order.status, order.total_cents)
        refund = money(terms.refund_cents, order.currency)
        return [*events, SlotSet("order_cancellable", terms.allowed), SlotSet("cancel_refund", refund)]


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


class ValidateInvoiceForm(OrderFormValidation):
    def name(self) -> str:
        return "validate_invoice_form"


_CHANGE_AFTER_ORDER = ("change_kind", "change_item", "change_quantity", "change_address", "confirm_change")
_NOT_FOR = {"deliver_to": {"change_item", "change_quantity"}, "remove_item": {"change_quantity", "change_address"},
            "set_quantity": {"change_address"}}  # fmt: skip


def order_lines(tracker: Tracker) -> list[OrderLine]:
    """The lines of the order in hand, as the change form keeps them (slot order_lines)."""
    return order_lines_of(tracker.get_slot("order_lines"))


def order_lines_of(value: Any) -> list[OrderLine]:
    lines = []
    for item in value if isinstance(value, list) else []:
        if isinstance(item, dict) and isinstance(item.get("sku"), str):
            lines.append(
                OrderLine(item["sku"], str(item.get("name", "")), int(item.get("quantity", 1)),
                          int(item.get("unit_price_cents", 0)))
            )  # fmt: skip
    return lines


class ValidateChangeOrderForm(OrderFormValidation):
    """Changing an order that has not left the warehouse: what (from the request's words or a button), which item
    (by name or button), how many or where to, then a yes to the change spelled out with its new total."""

    def name(self) -> str:
        return "validate_change_order_form"

    async def required_slots(
        self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[str]:
        slots = await super().required_slots(domain_slots, dispatcher, tracker, domain)
        if tracker.get_slot("order_changeable") is False or tracker.get_slot("change_refused"):
            return [slot for slot in slots if slot not in _CHANGE_AFTER_ORDER]  # the action says why
        skipped = _NOT_FOR.get(str(tracker.get_slot("change_kind")), set())
        return [slot for slot in slots if slot not in skipped]

    async def extract_change_kind(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if tracker.get_slot("requested_slot") not in (None, "change_kind"):
            return {}
        kind = entity(tracker, "change_kind") or change_kind_in(_answer_text(tracker))
        return {"change_kind": kind} if kind in ORDER_CHANGE_KINDS else {}

    async def extract_change_item(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if tracker.get_slot("requested_slot") != "change_item":
            return {}
        lines = [(line.sku, line.name) for line in order_lines(tracker)]
        picked = entity(tracker, "change_item") or line_in(_answer_text(tracker), lines)
        if picked is None and lines:  # "the first one", "the second"
            offered = [OfferedOrder(sku, name, "") for sku, name in lines]
            picked = resolve(_answer_text(tracker) or "", offered)
        return {"change_item": picked} if picked in {sku for sku, _ in lines} else {}

    async def extract_change_quantity(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        requested = tracker.get_slot("requested_slot")
        if requested != "change_quantity" and not (requested is None and tracker.get_slot("change_kind") is None):
            return {}
        quantity = quantity_in(_answer_text(tracker))
        if requested is None and change_kind_in(_answer_text(tracker)) != "set_quantity":
            return {}  # a number in the opening message counts only when it asks for a quantity
        return {"change_quantity": float(quantity)} if quantity is not None else {}

    def validate_change_quantity(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value is not None and 0 <= float(value) <= MAX_LINE_QUANTITY:
            return {"change_quantity": float(value)}
        dispatcher.utter_message(response="utter_ask_change_quantity")
        return {"change_quantity": None}

    async def extract_change_address(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if tracker.get_slot("requested_slot") != "change_address":
            return {}
        text = _answer_text(tracker)
        return {"change_address": text} if text else {}

    def validate_change_address(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        try:
            return {"change_address": normalize_address(str(value))}
        except InvalidInput as exc:
            dispatcher.utter_message(response="utter_contact_invalid", problem=str(exc))
            return {"change_address": None}

    async def get_validation_events(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        events = await super().get_validation_events(dispatcher, tracker, domain)
        slots = slots_after(tracker.slots, events)
        if slots.get("order_changeable") is not None:
            return [*events, *self._refuse_an_empty_order(slots, dispatcher)]
        order = await order_in_hand(slots)
        if order is None:
            return events
        changeable = cancellation_terms(order.status, order.total_cents).allowed
        events += [
            SlotSet("order_changeable", changeable),
            SlotSet("order_lines", [{"sku": line.sku, "name": line.name, "quantity": line.quantity,
                                     "unit_price_cents": line.unit_price_cents} for line in order.lines]),
        ]  # fmt: skip
        if changeable and not slots.get("change_item"):
            lines = [(line.sku, line.name) for line in order.lines]
            item = line_in(slots.get("request_text"), lines) or (lines[0][0] if len(lines) == 1 else None)
            if item:
                events.append(SlotSet("change_item", item))
        slots = slots_after(slots, events)
        return [*events, *self._refuse_an_empty_order(slots, dispatcher)]

    @staticmethod
    def _refuse_an_empty_order(slots: dict[str, Any], dispatcher: CollectingDispatcher) -> list[EventType]:
        """Taking off the only item would leave nothing to send: say so now (cancel instead), not after a yes."""
        kind, item, quantity = slots.get("change_kind"), slots.get("change_item"), slots.get("change_quantity")
        if slots.get("change_refused") or kind not in ("remove_item", "set_quantity") or not item:
            return []
        if kind == "set_quantity" and quantity is None:
            return []
        lines = tuple(order_lines_of(slots.get("order_lines")))
        change = OrderChange(str(kind), sku=str(item), quantity=int(quantity) if quantity is not None else None)
        try:
            changed_lines(lines, change)
        except NotAllowed:
            dispatcher.utter_message(response="utter_order_change_last_item", order_number=slots.get("order_number"))
            return [SlotSet("change_refused", True)]
        except InvalidInput:
            return []  # the action explains
        return []


class ValidatePaymentProblemForm(OrderFormValidation):
    """Which payment problem (from the message that raised it, or a button), then the order, unless the payment
    was declined: that placed no order."""

    def name(self) -> str:
        return "validate_payment_problem_form"

    def needs_order(self, slots: dict[str, Any]) -> bool:
        issue = slots.get("payment_issue")
        return issue is not None and payment_issue_needs_order(str(issue))  # declined: no order was placed

    async def required_slots(
        self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[str]:
        slots = await super().required_slots(domain_slots, dispatcher, tracker, domain)
        if tracker.get_slot("payment_issue") == "declined":
            return [slot for slot in slots if slot != "order_number"]
        return slots

    async def extract_payment_issue(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if tracker.get_slot("requested_slot") not in (None, "payment_issue"):
            return {}
        issue = entity(tracker, "payment_issue") or payment_issue_in(_answer_text(tracker))
        return {"payment_issue": issue} if issue in PAYMENT_ISSUES else {}


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


def ask_again(dispatcher: CollectingDispatcher, tracker: Tracker) -> bool:
    """In the middle of a form, say the message answered nothing and ask the form's question again; False (nothing
    said) outside a form."""
    requested = tracker.get_slot("requested_slot")
    if not tracker.active_loop_name or not requested:
        return False
    dispatcher.utter_message(response="utter_not_an_answer")
    if requested == "order_number":
        ask_order_number(dispatcher, tracker)
    else:
        dispatcher.utter_message(response=f"utter_ask_{requested}")
    return True


class ActionDefaultFallback(Action):
    """What the dialogue does when nothing fits. In the middle of a form that is a message that answers none of its
    question (a "yes please" to "which order?"): say so and ask the question again, so the form goes on instead of
    "I lost track". Outside a form, Rasa's own reply. Either way the message is forgotten, as Rasa's default does."""

    def name(self) -> str:
        return "action_default_fallback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        if not ask_again(dispatcher, tracker):
            dispatcher.utter_message(response="utter_default")
        return [UserUtteranceReverted()]
