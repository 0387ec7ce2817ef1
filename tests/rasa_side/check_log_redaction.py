"""Run in Rasa's virtualenv: once bot.channels is imported (as `rasa run` does when it loads the connectors), Rasa's
own log lines carry no email address or phone number in full, its structlog lines included.

Rasa configures structlog with `structlog.stdlib.LoggerFactory` (rasa/utils/log_utils.py), so a structlog line is
rendered to a string and handed to a stdlib logger, where it becomes an ordinary log record. Prints "ok".
"""

from __future__ import annotations

import io
import logging
import sys

EMAIL, PHONE = "anna.berg@example.com", "+44 7700 900123"


def main() -> None:
    captured = io.StringIO()
    real_stdout, sys.stdout = sys.stdout, captured  # configure_structlog's handler writes to sys.stdout
    try:
        import structlog
        from rasa.utils.log_utils import configure_structlog

        configure_structlog(logging.DEBUG)  # what `rasa run --debug` does before loading anything of ours
        import bot.channels  # noqa: F401 - installs the redaction, as the connectors' import does in `rasa run`

        structlogger = structlog.get_logger("rasa.core.processor")
        # the same call as rasa/core/processor.py's parse_message
        structlogger.debug(
            "processor.message.parse",
            parse_data_text=f"my email is {EMAIL} and my number {PHONE}",
            parse_data_intent={"name": "inform", "confidence": 0.98},
            parse_data_entities=[{"entity": "email", "value": EMAIL}, {"entity": "phone", "value": PHONE}],
        )
        try:
            raise ValueError(f"no customer with the email {EMAIL}")
        except ValueError:
            structlogger.exception("action.failed")
        logging.getLogger("rasa.core.processor").debug(f"Received user message '{EMAIL}' from {PHONE}")
    finally:
        sys.stdout = real_stdout
    output = captured.getvalue()
    assert "processor.message.parse" in output and "action.failed" in output and "Received user" in output, output
    assert EMAIL not in output and "7700 900123" not in output and "7700900123" not in output, output
    assert output.count("a***@example.com") >= 4 and "+** **** ****23" in output, output
    print("ok")


if __name__ == "__main__":
    main()
