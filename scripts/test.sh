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
# Browser tests drive Debian's chromium headless through Playwright; install it once (as root, with apt).
if [ -z "${CHROMIUM_PATH:-}" ] && ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "==> installing Debian's chromium for the browser tests"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q chromium >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }
  else
    echo "note: no chromium; browser tests will be skipped (and fail in CI). Install Debian's chromium package." >&2
  fi
fi
exec .venvs/app/bin/python -m pytest "$@"
