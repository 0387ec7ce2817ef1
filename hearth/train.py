"""Fingerprinted training: the model file is named after a fingerprint of config.yml, data/ (but for the help
centre's articles, data/knowledge/: the bot answers from them without retraining), bot/domain/, bot/nlu/ and encoder/
(custom NLU components and the sentence encoder they run), bot/policies.py and the Rasa version, so an unchanged bot
is never retrained, and a changed one always is."""

from __future__ import annotations

import hashlib
import subprocess
import time
from pathlib import Path

from hearth import RASA_BIN, ROOT

MODELS = ROOT / "models"
TRAINING_INPUTS = ("config.yml", "data", "bot/domain", "bot/nlu", "encoder", "bot/policies.py")
NOT_TRAINED_ON = Path("data", "knowledge")  # Markdown articles, which Rasa does not read


def fingerprint() -> str:
    digest = hashlib.sha256()
    for name in TRAINING_INPUTS:
        path = ROOT / name
        files = (
            sorted(
                p
                for p in path.rglob("*")
                if p.is_file()
                and "__pycache__" not in p.parts
                and not p.relative_to(ROOT).is_relative_to(NOT_TRAINED_ON)
            )
            if path.is_dir()
            else [path]
        )
        for file in files:
            digest.update(str(file.relative_to(ROOT)).encode() + b"\0" + file.read_bytes() + b"\0")
    digest.update((RASA_BIN.parent / ".lock-hash").read_bytes() if (RASA_BIN.parent / ".lock-hash").exists() else b"")
    return digest.hexdigest()[:16]


def model_path() -> Path:
    return MODELS / f"hearth-{fingerprint()}.tar.gz"


def train(env: dict[str, str]) -> Path:
    target = model_path()
    if target.exists():
        print(f"==> model up to date: {target.relative_to(ROOT)} (data and config unchanged, not retraining)")
        return target
    print(f"==> training {target.relative_to(ROOT)} ...", flush=True)
    started = time.monotonic()
    MODELS.mkdir(exist_ok=True)
    subprocess.run(
        [
            str(RASA_BIN / "rasa"),
            "train",
            "--domain",
            "bot/domain",
            "--data",
            "data",
            "--config",
            "config.yml",
            "--out",
            str(MODELS),
            "--fixed-model-name",
            target.name.removesuffix(".tar.gz"),
        ],
        cwd=ROOT,
        env=env,
        check=True,
    )
    elapsed = time.monotonic() - started
    print(f"==> trained in {elapsed:.0f} s")
    for old in sorted(MODELS.glob("hearth-*.tar.gz"), key=lambda p: p.stat().st_mtime)[:-3]:
        old.unlink()  # keep the three newest
    return target
