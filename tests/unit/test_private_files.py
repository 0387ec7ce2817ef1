"""The data folder and its SQLite databases are their owner's only, like the secrets in it: the folder 0700, the
database files 0600, whatever the umask of the process that made them."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from crm_adapter.sql.db import make_engine
from hearth import processes
from hearth.environment import environment

pytestmark = pytest.mark.unit


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The usual umask, under which files are world-readable unless made otherwise."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def test_the_run_commands_environment_makes_the_data_folder_private(tmp_path: Path, open_umask: None) -> None:
    data_dir = tmp_path / "var"
    env = environment({"PATH": os.environ.get("PATH", ""), "HEARTH_DATA_DIR": str(data_dir)})
    assert mode(data_dir) == 0o700
    assert mode(data_dir / "action_server_token") == 0o600 and env["ACTION_SERVER_TOKEN"]


def test_an_existing_data_folder_and_its_databases_are_made_private(tmp_path: Path, open_umask: None) -> None:
    data_dir = tmp_path / "var"
    data_dir.mkdir(mode=0o755)
    for name in ("crm.db", "tracker.db", "tracker.db-wal"):
        (data_dir / name).write_bytes(b"")
        (data_dir / name).chmod(0o644)
    environment({"PATH": os.environ.get("PATH", ""), "HEARTH_DATA_DIR": str(data_dir)})
    assert mode(data_dir) == 0o700
    assert {name: mode(data_dir / name) for name in ("crm.db", "tracker.db", "tracker.db-wal")} == dict.fromkeys(
        ("crm.db", "tracker.db", "tracker.db-wal"), 0o600
    )


def test_a_new_sqlite_database_and_its_wal_files_are_owner_only(tmp_path: Path, open_umask: None) -> None:
    path = tmp_path / "data" / "crm.db"
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
        conn.execute(text("INSERT INTO t VALUES (1)"))
        files = sorted(p.name for p in path.parent.iterdir())
        assert files == ["crm.db", "crm.db-shm", "crm.db-wal"]
        assert {name: mode(path.parent / name) for name in files} == dict.fromkeys(files, 0o600)
    engine.dispose()


def test_an_existing_world_readable_database_is_made_owner_only(tmp_path: Path, open_umask: None) -> None:
    path = tmp_path / "crm.db"
    path.write_bytes(b"")
    path.chmod(0o644)
    make_engine(f"sqlite:///{path}").dispose()
    assert mode(path) == 0o600


def test_the_run_command_starts_its_processes_with_a_private_umask(
    monkeypatch: pytest.MonkeyPatch, open_umask: None
) -> None:
    seen: list[int] = []

    def prepare_crm(env: dict[str, str]) -> None:
        current = os.umask(0o022)
        os.umask(current)
        seen.append(current)
        raise SystemExit("stop before training")

    monkeypatch.setattr(processes, "prepare_crm", prepare_crm)
    with pytest.raises(SystemExit):
        processes.run({})
    assert seen == [0o077]
