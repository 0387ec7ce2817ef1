"""Emails and phone numbers never reach a log in full: in a real process of each virtualenv, through real handlers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from hearth.environment import environment
from tests.rasa_env import RASA_PY, ROOT, run

pytestmark = pytest.mark.integration

EMAIL, PHONE = "anna.berg@example.com", "+44 7700 900123"

PROGRAM = textwrap.dedent(
    f"""
    import logging
    import threading
    from shared import log_redaction

    log_redaction.install()
    log_redaction.install()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    log = logging.getLogger("hearth.test")
    log.info("customer %s called from %s", {EMAIL!r}, {PHONE!r})
    try:
        raise LookupError("no customer with the email {EMAIL} or the number {PHONE}")
    except LookupError:
        log.exception("lookup failed")

    def fail():
        raise KeyError("{PHONE}")

    thread = threading.Thread(target=fail, name="worker")
    thread.start()
    thread.join()
    raise RuntimeError("giving up on {EMAIL}")  # uncaught: Python's own report, not a log record
    """
)


def test_an_installed_process_logs_no_email_or_phone_number_in_full() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROGRAM], cwd=ROOT, capture_output=True, text=True, timeout=60, env={"PYTHONPATH": "."}
    )
    stderr = result.stderr
    assert result.returncode == 1 and stderr.count("Traceback (most recent call last)") == 3, stderr
    assert "INFO hearth.test: customer a***@example.com called from +** **** ****23" in stderr
    assert "LookupError: no customer with the email a***@example.com or the number +** **** ****23" in stderr
    assert "Exception in thread worker:" in stderr and "KeyError: '+** **** ****23'" in stderr
    assert "RuntimeError: giving up on a***@example.com" in stderr
    assert EMAIL not in stderr and "7700 900123" not in stderr and "anna.berg" not in stderr, stderr


def test_rasa_structlog_lines_are_redacted_once_bot_channels_is_imported() -> None:
    result = run([str(RASA_PY), "tests/rasa_side/check_log_redaction.py"], timeout=300)
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), (
        result.stdout[-2000:] + result.stderr[-4000:]
    )


FACTORIES = textwrap.dedent(
    """
    import importlib, json, logging
    from shared import log_redaction
    from worker import runner
    from hearth.container import container

    default, installed = logging.getLogRecordFactory(), {}
    for name in ("website.app", "console.app", "crm_api.app"):
        logging.setLogRecordFactory(default)
        importlib.import_module(name).app_from_env()
        installed[name] = log_redaction.installed()
    logging.setLogRecordFactory(default)
    try:
        runner.main(container(), once=True)  # no CRM schema here: fails after installing
    except Exception:
        pass
    installed["history ingestion"] = log_redaction.installed()
    print(json.dumps(installed))
    """
)


def test_every_process_of_the_app_environment_installs_it(tmp_path: Path) -> None:
    """The uvicorn factories of the website, console and CRM API, and history ingestion (the action server's is
    checked on the real server in test_action_server_token.py)."""
    env = environment({"PATH": os.environ["PATH"], "HEARTH_DATA_DIR": str(tmp_path), "CRM_API_TOKEN": "t" * 32})
    result = subprocess.run(
        [sys.executable, "-c", FACTORIES], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {
        "website.app": True,
        "console.app": True,
        "crm_api.app": True,
        "history ingestion": True,
    }
