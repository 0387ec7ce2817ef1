"""Delivery of security notices (the email on file changed; someone tried to use an address that is on file) the
way one-time codes go (CODE_SENDER): by email through the SMTP server, or in development to the data folder's
outbox, named like the codes and exports so erasure removes them too (crm_adapter/notify.py)."""

from __future__ import annotations

import logging
from email.message import EmailMessage
from pathlib import Path

from crm_adapter.domain import CrmUnavailable
from crm_adapter.notify import CODES_FROM, SmtpServer, mask_email, smtp_send, write_to_outbox

log = logging.getLogger("hearth.codes")

NOTICE_SUFFIX = ".notice"  # security notices' emails in the outbox


def notice_message(email: str, first_name: str, subject: str, body: str, sender: str | None = None) -> EmailMessage:
    message = EmailMessage()
    message["To"] = email
    message["From"] = sender or CODES_FROM
    message["Subject"] = subject
    message.set_content(f"Hello {first_name},\n\n{body}\n")
    return message


class OutboxNotices:
    """Development delivery: writes the notice's email to the outbox folder instead of sending it."""

    def __init__(self, outbox: Path) -> None:
        self.outbox = outbox

    def send_notice(self, email: str, first_name: str, subject: str, body: str) -> None:
        path = write_to_outbox(self.outbox, email, notice_message(email, first_name, subject, body), NOTICE_SUFFIX)
        log.warning("notice for %s written to %s (development delivery, not emailed)", mask_email(email), path)


class SmtpNotices:
    """Emails the notice through the SMTP server."""

    def __init__(self, smtp: SmtpServer) -> None:
        self.smtp = smtp

    def send_notice(self, email: str, first_name: str, subject: str, body: str) -> None:
        try:
            smtp_send(notice_message(email, first_name, subject, body, self.smtp.sender), self.smtp)
        except OSError as exc:
            raise CrmUnavailable(f"could not email the notice: {exc}") from exc
        log.info("notice emailed to %s", mask_email(email))
