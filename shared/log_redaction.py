"""Email addresses and phone numbers never reach a log in full.

`redact(text)` masks them (``anna.berg@example.com`` -> ``a***@example.com``, ``+44 7700 900123`` ->
``+** **** ****23``); `install()` makes every log record the process creates from then on pass through it: the
message (after %-formatting with its arguments) and the exception's traceback text, and Python's own report of
an exception nobody caught. Every Hearth process installs it at start: the Rasa server (on importing
`bot.channels` or `bot.tracker_store`), the action server (`actions/serve.py`), history ingestion, the console,
the website and the CRM API.

Rasa's structlog lines (``processor.message.parse ... parse_data_text=...``) are covered too: Rasa configures
structlog with `structlog.stdlib.LoggerFactory`, so each rendered line is handed to a stdlib logger as its
message and becomes an ordinary log record.

Standard library only, so the Rasa server (Rasa environment) and everything else (app environment) share
this one file.

Not covered: text written without the `logging` module (print, a library writing to stderr itself), an
uncaught exception when something else has replaced `sys.excepthook`, and fields a caller attaches with
``extra=`` (Sanic's access log puts the request line there; Rasa and the action
server leave that log off unless LOG_LEVEL_LIBRARIES says otherwise). Handlers that render the exception object
themselves instead of the record's text (Sentry, rich) see it unredacted.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
import traceback
from collections.abc import Callable
from types import TracebackType
from typing import Any

# Starts only where a run of address characters starts (a long run without "@" costs one pass, not one per
# character); no quotes in the local part, so a quoted 'a@b.com' in a repr keeps its closing quote. "%40" is
# "@" in a URL's query string.
_EMAIL = re.compile(r"(?<![\w.%+-])(?P<local>[\w.%+-]+)(?P<at>@|%40)(?P<domain>(?:[\w-]+\.)+[A-Za-z]{2,})(?![^\W_]|-)")

# A run of digit groups, each joined to the next by one space or dash or by parentheses, with an optional
# leading "+" ("%2B" in a query string); never the middle of a word or id (JH100001), a decimal fraction or a
# UUID's last part (an underscore counts as a separator: sender_+447700900123). Every join is a non-digit, so
# a run splits into groups one way only (no backtracking blow-up on long digit strings). `_mask_digit_run`
# then looks for a phone number among its groups.
_DIGIT_RUN = re.compile(
    r"(?<![^\W_]|[+.\-])"  # not after a letter, digit, "+", "." or "-"
    r"(?P<plus>\+|%2[Bb])?\(?\d+\)?"  # the first group
    r"(?:(?:[ \-]\(?|\(|(?<=\)))\d+\)?)*"  # the others
    r"(?![^\W_]|[.,]\d)"  # not before a letter, digit or decimal part
)
_GROUP = re.compile(r"\d+")
MAX_DIGITS = 15  # E.164


def mask_email(email: str) -> str:
    """``anna.berg@example.com`` -> ``a***@example.com``: recognisable to whoever knows the address, to nobody else."""
    local, _, domain = email.partition("@")
    return (local[:1] + "***@" + domain) if domain else "***"


def mask_phone(number: str) -> str:
    """Every digit but the last two becomes ``*``; the ``+``, spaces, dashes and parentheses stay."""
    digits = sum(c.isdigit() for c in number)
    out, seen = [], 0
    for c in number:
        if c.isdigit():
            seen += 1
            out.append(c if seen > digits - 2 else "*")
        else:
            out.append(c)
    return "".join(out)


def _is_phone(groups: list[str], plus: bool) -> bool:
    """International (+44 ..., 0044 ...), national with a trunk 0 (UK: 07700 900123, (020) 7946 0958) or North
    American (555-123-4567) numbers of 7 to 15 digits. Not: other digit runs without a leading + or 0 (counts,
    ids, timestamps, dates, ranges like 1000-2000), runs of single digits (lists of small numbers)."""
    digits = "".join(groups)
    if not 7 <= len(digits) <= MAX_DIGITS or sum(len(g) == 1 for g in groups) > 2:
        return False
    if plus:
        return True
    if digits.startswith("00"):
        return len(digits) >= 9
    if digits.startswith("0"):
        return 10 <= len(digits) <= 11
    # otherwise only the North American shape: (555) 123-4567, 555-123-4567, 1 555 123 4567
    return [len(g) for g in groups] in ([3, 3, 4], [1, 3, 3, 4])


def _mask_digit_run(match: re.Match[str]) -> str:
    """Mask the phone numbers in a run of digit groups: from each group on, the longest stretch of groups that is
    one (so in "2 07700 900123" the number is masked and the 2 kept)."""
    run = match.group(0)
    plus = match.group("plus") or ""
    groups = [(g.start(), g.end()) for g in _GROUP.finditer(run, len(plus))]
    out, done, i = [], 0, 0
    while i < len(groups):
        last = _longest_phone(run, groups, i, plus=i == 0 and bool(plus))
        if last is None:
            i += 1
            continue
        start, end = groups[i][0], groups[last][1]
        out += [run[done:start], mask_phone(run[start:end])]
        done, i = end, last + 1
    return "".join(out) + run[done:]


def _longest_phone(run: str, groups: list[tuple[int, int]], first: int, plus: bool) -> int | None:
    """The last group of the longest phone number starting at group `first`, if one does."""
    texts: list[str] = []
    digits = singles = 0
    for k in range(first, min(len(groups), first + MAX_DIGITS)):
        start, end = groups[k]
        digits += end - start
        singles += end - start == 1
        if digits > MAX_DIGITS or singles > 2:
            break
        texts.append(run[start:end])
    for count in range(len(texts), 0, -1):
        if _is_phone(texts[:count], plus):
            return first + count - 1
    return None


# The token of an emailed single-use link in a URL's query string (the website's /reset?token=... in an access
# log line): masked whole.
_LINK_TOKEN = re.compile(r"(?<=[?&]token=)[A-Za-z0-9_\-]{8,}")


def redact(text: str) -> str:
    """`text` with every email address, phone number and link token masked; anything else unchanged. Idempotent."""
    if "token=" in text:
        text = _LINK_TOKEN.sub("***", text)
    if "@" in text or "%40" in text:
        text = _EMAIL.sub(lambda m: mask_email(f"{m['local']}@{m['domain']}").replace("@", m["at"]), text)
    return _DIGIT_RUN.sub(_mask_digit_run, text)


# --- logging ---------------------------------------------------------------------------------------------------

_MARK = "_hearth_redacts_logs"
_traceback_formatter = logging.Formatter()


def _redact_record(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - arguments that don't fit the format: logging would print both in full
        message = f"{record.msg} (log arguments that do not fit the message: {record.args!r})"
        record.msg, record.args = redact(message), None
    else:
        clean = redact(message)
        if clean != message:
            _replace_message(record, clean)
    if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
        # formatters use exc_text when it is set, instead of formatting exc_info themselves
        record.exc_text = redact(_traceback_formatter.formatException(record.exc_info))
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


def _replace_message(record: logging.LogRecord, clean: str) -> None:
    """Keep the message template and its arguments when masking the string arguments is enough (uvicorn's
    access log formatter unpacks `record.args`); otherwise the redacted formatted message, without arguments."""
    args = record.args
    if isinstance(record.msg, str) and isinstance(args, tuple) and args:
        msg = redact(record.msg)
        masked = tuple(redact(a) if isinstance(a, str) else a for a in args)
        try:
            if msg % masked == clean:
                record.msg, record.args = msg, masked
                return
        except Exception:  # noqa: BLE001 - fall back to the formatted message
            pass
    record.msg, record.args = clean, None


def _wrap(factory: Callable[..., logging.LogRecord]) -> Callable[..., logging.LogRecord]:
    def redacting_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        _redact_record(record)
        return record

    setattr(redacting_factory, _MARK, True)
    redacting_factory.__wrapped__ = factory  # type: ignore[attr-defined]
    return redacting_factory


def installed() -> bool:
    factory: object = logging.getLogRecordFactory()
    while factory is not None:
        if getattr(factory, _MARK, False):
            return True
        factory = getattr(factory, "__wrapped__", None)
    return False


def _print_exception(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    """sys.excepthook: Python's own report of an uncaught exception, redacted."""
    sys.stderr.write(redact("".join(traceback.format_exception(exc_type, exc, tb))))


def _print_thread_exception(args: threading.ExceptHookArgs) -> None:
    """threading.excepthook: the same for an exception that ends a thread."""
    if args.exc_type is SystemExit:
        return
    name = args.thread.name if args.thread else threading.get_ident()
    lines = traceback.format_exception(args.exc_type, args.exc_value, args.exc_traceback)
    sys.stderr.write(redact(f"Exception in thread {name}:\n" + "".join(lines)))


def install() -> None:
    """Redact every log record created in this process from now on, and Python's report of an exception nobody
    caught (unless something else has already replaced that hook). Installing again changes nothing."""
    if not installed():
        logging.setLogRecordFactory(_wrap(logging.getLogRecordFactory()))
    if sys.excepthook is sys.__excepthook__:
        sys.excepthook = _print_exception
    if threading.excepthook is threading.__excepthook__:
        threading.excepthook = _print_thread_exception
