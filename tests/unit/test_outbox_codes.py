"""Development delivery of one-time codes (crm_adapter/notify.py): the code goes to a file in the data folder's
outbox that only its owner can read, never to the log, and erasure removes it with the address's exports."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import pytest

from crm_adapter.notify import CODE_SUFFIX, ExportMail, OutboxCodeSender, outbox_code, outbox_prefix
from hearth.container import Container
from hearth.settings import Settings, Smtp

pytestmark = pytest.mark.unit


def test_the_code_goes_to_an_owner_only_file_and_not_to_the_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    outbox = tmp_path / "outbox"
    with caplog.at_level(logging.INFO, logger="hearth.codes"):
        OutboxCodeSender(outbox).send_code("Anna.Berg@example.com", "Anna", "482913")
    [path] = outbox.iterdir()
    assert path.name.startswith(outbox_prefix("anna.berg@example.com") + "-") and path.suffix == CODE_SUFFIX
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(outbox.stat().st_mode) == 0o700
    assert "482913" in path.read_text() and "Hello Anna" in path.read_text()
    assert outbox_code(outbox, "anna.berg@example.com") == "482913"
    assert "482913" not in caplog.text and "anna.berg" not in caplog.text.lower()
    assert f"one-time code for A***@example.com written to {path}" in caplog.text


def test_the_newest_code_is_read_back_per_address(tmp_path: Path) -> None:
    sender = OutboxCodeSender(tmp_path)
    sender.send_code("anna@example.com", "Anna", "111111")
    sender.send_code("kai@example.com", "Kai", "222222")
    sender.send_code("anna@example.com", "Anna", "333333")
    assert outbox_code(tmp_path, "anna@example.com") == "333333"
    assert outbox_code(tmp_path, "kai@example.com") == "222222"
    assert outbox_code(tmp_path, "nobody@example.com") is None
    assert outbox_code(tmp_path / "missing", "anna@example.com") is None


def test_erasure_removes_the_addresss_codes_with_its_exports(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    mail = ExportMail(Smtp(host=None), outbox)
    OutboxCodeSender(outbox).send_code("greta@example.com", "Greta", "123456")
    OutboxCodeSender(outbox).send_code("kai@example.com", "Kai", "654321")
    mail.deliver("greta@example.com", "Greta", {"profile": {}})
    assert mail.remove("greta@example.com") == 2
    assert outbox_code(outbox, "greta@example.com") is None
    assert [p.name for p in outbox.iterdir()] == [p.name for p in outbox.glob(f"{outbox_prefix('kai@example.com')}-*")]
    assert outbox_code(outbox, "kai@example.com") == "654321"


def test_without_a_mail_server_the_container_sends_codes_to_the_settings_outbox(tmp_path: Path) -> None:
    settings = Settings.from_env({"HEARTH_DATA_DIR": str(tmp_path)})
    sender = Container(settings).code_sender
    assert isinstance(sender, OutboxCodeSender) and sender.outbox == settings.outbox == tmp_path / "outbox"
