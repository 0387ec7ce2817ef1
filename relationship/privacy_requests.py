"""The customer's requests about their data, in the conversation, once they are verified: a summary of what
we know, an export emailed to the address on file, erasure, "stop remembering me", their consents, and how
they want to be contacted. Erasure and forgetting are asked back first ("are you sure?"); erasure after an order
number as the only proof first asks for a one-time code sent to the address on file (`STEPPED_UP`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from crm_adapter.contact_changes import WEAK_PROOFS
from crm_adapter.domain import PURPOSES, CustomerProfile
from crm_adapter.identity import Verification
from crm_adapter.notify import mask_email
from crm_adapter.ports import CrmService, RelationshipService
from relationship import preferences as prefs
from relationship.consent_flow import FIRST_PURPOSE
from relationship.follow_up import describe_saved
from relationship.unavailable import RelationshipUnavailable

log = logging.getLogger(__name__)

CONFIRMED_FIRST = ("forget_me", "erase")  # requests asked back before anything is done
STEPPED_UP = ("erase",)  # requests that need a one-time code after a weak proof (an order number) first
NEWSLETTER = {"newsletter_on": True, "newsletter_off": False}  # the requests, and the marketing consent they set
CONSENT_LABELS = (("history", "remember conversations"), ("service", "service messages"),
                  ("marketing", "offers and news"))  # fmt: skip


@dataclass(frozen=True)
class PrivacyOutcome:
    result: Literal[
        "confirm", "step_up", "consents", "preferences_unclear", "preferences_saved", "export_sent",
        "export_failed", "summary", "unavailable", "newsletter_on", "newsletter_already_on", "newsletter_off",
        "newsletter_already_off",
    ]  # fmt: skip
    question: str | None = None  # confirm: "forget_me" | "erase"; step_up: "erase_code"; consents: the first
    # purpose to ask again
    text: str = ""  # summary: the summary; preferences_saved: the saved preferences described
    consents: dict[str, str] = field(default_factory=dict)  # purpose: yes | no | not asked yet
    size: str = ""  # export_sent
    email: str = ""  # export_sent, newsletter_*: the address on file; step_up: where the code went (masked)


@dataclass(frozen=True)
class PrivacyAnswer:
    """After a yes or no to "are you sure?"."""

    result: Literal["forgotten", "kept", "erased", "erase_cancelled", "unavailable"]


@dataclass(frozen=True)
class StepUpAnswer:
    """After the code asked for before an erasure: ask "are you sure?", ask for the code again, or stop."""

    result: Literal["confirm", "ask_code_again", "code_wrong", "code_locked", "cancelled"]
    question: str | None = None  # confirm: the question to ask now ("erase")
    failures: int | None = None  # the conversation's wrong proofs, when this answer changed them


def yes_no(value: bool | None) -> str:
    return "not asked yet" if value is None else "yes" if value else "no"


def size_text(n: int) -> str:
    return f"{n / 1024:.1f} KB" if n >= 1024 else f"{n} bytes"


def summary_text(profile: CustomerProfile) -> str:
    """The readable answer to "what do you know about me"."""
    c = profile.customer
    lines = [
        f"- Name: {c.first_name} {c.last_name}; email {c.email}; phone {c.phone or 'none'}; "
        f"address {c.address or 'none'}",
        f"- {profile.orders} order{'s' if profile.orders != 1 else ''}, {profile.open_tickets} open ticket"
        f"{'s' if profile.open_tickets != 1 else ''}, {profile.loyalty_points:,} loyalty points",
        f"- {profile.conversations} conversation{'s' if profile.conversations != 1 else ''} with us"
        + (f" on {', '.join(profile.channels)}" if profile.channels else ""),
        "- Consents: " + "; ".join(f"{label} {yes_no(profile.consents.get(p))}" for p, label in CONSENT_LABELS),
        "- Contact preferences: " + (describe_saved(profile.preferences) or "none saved"),
        f"- How our conversations have felt: {profile.sentiment.label}"
        + (f", {profile.sentiment.direction}" if profile.sentiment.direction != "unknown" else ""),
        f"- Relationship score {profile.value.score:g}/100 ({profile.value.tier}): {profile.value.explanation}",
    ]
    return "\n".join(lines)


class PrivacyRequests:
    def __init__(
        self,
        crm: CrmService,
        relationship: RelationshipService,
        deliver: Callable[[str, str, dict[str, Any]], int],
    ) -> None:
        self._crm = crm
        self._relationship = relationship
        self._deliver = deliver

    def handle(
        self, customer_id: str, request: str | None, preference_text: str = "", verified_by: str | None = None
    ) -> PrivacyOutcome:
        """`request`: forget_me, erase, consents, preferences (stated in `preference_text`), export, or
        anything else for the summary; `verified_by` how the conversation was verified. CrmUnavailable is
        raised."""
        try:
            return self._handle(customer_id, request, preference_text, verified_by)
        except RelationshipUnavailable:
            return PrivacyOutcome("unavailable")

    def _handle(
        self, customer_id: str, request: str | None, preference_text: str, verified_by: str | None
    ) -> PrivacyOutcome:
        if request in STEPPED_UP and verified_by in WEAK_PROOFS:
            self._relationship.consents(customer_id)  # only where the relationship is kept
            customer = self._crm.get_customer(customer_id)
            self._crm.send_one_time_code(customer.email)
            return PrivacyOutcome("step_up", question=f"{request}_code", email=mask_email(customer.email))
        if request in CONFIRMED_FIRST:
            self._relationship.consents(customer_id)  # only where the relationship is kept
            return PrivacyOutcome("confirm", question=request)
        if request == "consents":
            consents = self._relationship.consents(customer_id)
            current = {p: yes_no(consents.get(p)) for p in PURPOSES}
            return PrivacyOutcome("consents", question=FIRST_PURPOSE, consents=current)
        if request == "preferences":
            stated = prefs.parse_statement(preference_text)
            if not stated:
                self._relationship.consents(customer_id)  # only where the relationship is kept
                return PrivacyOutcome("preferences_unclear")
            saved = self._relationship.set_preferences(customer_id, stated, "customer")
            return PrivacyOutcome("preferences_saved", text=describe_saved(saved))
        if request in NEWSLETTER:
            # the newsletter is the marketing consent, asked for in so many words: recorded as the customer's own
            wanted = NEWSLETTER[request]
            before = self._relationship.consents(customer_id).get("marketing")
            email = self._crm.get_customer(customer_id).email
            if before is wanted:
                return PrivacyOutcome("newsletter_already_on" if wanted else "newsletter_already_off", email=email)
            self._relationship.set_consent(customer_id, "marketing", wanted, "chat")
            return PrivacyOutcome("newsletter_on" if wanted else "newsletter_off", email=email)
        if request == "export":
            bundle = self._relationship.export(customer_id)
            customer = self._crm.get_customer(customer_id)
            try:
                size = self._deliver(customer.email, customer.first_name, bundle)
            except OSError as exc:
                log.warning("export for a customer could not be delivered: %s", exc)
                return PrivacyOutcome("export_failed")
            return PrivacyOutcome("export_sent", size=size_text(size), email=customer.email)
        return PrivacyOutcome("summary", text=summary_text(self._relationship.profile(customer_id)))

    def step_up(
        self, customer_id: str, question: str, intent: str | None, code: str | None, failures: float | None
    ) -> StepUpAnswer:
        """The answer to `question` (erase_code: the code sent to the address on file before an erasure);
        `code` is the code the message carried, if any."""
        if intent in ("deny", "stop"):
            return StepUpAnswer("cancelled")
        if not code:
            return StepUpAnswer("ask_code_again")
        proved = Verification(self._crm).prove_code(customer_id, code, failures)
        if proved.result == "verified":
            return StepUpAnswer("confirm", question=question.removesuffix("_code"), failures=0)
        return StepUpAnswer("code_locked" if proved.result == "locked" else "code_wrong", failures=proved.failures)

    def confirm(self, customer_id: str, question: str, yes: bool, sender_id: str) -> PrivacyAnswer:
        """The answer to "are you sure?" for forget_me (stop remembering conversations) or erase."""
        try:
            if question == "forget_me":
                if yes:
                    self._relationship.set_consent(customer_id, "history", False, "chat")
                return PrivacyAnswer("forgotten" if yes else "kept")
            if not yes:
                return PrivacyAnswer("erase_cancelled")
            self._relationship.request_erasure(customer_id, sender_id)
        except RelationshipUnavailable:
            return PrivacyAnswer("unavailable")
        return PrivacyAnswer("erased")
