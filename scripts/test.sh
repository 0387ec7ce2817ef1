#!/usr/bin/env bash
# The tests, whole or one tier at a time:
#   bash scripts/test.sh [PYTEST ARGS]        lint (ruff), types (mypy), then every test: unit, integration (SQLite;
#                                             PostgreSQL when reachable, required in CI), conversation (rasa data
#                                             validate, rasa test, NLU holdout), end-to-end, browser and fuzz
#   bash scripts/test.sh TIER [PYTEST ARGS]   one tier (unit, integration, conversation, e2e, browser, fuzz): its
#                                             tests only, after what that tier needs and nothing else
# What a tier needs: conversation, e2e, browser and fuzz load the trained model (trained here, once per data and
# config); browser and fuzz drive Debian's chromium; e2e puts Debian's nginx in front of two Rasa servers.
# unit and integration train and install nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
export RASA_TELEMETRY_ENABLED=false SQLALCHEMY_SILENCE_UBER_WARNING=1 TF_CPP_MIN_LOG_LEVEL=2

# Install what is missing of Debian's $* once (as root, with apt).
install_missing() {
  local missing="" tool
  for tool in "$@"; do
    case "$tool" in
      chromium) [ -n "${CHROMIUM_PATH:-}" ] || command -v chromium >/dev/null 2>&1 || missing="$missing chromium" ;;
      nginx) command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing="$missing nginx" ;;
    esac
  done
  [ -n "$missing" ] || return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "==> installing Debian's$missing for the browser and production-mode tests"
    export DEBIAN_FRONTEND=noninteractive
    # shellcheck disable=SC2086 # one word per package
    apt-get install -y -q $missing >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q $missing >/dev/null; }
  else
    echo "note: missing$missing; browser and production-mode tests will be skipped (and fail in CI)." >&2
  fi
}

train() { .venvs/app/bin/python -m hearth train; }

tier="${1:-all}"
case "$tier" in
  unit | integration) shift ;;
  conversation) shift; train ;;
  e2e) shift; train; install_missing nginx ;;
  browser | fuzz) shift; train; install_missing chromium ;;
  *)
    tier=all
    .venvs/app/bin/ruff check .
    .venvs/app/bin/ruff format --check . >/dev/null || { .venvs/app/bin/ruff format --check .; exit 1; }
    .venvs/app/bin/mypy
    train
    install_missing chromium nginx
    ;;
esac
if [ "$tier" = all ]; then
  exec .venvs/app/bin/python -m pytest "$@"
fi
exec .venvs/app/bin/python -m pytest -m "$tier" "$@"
