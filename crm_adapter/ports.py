"""The interfaces the rest of the system depends on."""

from __future__ import annotations

from typing import Any, Protocol

from crm_adapter.domain import (
    Consents,
    ContactField,
    ConversationDetail,
    Customer,
    CustomerContext,
    CustomerProfile,
    EmailChanged,
    EmailChangeStarted,
    ErasureReceipt,
    LoyaltyBalance,
    NewFeedback,
    NewTicket,
    Order,
    OrderChange,
    PreferenceProposal,
    ReturnRequest,
    SentimentTrend,
    SurveyPlan,
    Ticket,
    TimelinePage,
)


class CrmService(Protocol):
    """Everything the bot may ask of the customer relationship store.

    Implemented by `SqlCrmService` (our own database) and `HttpCrmService`
    (an external CRM speaking the JSON contract in docs/crm-rest-contract.md).
    Every method raises `CrmUnavailable` when the store cannot be reached.
    """

    # identity
    def recognize(self, channel: str, sender_id: str) -> CustomerContext | None: ...
    def link_identity(self, customer_id: str, channel: str, sender_id: str) -> None: ...
    def unlink_identity(self, channel: str, sender_id: str) -> bool: ...
    def verify_with_order(self, email: str, order_number: str) -> Customer: ...
    def send_one_time_code(self, email: str) -> None: ...
    def verify_one_time_code(self, email: str, code: str) -> Customer: ...

    # profile
    def get_customer(self, customer_id: str) -> Customer: ...
    def customer_context(self, customer_id: str) -> CustomerContext: ...
    def update_contact(self, customer_id: str, field: ContactField, value: str) -> Customer: ...
    def loyalty(self, customer_id: str) -> LoyaltyBalance: ...

    # orders
    def list_orders(self, customer_id: str, limit: int = 5) -> list[Order]: ...
    def get_order(self, customer_id: str, order_number: str) -> Order: ...
    def cancel_order(self, customer_id: str, order_number: str) -> Order: ...
    def change_order(self, customer_id: str, order_number: str, change: OrderChange) -> Order: ...
    def start_return(self, customer_id: str, order_number: str, reason: str) -> ReturnRequest: ...
    def list_returns(self, customer_id: str) -> list[ReturnRequest]: ...

    # tickets
    def open_ticket(self, ticket: NewTicket) -> Ticket: ...
    def list_tickets(self, customer_id: str, open_only: bool = False) -> list[Ticket]: ...


class CodeSender(Protocol):
    """Delivers a one-time code to a customer over a channel we already trust (email)."""

    def send_code(self, email: str, first_name: str, code: str) -> None: ...


class Notices(Protocol):
    """Delivers a security notice (an email changed, an address someone tried to use) by email."""

    def send_notice(self, email: str, first_name: str, subject: str, body: str) -> None: ...


class EmailChangeStore(Protocol):
    """Pending changes of the email address on file, each waiting for the code emailed to the new address
    (`SqlEmailChangeStore` on our own database). Codes are kept only as hashes. Raises `NotFound` for an unknown
    customer, `CrmUnavailable` when the store cannot be reached, and `NotAllowed("email_change_unsupported")` where
    the email on file cannot be changed here (an external CRM)."""

    def begin(self, customer_id: str, new_email: str, code: str) -> EmailChangeStarted:
        """Keep a change to `new_email` (normalised) confirmed by `code`; it replaces the customer's earlier ones."""
        ...

    def confirm(self, customer_id: str, code: str) -> EmailChanged:
        """Apply the customer's pending change if `code` is its code, within its time and attempts, and the new
        address is still nobody else's; otherwise `VerificationFailed` (a wrong code counts an attempt)."""
        ...

    def cancel(self, customer_id: str) -> None:
        """Drop the customer's pending change, if any."""
        ...


class HistoryReader(Protocol):
    """The relationship history, read back (`history.timeline.SqlHistoryService`).

    Raises `NotFound` for an unknown customer, or a conversation that is not theirs, and
    `InvalidInput("cursor")` for a cursor it did not hand out.
    """

    def timeline(self, customer_id: str, cursor: str | None = None, limit: int = 20) -> TimelinePage: ...
    def conversation(
        self, customer_id: str, conversation_id: int, cursor: str | None = None, limit: int = 50
    ) -> ConversationDetail: ...


class RelationshipService(Protocol):
    """Consent, preferences, surveys, sentiment, value and data rights
    (`relationship.service.SqlRelationshipService`, on the CRM database).

    Raises `NotFound` for an unknown customer, `InvalidInput` for a value it cannot store and
    `CrmUnavailable` when the database cannot be reached.
    """

    def consents(self, customer_id: str) -> Consents: ...
    def set_consent(self, customer_id: str, purpose: str, granted: bool, source: str = "chat") -> Consents: ...
    def preferences(self, customer_id: str) -> dict[str, str]: ...
    def set_preferences(self, customer_id: str, values: dict[str, str], source: str = "customer") -> dict[str, str]: ...
    def propose_preferences(self, customer_id: str) -> PreferenceProposal | None: ...
    def plan_survey(self, customer_id: str | None) -> SurveyPlan: ...
    def record_feedback(self, feedback: NewFeedback) -> int: ...
    def sentiment_trend(self, customer_id: str, last: int = 10) -> SentimentTrend: ...
    def profile(self, customer_id: str) -> CustomerProfile: ...
    def export(self, customer_id: str) -> dict[str, Any]: ...
    def request_erasure(self, customer_id: str, current_sender: str | None = None) -> ErasureReceipt: ...


class WebsiteSignIns(Protocol):
    """The shop website's sign-ins, kept on the server so that signing out ends one everywhere: the site's
    cookie and the chat widget's identity tokens name their sign-in (shared/web_identity.py, ``sid``) and count
    only while it lasts.

    `SqlWebsiteSignIns` (crm_adapter/sql/website_sessions.py) on our own database; with an external CRM, which
    keeps no website accounts, `NoWebsiteSignIns` (crm_adapter/website.py): nobody is signed in. `start` raises
    `NotFound` for an unknown customer; every method raises `CrmUnavailable` when the store cannot be reached.
    """

    def start(self, customer_id: str, lifetime_seconds: int) -> str: ...
    def is_active(self, sign_in_id: str, customer_id: str) -> bool: ...
    def end(self, sign_in_id: str) -> bool: ...


class WebsiteAccounts(Protocol):
    """Accounts on the shop's website: a forgotten password reset, and a new account created, each through a
    single-use link emailed to the address (crm_adapter/accounts.py has the rules and the links' emails).

    `SqlWebsiteAccounts` (crm_adapter/sql/website_accounts.py) on our own database, which keeps only each link's
    SHA-256; with an external CRM, which keeps no website accounts, `NoWebsiteAccounts` (crm_adapter/accounts.py)
    refuses with `NotAllowed("website_accounts")`.

    Asking (`request_password_reset`, `request_account`) answers alike whether or not the address has an account:
    it returns nothing, does the same database work, and at most `LINKS_PER_WINDOW` links an hour reach an address
    (more asks are quietly dropped). Both raise `InvalidInput` only for input that is no address, name or password
    at all. Using a link (`reset_password`, `confirm_account`) raises `VerificationFailed` for an unknown, used or
    expired link, and `InvalidInput("password")` for a password too short or too long, leaving the link unused.
    Every method raises `CrmUnavailable` when the store cannot be reached.
    """

    def request_password_reset(self, email: str) -> None: ...
    def reset_password(self, token: str, new_password: str) -> Customer:
        """Sets the password, uses the link up and ends every live website sign-in of its customer."""
        ...

    def request_account(self, first_name: str, last_name: str, email: str, password: str) -> None: ...
    def confirm_account(self, token: str) -> Customer:
        """Creates the customer the link was asked for (`NotAllowed("email_taken")` if the address was taken
        since)."""
        ...
