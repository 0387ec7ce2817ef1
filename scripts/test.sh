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
# Browser tests drive Debian's chromium headless through Playwright; the production-mode tests put Debian's
# nginx in front of two Rasa servers. Install what is missing once (as root, with apt).
missing=""
[ -n "${CHROMIUM_PATH:-}" ] || command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing="$missing nginx"
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "==> installing Debian's$missing for the browser and production-mode tests"
    export DEBIAN_FRONTEND=noninteractive
    # shellcheck disable=SC2086 # one word per package
    apt-get install -y -q $missing >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q $missing >/dev/null; }
  else
    echo "note: missing$missing; browser and production-mode tests will be skipped (and fail in CI)." >&2
  fi
fi
exec .venvs/app/bin/python -m pytest "$@"
