"""Changing the email address on file: the one contact detail that decides where one-time codes, exports and
notices go, so whoever controls it controls the account. It changes in three steps:

1. Step up. A conversation verified only by an order number (a weak proof: order numbers travel on receipts
   and parcels) first proves the current address: a one-time code goes to the address on file and must be typed
   back (the same codes as verification: `CrmService.send_one_time_code`, `Verification.prove_code`).
2. The new address confirms. A code goes to the new address and the change waits for it (`EmailChangeStore`).
   A new address that is another customer's reads exactly the same to the customer, "a code is on its way",
   but no code goes to it, so the change can never be confirmed; its owner gets a notice that someone tried.
3. The old address hears. Once the code from the new address is typed, the address changes and a notice goes to
   the old one, so a takeover cannot be silent.

The generic contact update (`CrmService.update_contact`) refuses the email (`NotAllowed("email_needs_confirmation")`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

from crm_adapter.domain import CrmUnavailable, EmailChanged, EmailChangeStarted, NotAllowed, VerificationFailed
from crm_adapter.identity import MAX_SESSION_FAILURES, Proof, Verification, session_locked
from crm_adapter.notify import mask_email
from crm_adapter.ports import CodeSender, CrmService, EmailChangeStore, Notices
from crm_adapter.rules import EMAIL_CHANGES_PER_WINDOW, new_one_time_code
from crm_adapter.validation import normalize_email

log = logging.getLogger(__name__)

WEAK_PROOFS = frozenset({"order"})  # how a conversation was verified (`verified_by`) that needs a step up
CHANGED_SUBJECT = "Your Juniper Home email address was changed"
TAKEN_SUBJECT = "Someone tried to use your email address at Juniper Home"


def changed_notice(new_email: str) -> str:
    return (
        f"The email address on your Juniper Home account was changed to {mask_email(new_email)} in a chat with us, "
        "after a code sent to the new address was typed in. From now on codes and messages go there.\n\n"
        "If you didn't do this, contact us straight away, quoting this email, and we'll lock the account."
    )


TAKEN_NOTICE = (
    "Someone asked in a chat with us to move this email address to another Juniper Home account. "
    "Nothing has changed: this address stays on your account only.\n\n"
    "If it was you, a person from our team can help you sort out your accounts."
)


@dataclass(frozen=True)
class EmailChangeStep:
    """What a step of an email change came to, for the conversation."""

    result: Literal[
        "unchanged", "current_code_sent", "new_code_sent", "ask_code_again", "code_wrong", "code_locked",
        "changed", "cancelled", "not_verified", "unsupported",
    ]  # fmt: skip
    masked_email: str | None = None  # where a code went (..._code_sent); the new address (changed)
    failures: int | None = None  # the conversation's wrong proofs, when this step changed them


class EmailChanges:
    def __init__(
        self,
        crm: CrmService,
        store: EmailChangeStore,
        code_sender: CodeSender,
        notices: Notices,
        max_failures: int = MAX_SESSION_FAILURES,
    ) -> None:
        self._crm = crm
        self._store = store
        self._code_sender = code_sender
        self._notices = notices
        self._verification = Verification(crm, max_failures)

    def start(self, customer_id: str, new_email: str, verified_by: str | None) -> EmailChangeStep:
        """The verified customer asked to change their email to `new_email` (InvalidInput when it is not one)."""
        address = normalize_email(new_email)
        customer = self._crm.get_customer(customer_id)
        if address == customer.email:
            return EmailChangeStep("unchanged", mask_email(address))
        if verified_by in WEAK_PROOFS:
            self._crm.send_one_time_code(customer.email)
            return EmailChangeStep("current_code_sent", mask_email(customer.email))
        return self._send_to_new(customer_id, address)

    def answer(
        self,
        question: str,
        intent: str | None,
        customer_id: str | None,
        new_email: str | None,
        *,
        code: str | None,
        text: str,
        failures: float | None,
    ) -> EmailChangeStep:
        """The answer to `question`: email_current_code (the code sent to the address on file) or email_new_code
        (the code sent to the new address). `code` is the code the message carried, if any."""
        if not customer_id:
            return EmailChangeStep("not_verified")
        if intent in ("deny", "stop"):
            self._store.cancel(customer_id)
            return EmailChangeStep("cancelled")
        proof = Proof("code", code) if code else Proof.from_text(text)
        if proof is None or proof.kind != "code":
            return EmailChangeStep("ask_code_again")
        if question == "email_current_code":
            proved = self._verification.prove_code(customer_id, proof.value, failures)
            if proved.result != "verified":
                return self._wrong(customer_id, proved.failures)
            if not new_email:
                return EmailChangeStep("cancelled", failures=0)
            return self._send_to_new(customer_id, normalize_email(new_email), failures=0)
        try:
            changed = self._store.confirm(customer_id, proof.value)
        except VerificationFailed:
            return self._wrong(customer_id, int(failures or 0) + 1)
        try:
            self._notices.send_notice(
                changed.old_email, changed.first_name, CHANGED_SUBJECT, changed_notice(changed.new_email)
            )
        except CrmUnavailable as exc:  # the change stands; the failure is logged for the team
            log.error("email changed but the notice to the old address failed: %s", exc)
        return EmailChangeStep("changed", mask_email(changed.new_email), failures=0)

    def _send_to_new(self, customer_id: str, address: str, failures: int | None = None) -> EmailChangeStep:
        code = new_one_time_code()
        try:
            started = self._store.begin(customer_id, address, code)
        except NotAllowed as exc:
            log.info("email change not possible here: %s", exc.reason)
            return EmailChangeStep("unsupported")
        self._deliver(started, address, code)
        return EmailChangeStep("new_code_sent", mask_email(address), failures=failures)

    def _deliver(self, started: EmailChangeStarted, address: str, code: str) -> None:
        """The code to a free address; a notice to the owner of a taken one. The customer hears the same."""
        if started.started_recently >= EMAIL_CHANGES_PER_WINDOW:
            log.warning("email change code not sent: %d changes begun within the hour", started.started_recently)
            return
        if started.taken_by is None:
            self._code_sender.send_code(address, started.first_name, code)
            return
        log.info("email change to an address on another account: no code sent, its owner told")
        self._notices.send_notice(started.taken_by.email, started.taken_by.first_name, TAKEN_SUBJECT, TAKEN_NOTICE)

    def _wrong(self, customer_id: str, failures: int) -> EmailChangeStep:
        if session_locked(failures, self._verification.max_failures):
            self._store.cancel(customer_id)
            return EmailChangeStep("code_locked", failures=failures)
        return EmailChangeStep("code_wrong", failures=failures)


class ExternalCrmEmailChanges:
    """With an external CRM, the email on file is the owner's to change: every change is refused, and the
    customer is told a person can help."""

    def begin(self, customer_id: str, new_email: str, code: str) -> EmailChangeStarted:
        raise NotAllowed("email_change_unsupported", "The email address on file is changed by the CRM's owner.")

    def confirm(self, customer_id: str, code: str) -> EmailChanged:
        raise VerificationFailed()

    def cancel(self, customer_id: str) -> None:
        return None
