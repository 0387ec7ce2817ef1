"""Embeddings of training examples kept between trainings, keyed by the encoder and the text.

Retraining after a few examples were added or changed should cost seconds, not the minutes the encoder takes over
ten thousand examples; Rasa's own cache of trained components does not help, because one changed example changes
the whole training data's fingerprint. The cache is one SQLite file (the standard library's sqlite3: one writer at
a time, readers never blocked, nothing to run): a row per (encoder identity, text) with the vector's float32
bytes. The encoder identity holds its name and the digest of its weights, so another encoder, or other weights
under the same name, never reads a stale vector.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Protocol

import numpy as np

# Where the training cache lives unless HEARTH_EMBEDDING_CACHE says otherwise ("off" turns it off).
DEFAULT_PATH = Path("var") / "cache" / "embeddings.sqlite3"
_CHUNK = 500  # texts per SELECT: well under SQLite's limit on bound parameters


class Encoder(Protocol):
    identity: str
    dimensions: int

    def encode(self, texts: list[str]) -> np.ndarray: ...


def configured_path() -> Path | None:
    setting = os.environ.get("HEARTH_EMBEDDING_CACHE", "").strip()
    if setting.lower() in {"off", "0", "false", "no"}:
        return None
    return Path(setting) if setting else DEFAULT_PATH


class EmbeddingCache:
    """Vectors by (encoder identity, text) in one SQLite file; misses are encoded once and stored."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(
                "CREATE TABLE IF NOT EXISTS vectors ("
                "encoder TEXT NOT NULL, text TEXT NOT NULL, vector BLOB NOT NULL, PRIMARY KEY (encoder, text))"
            )
        self.hits = self.misses = 0

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """A connection that commits on success and is closed either way (sqlite3's own `with` only commits)."""
        with closing(sqlite3.connect(self.path, timeout=60)) as db, db:
            yield db

    def encode(self, encoder: Encoder, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), encoder.dimensions), dtype=np.float32)
        unique = list(dict.fromkeys(texts))
        found: dict[str, np.ndarray] = {}
        with self._connect() as db:
            for chunk in _chunks(unique):
                marks = ",".join("?" * len(chunk))
                for text, blob in db.execute(
                    f"SELECT text, vector FROM vectors WHERE encoder = ? AND text IN ({marks})",  # noqa: S608
                    [encoder.identity, *chunk],
                ):
                    vector = np.frombuffer(blob, dtype=np.float32)
                    if vector.shape == (encoder.dimensions,):
                        found[text] = vector
        missing = [text for text in unique if text not in found]
        if missing:
            vectors = encoder.encode(missing)
            found.update(zip(missing, vectors, strict=True))
            with self._connect() as db:
                db.executemany(
                    "INSERT OR REPLACE INTO vectors (encoder, text, vector) VALUES (?, ?, ?)",
                    [
                        (encoder.identity, text, np.asarray(v, dtype=np.float32).tobytes())
                        for text, v in zip(missing, vectors, strict=True)
                    ],
                )
        self.hits += len(unique) - len(missing)
        self.misses += len(missing)
        for row, text in enumerate(texts):
            out[row] = found[text]
        return out


def _chunks(items: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]
