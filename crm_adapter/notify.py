"""Delivery of one-time codes and of data exports: by email through SMTP_HOST, or in development to the log
(codes) and the data folder's outbox (exports)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import smtplib
import time
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from crm_adapter.domain import CrmUnavailable
from shared.log_redaction import mask_email  # the same masking as every log line's (a***@example.com)

log = logging.getLogger("hearth.codes")


class LogCodeSender:
    """Development delivery: writes the code to the log instead of emailing it."""

    def send_code(self, email: str, first_name: str, code: str) -> None:
        log.warning("one-time code for %s: %s (development delivery, not emailed)", mask_email(email), code)


class SmtpCodeSender:
    """Emails the code to the address on file, through the SMTP server in SMTP_HOST (see `smtp_send`)."""

    def send_code(self, email: str, first_name: str, code: str) -> None:
        message = EmailMessage()
        message["To"] = email
        message["From"] = os.environ.get("SMTP_FROM", "Juniper Home <help@juniper-home.example>")
        message["Subject"] = f"Your Juniper Home code: {code}"
        message.set_content(
            f"Hello {first_name},\n\nYour one-time code is {code}. Type it in the chat; it is valid for 10 minutes "
            "and works once.\n\nIf you didn't ask for it, ignore this email: nothing happens without the code.\n"
        )
        try:
            smtp_send(message)
        except OSError as exc:  # the customer hears that it can't be done now, and can ask again
            raise CrmUnavailable(f"could not email the one-time code: {exc}") from exc
        log.info("one-time code emailed to %s", mask_email(email))


def smtp_send(message: EmailMessage) -> None:
    """Send through SMTP_HOST:SMTP_PORT (STARTTLS when SMTP_STARTTLS, login when SMTP_USER); OSError on failure."""
    with smtplib.SMTP(os.environ["SMTP_HOST"], int(os.environ.get("SMTP_PORT", "25")), timeout=10) as smtp:
        if os.environ.get("SMTP_STARTTLS", "").lower() in ("1", "true", "yes"):
            smtp.starttls()
        if os.environ.get("SMTP_USER"):
            smtp.login(os.environ["SMTP_USER"], os.environ.get("SMTP_PASSWORD", ""))
        smtp.send_message(message)


# ---- data exports -----------------------------------------------------------------


def outbox_dir() -> Path:
    from crm_adapter.settings import Settings

    return Settings.from_env().data_dir / "outbox"


def outbox_prefix(email: str) -> str:
    """Development outbox files are named by a hash of the address, so erasure can find and remove them."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:16]


def export_message(email: str, first_name: str, payload: bytes) -> EmailMessage:
    message = EmailMessage()
    message["To"] = email
    message["From"] = os.environ.get("SMTP_FROM", "Juniper Home <privacy@juniper-home.example>")
    message["Subject"] = "Your Juniper Home data"
    message.set_content(
        f"Hello {first_name},\n\nAs you asked, attached is a copy of everything Juniper Home holds about you: "
        "your profile, consents, preferences, orders, tickets, feedback and conversations, as JSON.\n"
    )
    message.add_attachment(payload, maintype="application", subtype="json", filename="juniper-home-data.json")
    return message


def deliver_export(email: str, first_name: str, bundle: dict[str, Any]) -> int:
    """Emails the export to the customer's address on file (SMTP_HOST), or in development writes the email
    to the data folder's outbox. Returns the attachment's size in bytes; raises OSError when it fails."""
    payload = json.dumps(bundle, indent=2, ensure_ascii=False).encode()
    message = export_message(email, first_name, payload)
    size = len(payload)
    if os.environ.get("SMTP_HOST"):
        smtp_send(message)
        log.info("data export emailed to %s (%d bytes)", mask_email(email), size)
        return size
    folder = outbox_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{outbox_prefix(email)}-{time.time_ns()}.eml"
    path.write_bytes(bytes(message))
    path.chmod(0o600)
    log.warning("data export for %s written to %s (development delivery, not emailed)", mask_email(email), path)
    return size


def remove_outbox(email: str) -> int:
    """Deletes development outbox emails to this address (part of erasure)."""
    folder = outbox_dir()
    removed = 0
    for path in folder.glob(f"{outbox_prefix(email)}-*.eml") if folder.exists() else ():
        path.unlink(missing_ok=True)
        removed += 1
    return removed
