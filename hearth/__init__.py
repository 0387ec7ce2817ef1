"""Hearth's command line: the launcher (train, run, the processes' environment) and the CRM's commands.

    python -m hearth run          migrate, seed if empty, train if needed, start everything
    python -m hearth train        train unless a model for the current data+config exists
    python -m hearth migrate|seed|status|values|agents ...|analytics ...|ingest|review ...

Only the standard library is imported at the top of the launcher's modules, so either virtualenv's Python (and
the Rasa image, which has no CRM code) can train and write the Rasa server's files; the CRM's commands import
the CRM when they run.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RASA_BIN = ROOT / ".venvs" / "rasa" / "bin"
APP_BIN = ROOT / ".venvs" / "app" / "bin"
