"""One customer across channels: linking a messaging account to the customer record, on proof and consent.

After a customer is verified on a channel whose sender id the platform itself vouches for (a Telegram chat,
a Slack user, a WhatsApp or SMS number, a Messenger user), the bot offers to remember the account.
Nothing is linked unless both hold:

- the customer proved they own the record with a one-time code sent to the email on file (an order number
  verifies a conversation, but an order number travels on receipts and is not enough to remember an
  account for good: a second step emails a code);
- the customer said yes to remembering this account.

Web chat and REST are never linked: their sender ids are whatever the caller says. On web chat the host
website's signed token identifies a visitor instead (bot/channels.py); a REST integration identifies its
users itself. Nothing is ever merged on a name or an unchecked claim.
"""

from __future__ import annotations

import logging

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import MAX_IDENTITY_ATTEMPTS, channel_of, crm, crm_call
from crm_adapter.domain import CrmUnavailable, InvalidInput, NotFound, VerificationFailed
from crm_adapter.identity import Proof
from crm_adapter.notify import mask_email

log = logging.getLogger(__name__)

# Channels whose sender ids the platform authenticates, and how the bot names them to the customer.
LINKABLE_CHANNELS = {
    "telegram": "Telegram account",
    "slack": "Slack account",
    "twilio": "phone number",
    "facebook": "Messenger account",
}
LINK_QUESTIONS = {"link_channel": "utter_ask_link_channel", "link_code": "utter_ask_link_code"}


def channel_label(tracker: Tracker) -> str | None:
    return LINKABLE_CHANNELS.get(channel_of(tracker))


async def offer_link(
    dispatcher: CollectingDispatcher, tracker: Tracker, customer_id: str, asked_for: bool = False
) -> list[EventType]:
    """Ask whether to remember this channel account, once per conversation (or whenever the customer asks
    for it: `asked_for`). Nothing is asked on web chat or when the account is linked to them already."""
    label = channel_label(tracker)
    if label is None or (tracker.get_slot("link_offered") and not asked_for):
        return []
    if not asked_for and not tracker.get_slot("verified_by"):
        return []  # known without proving it here: the session started from this account's link
    try:
        known = await crm_call(crm().recognize, channel_of(tracker), tracker.sender_id)
    except CrmUnavailable as exc:
        log.info("no link offer: %s", exc)
        return []
    if known is not None and known.customer_id == customer_id:
        if asked_for:
            dispatcher.utter_message(response="utter_channel_already_linked", channel=label)
        return []
    dispatcher.utter_message(response="utter_ask_link_channel", channel=label)
    return [SlotSet("link_offered", True), SlotSet("awaiting", "link_channel")]


async def answer_link(
    awaiting: str, intent: str | None, dispatcher: CollectingDispatcher, tracker: Tracker
) -> list[EventType]:
    """The customer's answer to a link question (`awaiting` is link_channel or link_code)."""
    done: list[EventType] = [SlotSet("awaiting", None)]
    customer_id = tracker.get_slot("customer_id") if tracker.get_slot("verified") else None
    label = channel_label(tracker)
    if not customer_id or label is None:
        dispatcher.utter_message(response="utter_not_verified")
        return done
    if intent == "deny" or intent == "stop":
        dispatcher.utter_message(response="utter_link_declined", channel=label)
        return done
    if awaiting == "link_channel":
        if intent != "affirm":
            dispatcher.utter_message(response="utter_ask_link_channel", channel=label)
            return []
        if tracker.get_slot("verified_by") == "code":  # the code was just proved in this conversation
            return await _link(customer_id, label, dispatcher, tracker)
        customer = await crm_call(crm().get_customer, customer_id)
        await crm_call(crm().send_one_time_code, customer.email)
        dispatcher.utter_message(response="utter_link_code_sent", channel=label, email=mask_email(customer.email))
        dispatcher.utter_message(response="utter_ask_link_code")
        return [SlotSet("awaiting", "link_code")]
    # link_code
    code = next(tracker.get_latest_entity_values("otp_code"), None)
    proof = Proof("code", str(code)) if code else Proof.from_text((tracker.latest_message or {}).get("text") or "")
    if proof is None or proof.kind != "code":
        dispatcher.utter_message(response="utter_ask_link_code")
        return []
    customer = await crm_call(crm().get_customer, customer_id)
    try:
        proved = await crm_call(crm().verify_one_time_code, customer.email, proof.value)
        if proved.customer_id != customer_id:
            raise VerificationFailed()
    except VerificationFailed:
        attempts = (tracker.get_slot("identity_attempts") or 0) + 1
        if attempts >= MAX_IDENTITY_ATTEMPTS:
            dispatcher.utter_message(response="utter_link_code_locked")
            return [*done, SlotSet("identity_attempts", attempts)]
        dispatcher.utter_message(response="utter_link_code_wrong")
        dispatcher.utter_message(response="utter_ask_link_code")
        return [SlotSet("identity_attempts", attempts)]
    return await _link(customer_id, label, dispatcher, tracker)


async def _link(customer_id: str, label: str, dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
    try:
        await crm_call(crm().link_identity, customer_id, channel_of(tracker), tracker.sender_id)
    except (InvalidInput, NotFound) as exc:
        log.warning("could not link the channel account: %s", exc)
        dispatcher.utter_message(response="utter_link_failed")
        return [SlotSet("awaiting", None)]
    dispatcher.utter_message(response="utter_channel_linked", channel=label)
    return [SlotSet("awaiting", None), SlotSet("identity_attempts", 0.0)]
