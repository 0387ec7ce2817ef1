"""Customer care: complaints and requests for a person."""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import IDENTITY_SLOTS, CrmAction, channel_of, clear_request_slots, crm, crm_call
from crm_adapter.domain import NewTicket, TicketKind


def _ticket_for(tracker: Tracker, kind: TicketKind, subject: str, description: str) -> NewTicket:
    return NewTicket(
        kind=kind,
        subject=subject,
        description=description,
        customer_id=tracker.get_slot("customer_id") if tracker.get_slot("verified") else None,
        channel=channel_of(tracker),
        sender_id=tracker.sender_id,
    )


class ActionFileComplaint(CrmAction):
    def name(self) -> str:
        return "action_file_complaint"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        text = tracker.get_slot("complaint_text") or ""
        ticket = _ticket_for(tracker, TicketKind.COMPLAINT, f"Complaint: {text[:80]}", text)
        created = await crm_call(crm().open_ticket, ticket)
        anonymous = created.customer_id is None
        dispatcher.utter_message(
            response="utter_complaint_logged_anonymous" if anonymous else "utter_complaint_logged",
            reference=created.reference,
        )
        return [SlotSet("complaint_text", None)]

    def when_unavailable(self, tracker: Tracker) -> list[EventType]:
        return []  # the complaint text stays in the conversation, so it can be filed when the CRM is back


class ActionRequestHuman(CrmAction):
    """For now a person calls back: a callback ticket with what the customer last said."""

    def name(self) -> str:
        return "action_request_human"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        last_words = [e.get("text") for e in tracker.events if e.get("event") == "user" and e.get("text")][-5:]
        description = "Customer asked for a person. Last messages:\n" + "\n".join(f"> {t}" for t in last_words)
        ticket = _ticket_for(tracker, TicketKind.CALLBACK, "Customer asked for a person", description)
        created = await crm_call(crm().open_ticket, ticket)
        anonymous = created.customer_id is None
        dispatcher.utter_message(
            response="utter_human_callback_anonymous" if anonymous else "utter_human_callback",
            reference=created.reference,
        )
        return clear_request_slots()  # a person takes it from here; the ticket has the last messages


class ActionStopRequest(Action):
    """The customer dropped what they were doing: forget what that request had collected."""

    def name(self) -> str:
        return "action_stop_request"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        dispatcher.utter_message(response="utter_stop_ok")
        events = clear_request_slots()
        if not tracker.get_slot("verified"):
            events += [SlotSet(slot, None) for slot in IDENTITY_SLOTS] + [SlotSet("otp_sent", False)]
        return events
