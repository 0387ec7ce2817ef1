"""Customer care: complaints (a high-value customer's goes to a person: handoff/desk.py)."""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import IDENTITY_SLOTS, CrmAction, clear_request_slots, crm, crm_call, ticket_for
from actions.handoff import bring_in_person
from crm_adapter.domain import TicketKind


class ActionFileComplaint(CrmAction):
    def name(self) -> str:
        return "action_file_complaint"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        text = tracker.get_slot("complaint_text") or ""
        ticket = ticket_for(tracker, TicketKind.COMPLAINT, f"Complaint: {text[:80]}", text)
        created = await crm_call(crm().open_ticket, ticket)
        anonymous = created.customer_id is None
        dispatcher.utter_message(
            response="utter_complaint_logged_anonymous" if anonymous else "utter_complaint_logged",
            reference=created.reference,
        )
        done: list[EventType] = [SlotSet("complaint_text", None)]
        if anonymous:
            return done
        return done + await bring_in_person(dispatcher, tracker, "vip_complaint")  # the desk's rule: high value only

    def when_unavailable(self, tracker: Tracker) -> list[EventType]:
        return []  # the complaint text stays in the conversation, so it can be filed when the CRM is back


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
