"""Run commands in the Rasa server's virtualenv, with the project's environment."""

from __future__ import annotations

import subprocess
from pathlib import Path

from hearth.environment import environment
from hearth.train import model_path, train

ROOT = Path(__file__).resolve().parent.parent
RASA_PY = ROOT / ".venvs" / "rasa" / "bin" / "python"
RASA = ROOT / ".venvs" / "rasa" / "bin" / "rasa"


def trained_model() -> Path:
    """The model for the current data and config; trains only if it does not exist yet."""
    path = model_path()
    if not path.exists():
        train(environment())
    return path


def run(args: list[str], timeout: float = 900, **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, env=environment(), capture_output=True, text=True, timeout=timeout, **kwargs)


def training_examples(path: Path) -> list[tuple[str, str]]:
    """(text, intent) of every example in a Rasa training data file, as Rasa itself reads it."""
    import ast

    program = (
        "from rasa.shared.nlu.training_data.loading import load_data; "
        f"print([(m.get('text'), m.get('intent')) for m in load_data({str(path)!r}).intent_examples])"
    )
    result = run([str(RASA_PY), "-c", program])
    assert result.returncode == 0, result.stderr[-2000:]
    return ast.literal_eval(result.stdout.strip().splitlines()[-1])
