"""shared/blas.py: the serving processes run NumPy's OpenBLAS on one thread (its idle workers spin)."""

from __future__ import annotations

import os
import sys
import types

import pytest

from shared import blas

pytestmark = pytest.mark.unit


def test_one_thread_unless_the_operator_said_otherwise():
    environ: dict[str, str] = {}
    blas.one_thread(environ)
    assert environ == {"OPENBLAS_NUM_THREADS": "1"}
    environ = {"OPENBLAS_NUM_THREADS": "4"}
    blas.one_thread(environ)
    assert environ == {"OPENBLAS_NUM_THREADS": "4"}


def test_the_rasa_server_sets_it_before_rasa_starts(monkeypatch: pytest.MonkeyPatch):
    from bot import run_rasa

    seen: dict[str, str | None] = {}
    fake_rasa_main = types.ModuleType("rasa.__main__")
    fake_rasa_main.main = lambda: seen.update(threads=os.environ.get("OPENBLAS_NUM_THREADS"))  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "rasa.__main__", fake_rasa_main)
    monkeypatch.setitem(sys.modules, "bot.rasa_patches", types.ModuleType("bot.rasa_patches"))
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    monkeypatch.setattr(sys, "argv", ["run_rasa", "run"])
    run_rasa.main()
    assert seen == {"threads": "1"}


def test_the_action_server_sets_it_before_the_actions_load(monkeypatch: pytest.MonkeyPatch):
    from actions import serve

    seen: dict[str, str | None] = {}
    monkeypatch.setenv("ACTION_SERVER_TOKEN", "t" * 40)
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    monkeypatch.setattr(serve, "warm_up", lambda: None)
    registered: list[object] = []  # not the process's plugin manager: other tests build action servers
    monkeypatch.setattr("rasa_sdk.plugin.plugin_manager", lambda: types.SimpleNamespace(register=registered.append))
    monkeypatch.setattr(
        "rasa_sdk.__main__.main_from_args", lambda args: seen.update(threads=os.environ.get("OPENBLAS_NUM_THREADS"))
    )
    serve.main(["--actions", "actions"])
    assert seen == {"threads": "1"}
