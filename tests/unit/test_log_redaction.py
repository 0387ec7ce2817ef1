"""shared/log_redaction.py: which emails and phone numbers are masked, what is left alone, the record factory."""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterator

import pytest

from shared import log_redaction
from shared.log_redaction import mask_email, redact

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("customer anna.berg@example.com", "customer a***@example.com"),
        ("Anna.Berg+shop@mail.example.co.uk wrote", "A***@mail.example.co.uk wrote"),
        ("<omar_haddad77@example.org>", "<o***@example.org>"),
        ("{'text': 'my email is lucy.chen@example.com'}", "{'text': 'my email is l***@example.com'}"),
        ('"email": "lucy.chen@example.com"', '"email": "l***@example.com"'),
        ("GET /lookup?email=anna%40example.com HTTP/1.1", "GET /lookup?email=a***%40example.com HTTP/1.1"),
        ("x@example.com", "x***@example.com"),
        ("sender_anna@example.com_2", "s***@example.com_2"),
    ],
)
def test_emails_keep_the_first_character_and_the_domain(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_the_masking_of_the_one_time_code_log_line_is_the_same_function() -> None:
    from crm_adapter import notify

    assert notify.mask_email is mask_email
    assert mask_email("anna.berg@example.com") == "a***@example.com" == redact("anna.berg@example.com")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("+44 7700 900123", "+** **** ****23"),
        ("whatsapp:+447700900123", "whatsapp:+**********23"),
        ("call 07700 900123 please", "call ***** ****23 please"),
        ("07700900123", "*********23"),
        ("(020) 7946 0958", "(***) **** **58"),
        ("0161-496-0000", "****-***-**00"),
        ("+44 (0) 20 7946 0958", "+** (*) ** **** **58"),
        ("0044 7700 900123", "**** **** ****23"),
        ("+33 1 23 45 67 89", "+** * ** ** ** 89"),
        ("+1 (555) 123-4567", "+* (***) ***-**67"),
        ("555-123-4567", "***-***-**67"),
        ("(555) 123-4567.", "(***) ***-**67."),
        ("phone=07700900123&x=1", "phone=*********23&x=1"),
        ("From=%2B447700900123", "From=%2B**********23"),
        ("(see 07700 900123)", "(see ***** ****23)"),
        ("sender_+447700900123_2", "sender_+**********23_2"),
        ("2 07700 900123", "2 ***** ****23"),  # a quantity before the number stays
        ("07700 900123 07700 900124", "***** ****23 ***** ****24"),
    ],
)
def test_phone_numbers_keep_their_last_two_digits(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "order JH100001 for customer cus_0001",
        "2024-05-01 12:30:45,123 INFO started",
        "at 2024-05-01T12:30:45.123456+00:00",
        "on 01-05-2024 and 01/05/2024",
        "code 123456, 3 items, £1,234.50, 1,234,567 rows, 12345678 bytes",
        "ts 1714567890.123, chat id 123456789, ms 1714567890123",
        "127.0.0.1:5005 and port 5055",
        "uuid 550e8400-e29b-41d4-a716-446655440000",
        "confidence 0.012345678901 and 3.14159265358",
        "years 2023-2024, range 1000-2000, 555-1234",
        "features [0 0 1 0 1 1 0 1 0 1]",
        "sha 0a1b2c3d4e5f60718293a4b5c6d7e8f9",
        "timezone +00:00 and +01:00",
        "user@localhost is not an address with a domain",
    ],
)
def test_order_numbers_dates_times_ids_and_short_numbers_are_left_alone(text: str) -> None:
    assert redact(text) == text


@pytest.mark.parametrize("text", ["a***@example.com +** **** ****23", "customer anna@example.com on 07700 900123"])
def test_redacting_twice_changes_nothing_more(text: str) -> None:
    assert redact(redact(text)) == redact(text)


def test_long_lines_take_linear_time() -> None:
    import time

    started = time.perf_counter()
    for text in ("1" * 100_000 + "x", "1 " * 50_000 + "x", "a.b-" * 30_000 + "@", "07700 900123 " * 10_000):
        redact(text)
    assert time.perf_counter() - started < 5


@pytest.fixture
def redacting() -> Iterator[list[logging.LogRecord]]:
    """install() in this process for one test (the factory and hooks are put back afterwards); the records a
    handler saw."""
    original = logging.getLogRecordFactory(), sys.excepthook, threading.excepthook
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger = logging.getLogger("tests.redaction")
    handler = Keep()
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        log_redaction.install()
        yield records
    finally:
        logging.setLogRecordFactory(original[0])
        sys.excepthook, threading.excepthook = original[1:]
        logger.removeHandler(handler)


def test_installed_records_carry_the_redacted_message(redacting: list[logging.LogRecord]) -> None:
    logging.getLogger("tests.redaction").info("customer %s called from %s", "anna.berg@example.com", "+44 7700 900123")
    assert [r.getMessage() for r in redacting] == ["customer a***@example.com called from +** **** ****23"]


def test_arguments_that_only_together_form_a_number_are_redacted_in_the_formatted_message(
    redacting: list[logging.LogRecord],
) -> None:
    logging.getLogger("tests.redaction").info("call %s %s", "07700", "900123")
    [record] = redacting
    assert (record.msg, record.args) == ("call ***** ****23", None)


def test_a_template_keeps_its_arguments_when_masking_them_is_enough(redacting: list[logging.LogRecord]) -> None:
    """uvicorn's access log formatter unpacks record.args: it must stay a tuple."""
    logging.getLogger("tests.redaction").info(
        '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5", "GET", "/?e=a@b.com", "1.1", 200
    )
    [record] = redacting
    assert record.args == ("127.0.0.1:5", "GET", "/?e=a***@b.com", "1.1", 200)


def test_exception_text_is_redacted(redacting: list[logging.LogRecord]) -> None:
    try:
        raise ValueError("no customer anna.berg@example.com")
    except ValueError:
        logging.getLogger("tests.redaction").exception("lookup failed")
    [record] = redacting
    text = logging.Formatter().format(record)
    assert "anna.berg@example.com" not in text and "a***@example.com" in text and "ValueError" in text


def test_arguments_that_do_not_fit_the_message_are_still_redacted(redacting: list[logging.LogRecord]) -> None:
    logging.getLogger("tests.redaction").info("customer %s %s", "anna.berg@example.com")
    [record] = redacting
    assert "anna.berg" not in record.getMessage() and "a***@example.com" in record.getMessage()


def test_installing_twice_wraps_the_factory_once(redacting: list[logging.LogRecord]) -> None:
    factory = logging.getLogRecordFactory()
    log_redaction.install()
    assert logging.getLogRecordFactory() is factory and log_redaction.installed()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '"GET /reset?token=Zk3_q-9aB7cD0eF1gH2iJ3kL4mN5oP6qR7sT8uV9wX0 HTTP/1.1" 200',
            '"GET /reset?token=*** HTTP/1.1" 200',
        ),
        ("POST /register/confirm?x=1&token=abcdefgh12345678", "POST /register/confirm?x=1&token=***"),
        ("the token=short stays", "the token=short stays"),
    ],
)
def test_an_emailed_links_token_in_a_url_is_masked(text: str, expected: str) -> None:
    assert redact(text) == expected and redact(redact(text)) == expected
