#!/usr/bin/env bash
# Lint (ruff), types (mypy on crm_adapter), then every test: unit, integration (SQLite; PostgreSQL when reachable, required in CI),
# conversation (rasa data validate, rasa test, NLU holdout) and end-to-end (real servers).
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -m unit`.
set -euo pipefail
cd "$(dirname "$0")/.."
export RASA_TELEMETRY_ENABLED=false SQLALCHEMY_SILENCE_UBER_WARNING=1 TF_CPP_MIN_LOG_LEVEL=2
.venvs/app/bin/ruff check .
.venvs/app/bin/ruff format --check . >/dev/null || { .venvs/app/bin/ruff format --check .; exit 1; }
.venvs/app/bin/mypy
.venvs/app/bin/python scripts/hearth.py train
exec .venvs/app/bin/python -m pytest "$@"
