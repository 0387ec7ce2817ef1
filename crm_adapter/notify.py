"""Delivery of one-time codes and of data exports: by email through an SMTP server, or in development to the data
folder's outbox (files only their owner can read, never the log). The mail server's settings are given
(hearth/settings.py reads them from SMTP_HOST, SMTP_PORT, SMTP_USER, SMTP_PASSWORD, SMTP_STARTTLS and SMTP_FROM)."""

from __future__ import annotations

import hashlib
import json
import logging
import smtplib
import time
from email import parser as email_parser
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Protocol

from crm_adapter.domain import CrmUnavailable
from shared.log_redaction import mask_email  # the same masking as every log line's (a***@example.com)

log = logging.getLogger("hearth.codes")

CODES_FROM = "Juniper Home <help@juniper-home.example>"
EXPORTS_FROM = "Juniper Home <privacy@juniper-home.example>"


class SmtpServer(Protocol):
    """Where and how to send email (`hearth.settings.Smtp`)."""

    @property
    def host(self) -> str | None: ...
    @property
    def port(self) -> int: ...
    @property
    def user(self) -> str | None: ...
    @property
    def password(self) -> str: ...
    @property
    def starttls(self) -> bool: ...
    @property
    def sender(self) -> str | None: ...


def code_message(email: str, first_name: str, code: str, sender: str | None = None) -> EmailMessage:
    message = EmailMessage()
    message["To"] = email
    message["From"] = sender or CODES_FROM
    message["Subject"] = f"Your Juniper Home code: {code}"
    message.set_content(
        f"Hello {first_name},\n\nYour one-time code is {code}. Type it in the chat; it is valid for 10 minutes "
        "and works once.\n\nIf you didn't ask for it, ignore this email: nothing happens without the code.\n"
    )
    return message


class OutboxCodeSender:
    """Development delivery: writes the code's email to the outbox folder (a file only its owner can read, named
    like the exports so erasure removes it too) instead of sending it; the log says only where it went."""

    def __init__(self, outbox: Path) -> None:
        self.outbox = outbox

    def send_code(self, email: str, first_name: str, code: str) -> None:
        path = write_to_outbox(self.outbox, email, code_message(email, first_name, code), CODE_SUFFIX)
        log.warning("one-time code for %s written to %s (development delivery, not emailed)", mask_email(email), path)


class SmtpCodeSender:
    """Emails the code to the address on file, through the SMTP server (see `smtp_send`)."""

    def __init__(self, smtp: SmtpServer) -> None:
        self.smtp = smtp

    def send_code(self, email: str, first_name: str, code: str) -> None:
        try:
            smtp_send(code_message(email, first_name, code, self.smtp.sender), self.smtp)
        except OSError as exc:  # the customer hears that it can't be done now, and can ask again
            raise CrmUnavailable(f"could not email the one-time code: {exc}") from exc
        log.info("one-time code emailed to %s", mask_email(email))


def smtp_send(message: EmailMessage, server: SmtpServer) -> None:
    """Send through the server's host and port (STARTTLS when asked, login with a user); OSError on failure."""
    assert server.host, "no SMTP server configured"
    with smtplib.SMTP(server.host, server.port, timeout=10) as smtp:
        if server.starttls:
            smtp.starttls()
        if server.user:
            smtp.login(server.user, server.password)
        smtp.send_message(message)


# ---- data exports -----------------------------------------------------------------


CODE_SUFFIX = ".code"  # one-time codes' emails in the outbox
EXPORT_SUFFIX = ".eml"  # data exports' emails in the outbox
INVOICE_SUFFIX = ".invoice"  # invoices' emails (with the PDF attached) in the outbox


def outbox_prefix(email: str) -> str:
    """Development outbox files are named by a hash of the address, so erasure can find and remove them."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:16]


def write_to_outbox(outbox: Path, email: str, message: EmailMessage, suffix: str) -> Path:
    """Writes `message` to `<outbox>/<outbox_prefix(email)>-<time><suffix>`, readable by its owner only."""
    outbox.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = outbox / f"{outbox_prefix(email)}-{time.time_ns()}{suffix}"
    path.touch(mode=0o600)
    path.chmod(0o600)  # whatever the umask
    path.write_bytes(bytes(message))
    return path


def outbox_code(outbox: Path, email: str) -> str | None:
    """The one-time code in the newest development code email to `email` in the outbox, if any."""
    paths = sorted(outbox.glob(f"{outbox_prefix(email)}-*{CODE_SUFFIX}")) if outbox.exists() else []
    if not paths:
        return None
    subject = str(email_parser.BytesParser().parsebytes(paths[-1].read_bytes())["Subject"])
    return subject.rsplit(" ", 1)[-1]


def export_message(email: str, first_name: str, payload: bytes, sender: str | None = None) -> EmailMessage:
    message = EmailMessage()
    message["To"] = email
    message["From"] = sender or EXPORTS_FROM
    message["Subject"] = "Your Juniper Home data"
    message.set_content(
        f"Hello {first_name},\n\nAs you asked, attached is a copy of everything Juniper Home holds about you: "
        "your profile, consents, preferences, orders, tickets, feedback and conversations, as JSON.\n"
    )
    message.add_attachment(payload, maintype="application", subtype="json", filename="juniper-home-data.json")
    return message


def invoice_message(
    email: str, first_name: str, order_number: str, pdf: bytes, sender: str | None = None
) -> EmailMessage:
    message = EmailMessage()
    message["To"] = email
    message["From"] = sender or CODES_FROM
    message["Subject"] = f"Your Juniper Home invoice for order {order_number}"
    message.set_content(
        f"Hello {first_name},\n\nAs you asked, attached is the VAT invoice for your order {order_number}.\n\n"
        "Juniper Home\n"
    )
    message.add_attachment(pdf, maintype="application", subtype="pdf", filename=f"invoice-{order_number}.pdf")
    return message


class ExportMail:
    """Emails a customer's data export or an invoice to their address on file, or, with no mail server
    (development), writes the email to the outbox folder, from which erasure removes it again."""

    def __init__(self, smtp: SmtpServer, outbox: Path) -> None:
        self.smtp = smtp
        self.outbox = outbox

    def deliver(self, email: str, first_name: str, bundle: dict[str, Any]) -> int:
        """Returns the attachment's size in bytes; raises OSError when it fails."""
        payload = json.dumps(bundle, indent=2, ensure_ascii=False).encode()
        message = export_message(email, first_name, payload, self.smtp.sender)
        size = len(payload)
        if self.smtp.host:
            smtp_send(message, self.smtp)
            log.info("data export emailed to %s (%d bytes)", mask_email(email), size)
            return size
        path = write_to_outbox(self.outbox, email, message, EXPORT_SUFFIX)
        log.warning("data export for %s written to %s (development delivery, not emailed)", mask_email(email), path)
        return size

    def deliver_invoice(self, email: str, first_name: str, order_number: str, pdf: bytes) -> int:
        """Returns the PDF's size in bytes; raises OSError when it fails."""
        message = invoice_message(email, first_name, order_number, pdf, self.smtp.sender)
        if self.smtp.host:
            smtp_send(message, self.smtp)
            log.info("invoice for %s emailed to %s", order_number, mask_email(email))
            return len(pdf)
        path = write_to_outbox(self.outbox, email, message, INVOICE_SUFFIX)
        log.warning("invoice for %s written to %s (development delivery, not emailed)", mask_email(email), path)
        return len(pdf)

    def remove(self, email: str) -> int:
        """Deletes development outbox emails to this address, data exports and one-time codes (part of erasure)."""
        removed = 0
        for path in self.outbox.glob(f"{outbox_prefix(email)}-*") if self.outbox.exists() else ():
            path.unlink(missing_ok=True)
            removed += 1
        return removed
