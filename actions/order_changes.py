"""Changing an order that has not left the warehouse: which item (buttons), the change spelled out with its new
total before the yes, then the change in the CRM (crm_adapter/rules.py decides what may change)."""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import VerifiedCrmAction, clear_request_slots, crm, crm_call, money
from actions.forms import order_lines
from crm_adapter.domain import InvalidInput, NotAllowed, NotFound, OrderChange, OrderLine
from crm_adapter.rules import changed_lines


def requested_change(tracker: Tracker) -> OrderChange:
    quantity = tracker.get_slot("change_quantity")
    return OrderChange(
        kind=str(tracker.get_slot("change_kind")),
        sku=tracker.get_slot("change_item"),
        quantity=int(quantity) if quantity is not None else None,
        address=tracker.get_slot("change_address"),
    )


def _total(lines: tuple[OrderLine, ...] | list[OrderLine]) -> int:
    return sum(line.quantity * line.unit_price_cents for line in lines)


def _describe(change: OrderChange, lines: list[OrderLine]) -> str:
    name = next((line.name for line in lines if line.sku == change.sku), "the item")
    if change.kind == "remove_item" or change.quantity == 0:
        return f"take the {name} off"
    return f"{change.quantity} x {name} instead of {next(line.quantity for line in lines if line.sku == change.sku)}"


class ActionAskChangeItem(Action):
    """Which item: a button per line of the order (name and quantity)."""

    def name(self) -> str:
        return "action_ask_change_item"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        buttons = [
            {"title": f"{line.name} (x{line.quantity})", "payload": f'/inform{{"change_item": "{line.sku}"}}'}
            for line in order_lines(tracker)
        ]
        dispatcher.utter_message(response="utter_ask_change_item", buttons=buttons)
        return []


class ActionAskConfirmChange(Action):
    """The change in words, with the new total and what goes back (or is taken), before the customer says yes."""

    def name(self) -> str:
        return "action_ask_confirm_change"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        change, number = requested_change(tracker), tracker.get_slot("order_number")
        if change.kind == "deliver_to":
            dispatcher.utter_message(response="utter_confirm_change_address", address=change.address)
            return []
        lines = order_lines(tracker)
        try:
            after = changed_lines(tuple(lines), change)
        except (InvalidInput, NotAllowed):  # checked before this question; ask plainly if it still happens
            dispatcher.utter_message(response="utter_ask_confirm_change")
            return []
        before, now = _total(lines), _total(after)
        dispatcher.utter_message(
            response="utter_confirm_change_item" if now <= before else "utter_confirm_change_more",
            change=_describe(change, lines),
            order_number=number,
            total=money(now),
            difference=money(abs(before - now)),
        )
        return []


class ActionChangeOrder(VerifiedCrmAction):
    def name(self) -> str:
        return "action_change_order"

    async def act_for(
        self, customer_id: str, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        number = tracker.get_slot("order_number")
        if tracker.get_slot("change_refused"):
            return clear_request_slots()  # the form said why, and what to do instead
        try:
            if tracker.get_slot("order_changeable") is False:
                order = await crm_call(crm().get_order, customer_id, number)
                dispatcher.utter_message(
                    response="utter_order_change_too_late",
                    order_number=number,
                    status=order.status.value.replace("_", " "),
                )
                return clear_request_slots()
            if not tracker.get_slot("confirm_change"):
                dispatcher.utter_message(response="utter_order_change_kept", order_number=number)
                return clear_request_slots()
            order = await crm_call(crm().change_order, customer_id, number, requested_change(tracker))
        except NotFound:
            dispatcher.utter_message(response="utter_order_number_unknown", order_number=number)
        except NotAllowed as exc:
            if exc.reason == "last_item":
                dispatcher.utter_message(response="utter_order_change_last_item", order_number=number)
            else:
                dispatcher.utter_message(
                    response="utter_order_change_too_late",
                    order_number=number,
                    status=exc.reason.removeprefix("order_"),
                )
        except InvalidInput as exc:
            dispatcher.utter_message(response="utter_order_change_invalid", problem=str(exc))
        else:
            if requested_change(tracker).kind == "deliver_to":
                dispatcher.utter_message(
                    response="utter_order_changed_address", order_number=number, address=order.delivery_address
                )
            else:
                dispatcher.utter_message(
                    response="utter_order_changed", order_number=number, summary=order.summary,
                    total=money(order.total_cents, order.currency),
                )  # fmt: skip
        return clear_request_slots()
