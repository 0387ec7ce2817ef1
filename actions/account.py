"""Account actions: contact details and loyalty points."""

from __future__ import annotations

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import VerifiedCrmAction, crm, crm_call, money
from crm_adapter.domain import ContactField, InvalidInput, NotAllowed

_CONTACT_SLOTS = {"new_email": ContactField.EMAIL, "new_phone": ContactField.PHONE, "new_address": ContactField.ADDRESS}


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
            customer = await crm_call(crm().update_contact, customer_id, field, tracker.get_slot(slot))
        except NotAllowed:
            dispatcher.utter_message(response="utter_email_in_use")
            return clear
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
