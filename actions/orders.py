"""Order actions: status, list, delivery problems, returns, cancellations, refunds."""

from __future__ import annotations

import logging

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import VerifiedCrmAction, clear_request_slots, crm, crm_call, day, money, ticket_for
from crm_adapter.domain import NewTicket, NotAllowed, NotFound, Order, TicketKind
from crm_adapter.order_choice import offered_from
from hearth.container import get_invoices

log = logging.getLogger(__name__)


def _order_vars(order: Order) -> dict[str, str]:
    return {
        "order_number": order.order_number,
        "summary": order.summary,
        "expected": day(order.expected_delivery),
        "delivered": day(order.delivered_at),
        "carrier": order.carrier or "our courier",
        "tracking": order.tracking_number or "not yet available",
        "status": order.status.value.replace("_", " "),
        "refund": money(order.total_cents, order.currency),
    }


async def open_order_ticket(ticket: NewTicket, dispatcher: CollectingDispatcher) -> str | None:
    """The new ticket's reference; None, and the customer told, when the order is not theirs."""
    try:
        return (await crm_call(crm().open_ticket, ticket)).reference
    except NotFound:
        dispatcher.utter_message(response="utter_order_number_unknown", order_number=ticket.order_number)
        return None


def ask_order_number(dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
    """Which order: a button per order the form listed (number, main item, status), else ask for the number."""
    offered = offered_from(tracker.get_slot("offered_orders"))
    if not offered:
        dispatcher.utter_message(response="utter_ask_order_number")
        return
    buttons = [{"title": order.label, "payload": f'/inform{{"order_number": "{order.number}"}}'} for order in offered]
    dispatcher.utter_message(response="utter_ask_order_pick", buttons=buttons)


class ActionAskOrderNumber(Action):
    def name(self) -> str:
        return "action_ask_order_number"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        ask_order_number(dispatcher, tracker)
        return []


class ActionCheckOrderStatus(VerifiedCrmAction):
    def name(self) -> str:
        return "action_check_order_status"

    async def act_for(
        self, customer_id: str, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        number = tracker.get_slot("order_number")
        try:
            order = await crm_call(crm().get_order, customer_id, number)
        except NotFound:
            dispatcher.utter_message(response="utter_order_number_unknown", order_number=number)
            return clear_request_slots()
        dispatcher.utter_message(response=f"utter_order_status_{order.status.value}", **_order_vars(order))
        return clear_request_slots()


class ActionListOrders(VerifiedCrmAction):
    def name(self) -> str:
        return "action_list_orders"

    async def act_for(
        self, customer_id: str, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        orders = await crm_call(crm().list_orders, customer_id, 5)
        if not orders:
            dispatcher.utter_message(response="utter_no_orders")
            return []
        lines = "\n".join(
            f"- {o.order_number}: {o.summary}, {o.status.value.replace('_', ' ')} "
            f"(ordered {o.placed_at:%-d %b %Y}, {money(o.total_cents, o.currency)})"
            for o in orders
        )
        dispatcher.utter_message(response="utter_orders_list", orders=lines)
        return []


class ActionReportDeliveryProblem(VerifiedCrmAction):
    def name(self) -> str:
        return "action_report_delivery_problem"

    async def act_for(
        self, customer_id: str, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        number = tracker.get_slot("order_number")
        description = tracker.get_slot("problem_description") or ""
        subject = f"Delivery problem with {number}: {description[:80]}"
        ticket = ticket_for(tracker, TicketKind.DELIVERY_PROBLEM, subject, description, number)
        reference = await open_order_ticket(ticket, dispatcher)
        if reference:
            dispatcher.utter_message(response="utter_delivery_problem_logged", order_number=number, reference=reference)
        return clear_request_slots()


class ActionStartReturn(VerifiedCrmAction):
    def name(self) -> str:
        return "action_start_return"

    async def act_for(
        self, customer_id: str, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        number = tracker.get_slot("order_number")
        try:
            created = await crm_call(crm().start_return, customer_id, number, tracker.get_slot("return_reason"))
        except NotFound:
            dispatcher.utter_message(response="utter_order_number_unknown", order_number=number)
        except NotAllowed as exc:
            dispatcher.utter_message(response=f"utter_return_not_allowed_{exc.reason}", order_number=number)
        else:
            dispatcher.utter_message(
                response="utter_return_started", rma=created.rma_number, refund=money(created.refund_cents)
            )
        return clear_request_slots()


class ActionCancelOrder(VerifiedCrmAction):
    def name(self) -> str:
        return "action_cancel_order"

    async def act_for(
        self, customer_id: str, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        number = tracker.get_slot("order_number")
        if tracker.get_slot("order_cancellable") is False:  # never asked: it has left the warehouse
            current = await crm_call(crm().get_order, customer_id, number)
            dispatcher.utter_message(response="utter_cancel_not_allowed", **_order_vars(current))
            return clear_request_slots()
        if not tracker.get_slot("confirm_cancel"):
            dispatcher.utter_message(response="utter_cancel_kept", order_number=number)
            return clear_request_slots()
        try:
            order = await crm_call(crm().cancel_order, customer_id, number)
        except NotFound:
            dispatcher.utter_message(response="utter_order_number_unknown", order_number=number)
        except NotAllowed:
            current = await crm_call(crm().get_order, customer_id, number)
            dispatcher.utter_message(response="utter_cancel_not_allowed", **_order_vars(current))
        else:
            dispatcher.utter_message(response="utter_order_cancelled", **_order_vars(order))
        return clear_request_slots()


class ActionReportPaymentProblem(VerifiedCrmAction):
    """A ticket for the payments team with what the customer reports and the order (none for a declined payment),
    and the timing the customer can expect for that problem."""

    def name(self) -> str:
        return "action_report_payment_problem"

    async def act_for(
        self, customer_id: str, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        issue, number = tracker.get_slot("payment_issue") or "declined", tracker.get_slot("order_number")
        what = {"declined": "payment declined", "charged_twice": "charged twice",
                "refund_missing": "refund not arrived"}  # fmt: skip
        subject = f"Payment problem: {what.get(issue, issue)}" + (f" ({number})" if number else "")
        description = f"The customer reports: {what.get(issue, issue)}."
        ticket = ticket_for(tracker, TicketKind.PAYMENT_PROBLEM, subject, description, number)
        reference = await open_order_ticket(ticket, dispatcher)
        if reference:
            dispatcher.utter_message(response=f"utter_payment_{issue}", order_number=number, reference=reference)
        return clear_request_slots()


class ActionSendInvoice(VerifiedCrmAction):
    """Emails the order's VAT invoice (a PDF) to the address on file; the chat only says where it went."""

    def name(self) -> str:
        return "action_send_invoice"

    async def act_for(
        self, customer_id: str, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        number = tracker.get_slot("order_number")
        try:
            sent = await crm_call(get_invoices().send, customer_id, number)
        except NotFound:
            dispatcher.utter_message(response="utter_order_number_unknown", order_number=number)
        except NotAllowed:
            dispatcher.utter_message(response="utter_invoice_order_cancelled", order_number=number)
        except OSError as exc:
            log.warning("invoice for %s could not be sent: %s", number, exc)
            dispatcher.utter_message(response="utter_invoice_failed")
        else:
            dispatcher.utter_message(response="utter_invoice_sent", order_number=sent.order_number, email=sent.email)
        return clear_request_slots()


class ActionRefundStatus(VerifiedCrmAction):
    def name(self) -> str:
        return "action_refund_status"

    async def act_for(
        self, customer_id: str, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        returns = await crm_call(crm().list_returns, customer_id)
        if not returns:
            dispatcher.utter_message(response="utter_no_refunds")
            return []
        describe = {
            "requested": "waiting for the item to reach us",
            "received": "received, refund on its way within 5 working days",
            "refunded": "refunded",
        }
        lines = "\n".join(
            f"- {r.rma_number} for order {r.order_number}: {money(r.refund_cents)}, "
            f"{describe.get(r.status, r.status)}" + (f" on {r.refunded_at:%-d %b}" if r.refunded_at else "")
            for r in returns[:5]
        )
        dispatcher.utter_message(response="utter_refunds_list", returns=lines)
        return []
