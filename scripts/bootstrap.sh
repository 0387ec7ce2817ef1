#!/usr/bin/env bash
# Creates (or refreshes) the two virtualenvs from the pinned locks. Idempotent: a venv is
# rebuilt only when its lock file changed, so a second run takes about a second.
#   .venvs/rasa  Rasa server       (requirements/rasa.txt)
#   .venvs/app   action server, CRM, CRM API, website, tests (requirements/app.txt)
#   website/node_modules  the web chat widget (website/package-lock.json)
set -euo pipefail
cd "$(dirname "$0")/.."
VENVS="${HEARTH_VENVS:-.venvs}"

find_python310() {
  if [ -n "${PYTHON310:-}" ]; then echo "$PYTHON310"; return; fi
  for candidate in python3.10 "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.10*/bin/python3.10; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys, venv; assert sys.version_info[:2] == (3, 10)' 2>/dev/null; then
      command -v "$candidate"; return
    fi
  done
  if command -v pyenv >/dev/null 2>&1; then
    local prefix
    prefix="$(pyenv prefix 3.10 2>/dev/null || true)"
    if [ -n "$prefix" ] && [ -x "$prefix/bin/python3.10" ]; then echo "$prefix/bin/python3.10"; return; fi
  fi
  return 1
}

PY="$(find_python310)" || {
  echo "error: Python 3.10 is required (Rasa 3.6 and rasa-sdk 3.6 support Python 3.8-3.10 only)." >&2
  echo "       Install it (for example 'pyenv install 3.10') or point PYTHON310 at a python3.10 binary." >&2
  exit 1
}

ensure_venv() {
  local name="$1" lock="requirements/$1.txt" dir="$VENVS/$1"
  local want; want="$(cat "$lock" | sha256sum | cut -c1-16)-$("$PY" -c 'import sys; print(sys.version.split()[0])')"
  if [ -f "$dir/.lock-hash" ] && [ "$(cat "$dir/.lock-hash")" = "$want" ] && [ -x "$dir/bin/python" ]; then
    return
  fi
  echo "==> building $dir from $lock (pip's cache makes later builds faster)"
  local started=$SECONDS
  rm -rf "$dir"
  "$PY" -m venv "$dir"
  "$dir/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -r "$lock"
  bash scripts/pip_check.sh "$dir/bin/python" || exit 1
  echo "$want" > "$dir/.lock-hash"
  echo "==> $dir ready in $((SECONDS - started)) s"
}

ensure_venv rasa
ensure_venv app

# Front-end packages from the npm registry at the versions the locks pin: the web chat widget for the demo website,
# htmx for the agent console.
ensure_npm() {
  local dir="$1" marker="$2" want
  want="$(sha256sum "$dir/package-lock.json" | cut -c1-16)"
  if [ -f "$dir/node_modules/.lock-hash" ] && [ "$(cat "$dir/node_modules/.lock-hash")" = "$want" ] \
     && [ -f "$dir/node_modules/$marker" ]; then
    return
  fi
  command -v npm >/dev/null 2>&1 || { echo "error: npm (Node.js) is needed for $dir's front-end packages" >&2; exit 1; }
  echo "==> installing $dir's front-end packages (npm ci)"
  (cd "$dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
  echo "$want" > "$dir/node_modules/.lock-hash"
}
ensure_npm website rasa-webchat/lib/index.js
ensure_npm console htmx.org/dist/htmx.min.js
