"""Run commands in the Rasa server's virtualenv, with the project's environment."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RASA_PY = ROOT / ".venvs" / "rasa" / "bin" / "python"
RASA = ROOT / ".venvs" / "rasa" / "bin" / "rasa"

sys.path.insert(0, str(ROOT / "scripts"))
import hearth  # noqa: E402


def trained_model() -> Path:
    """The model for the current data and config; trains only if it does not exist yet."""
    path = hearth.model_path()
    if not path.exists():
        hearth.train(hearth.environment())
    return path


def run(args: list[str], timeout: float = 900, **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=ROOT, env=hearth.environment(), capture_output=True, text=True, timeout=timeout, **kwargs
    )
