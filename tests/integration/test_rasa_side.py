"""Code that runs inside the Rasa server (bot/tracker_store.py, bot/rasa_patches.py, bot/nlu/),
checked in Rasa's virtualenv."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.rasa_env import RASA_PY, run
from tests.services import temporary_postgres_database

pytestmark = pytest.mark.integration


def check(url: str) -> None:
    result = run([str(RASA_PY), "tests/rasa_side/check_tracker_store.py", url], timeout=300)
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), (
        result.stdout[-2000:] + result.stderr[-4000:]
    )


def test_windowed_tracker_store_on_sqlite(tmp_path: Path) -> None:
    check(f"sqlite:///{tmp_path / 'tracker.db'}")


def test_windowed_tracker_store_on_postgresql() -> None:
    with temporary_postgres_database() as url:  # its own database: Rasa's table is not the CRM's
        check(url.replace("+psycopg2", ""))


def test_sentence_encoder_matches_the_reference_and_refuses_tampered_weights() -> None:
    result = run([str(RASA_PY), "tests/rasa_side/check_sentence_encoder.py"], timeout=300)
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), (
        result.stdout[-2000:] + result.stderr[-4000:]
    )


def test_linear_intent_and_response_models_are_scikit_learns_and_survive_saving() -> None:
    result = run([str(RASA_PY), "tests/rasa_side/check_linear_models.py"], timeout=300)
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), (
        result.stdout[-2000:] + result.stderr[-4000:]
    )


def test_keyboard_mash_falls_back_while_typos_of_taught_words_do_not() -> None:
    result = run([str(RASA_PY), "tests/rasa_side/check_unknown_words.py"], timeout=300)
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), (
        result.stdout[-2000:] + result.stderr[-4000:]
    )


def test_rasas_http_api_takes_only_an_hs256_jwt_signed_with_the_key() -> None:
    """bot/run_rasa.py starts Rasa with the key as its JWT secret (not --auth-token, whose key goes in URLs);
    bot/rasa_patches.py answers alg none, another algorithm, a token without an expiry and PyJWT's other refusals
    with 401, where Rasa 3.6 and sanic-jwt answered 500 or let a token that never expires in."""
    result = run([str(RASA_PY), "tests/rasa_side/check_api_auth.py"], timeout=300)
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), (
        result.stdout[-2000:] + result.stderr[-4000:]
    )


def test_the_configured_lock_store_serialises_a_conversation_across_processes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """bot/lock_store.py, built by Rasa from the section `python -m hearth` writes for REDIS_URL."""
    from hearth.rasa_config import lock_store_section
    from tests.services import redis_url

    env = {"REDIS_URL": redis_url()}
    (tmp_path / "endpoints.yml").write_text(lock_store_section(env))
    for name in ("REDIS_HOST", "REDIS_PORT"):  # what the section names, as the run command sets them
        monkeypatch.setenv(name, env[name])
    result = run([str(RASA_PY), "tests/rasa_side/check_lock_store.py", str(tmp_path / "endpoints.yml")], timeout=300)
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), (
        result.stdout[-2000:] + result.stderr[-4000:]
    )
    assert "atomic store: 0 increments lost, 0/10 rounds with duplicate tickets" in result.stdout
