"""Session start, greeting, verification and forgetting: the bot that remembers, on the customer's terms."""

from __future__ import annotations

import logging

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, EventType, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import (
    IDENTITY_SLOTS,
    PROFILE_SLOTS,
    CrmAction,
    VerifiedCrmAction,
    account_of,
    ask,
    channel_of,
    crm,
    crm_call,
    website_sign_ins,
)
from crm_adapter.domain import CrmUnavailable, CustomerContext, NotFound
from crm_adapter.identity import AccountLinking

log = logging.getLogger(__name__)


def profile_slots(context: CustomerContext) -> list[EventType]:
    highlight = context.highlight
    return [
        SlotSet("customer_id", context.customer_id),
        SlotSet("customer_first_name", context.first_name),
        SlotSet("verified", True),
        SlotSet("highlight_kind", highlight.kind if highlight else None),
        SlotSet("highlight_reference", highlight.reference if highlight else None),
        SlotSet("highlight_detail", highlight.detail if highlight else None),
    ]


def website_identity(metadata: object) -> tuple[str, str] | None:
    """(customer id, sign-in id) the host website vouched for with a signed token. Only the web chat connector
    puts `identity` into metadata, after checking the token's signature and expiry (bot/channels.py); it removes
    any the client sends. A token that names no sign-in (none the website makes) vouches for nobody."""
    identity = metadata.get("identity") if isinstance(metadata, dict) else None
    if isinstance(identity, dict) and identity.get("source") == "website":
        customer_id, sign_in = identity.get("customer_id"), identity.get("sign_in")
        if isinstance(customer_id, str) and customer_id and isinstance(sign_in, str) and sign_in:
            return customer_id, sign_in
    return None


def sender_proven(metadata: object) -> bool:
    """Whether the channel vouched for the sender id (a platform's signed webhook, a REST integration that signs
    its users in): only the connectors set it (bot/channels.py), after removing any the client sends. A sender
    id nobody vouched for (web chat's self-chosen session id, a REST integration that does not vouch, Rasa's
    HTTP API) is never recognised as a linked account."""
    return isinstance(metadata, dict) and metadata.get("sender_proven") is True


class ActionSessionStart(Action):
    """Starts every session by recognising the customer: from the website's signed token in web chat (while the
    sign-in it names lasts), else from a channel account they linked, when the channel proves the sender id."""

    def name(self) -> str:
        return "action_session_start"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        events: list[EventType] = [SessionStarted()]
        metadata = tracker.get_slot("session_started_metadata")
        if metadata:
            events.append(SlotSet("session_started_metadata", metadata))
        vouched = website_identity(metadata)
        # The channel of the message that starts this session: until it is logged, the tracker's latest message
        # is the previous session's, perhaps on another channel with the same sender id (bot/session_binding.py).
        stamped = metadata.get("channel") if isinstance(metadata, dict) else None
        channel = stamped if isinstance(stamped, str) and stamped else channel_of(tracker)
        try:
            # the token counts only while the website sign-in it was made for lasts: signing out ends it
            if vouched and not await crm_call(website_sign_ins().is_active, vouched[1], vouched[0]):
                log.info("a website token whose sign-in has ended or lapsed; the visitor stays anonymous")
                context = None
            elif vouched:
                context = await crm_call(crm().customer_context, vouched[0])
            elif sender_proven(metadata):
                context = await crm_call(crm().recognize, channel, tracker.sender_id)
            else:
                context = None
        except NotFound:
            log.warning("the website vouched for a customer the CRM does not have; the visitor stays anonymous")
            context = None
        except CrmUnavailable as exc:
            # Not knowing the customer is no reason to stop talking to them.
            log.warning("session start without recognition, CRM unavailable: %s", exc)
            context = None
        if context is not None:
            events.extend(profile_slots(context))
        events.append(ActionExecuted("action_listen"))
        return events


class ActionGreet(Action):
    """Greets by name, mentioning the one thing that matters from last time, once per session."""

    def name(self) -> str:
        return "action_greet"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        if not tracker.get_slot("customer_first_name"):
            dispatcher.utter_message(response="utter_greet_anonymous")
            return []
        kind = tracker.get_slot("highlight_kind")
        dispatcher.utter_message(response=f"utter_greet_known_{kind}" if kind else "utter_greet_known")
        return [SlotSet("highlight_kind", None)]


class ActionConfirmIdentity(VerifiedCrmAction):
    """Closes the identify form: confirms, or (through VerifiedCrmAction) says why not."""

    def name(self) -> str:
        return "action_confirm_identity"

    async def act_for(
        self, customer_id: str, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if tracker.get_slot("identity_proof") == "verified":
            dispatcher.utter_message(response="utter_identity_confirmed")
        else:
            dispatcher.utter_message(response="utter_identity_already_verified")
        # "Verify me" / "link my account": offer to remember this messaging account, even if offered before.
        offer = await crm_call(
            AccountLinking(crm()).offer,
            customer_id,
            account_of(tracker),
            offered=bool(tracker.get_slot("link_offered")),
            verified_by=tracker.get_slot("verified_by"),
            asked_for=True,
        )
        return ask(dispatcher, offer)


class ActionLogout(CrmAction):
    """Forgets this channel account and the verification of this session."""

    def name(self) -> str:
        return "action_logout"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        removed = await crm_call(crm().unlink_identity, channel_of(tracker), tracker.sender_id)
        was_verified = bool(tracker.get_slot("verified"))
        dispatcher.utter_message(response="utter_logged_out" if removed or was_verified else "utter_logged_out_nothing")
        return [SlotSet(slot, None) for slot in PROFILE_SLOTS + IDENTITY_SLOTS] + [SlotSet("verified", False)]
