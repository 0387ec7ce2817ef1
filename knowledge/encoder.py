"""The sentence encoder in the action server's virtualenv: all-MiniLM-L6-v2 with int8 weights in ONNX Runtime
(encoder/onnx_minilm.py, the NLU pipeline's encoder too) with word pieces from Hugging Face's `tokenizers` (BERT's
uncased WordPiece on the model's own vocabulary file, no download).

The int8 model rather than the float one in NumPy (encoder/minilm.py): the same search results on the help
centre's benchmark at a third of the time per question, on one thread, so a busy action server leaves the second
core to the Rasa server (docs/measurements.md, "Speed")."""

from __future__ import annotations

import threading

from encoder.minilm import PINNED_SHA256 as VOCABULARY_SHA256
from encoder.onnx_minilm import PINNED_SHA256, OnnxMiniLM

# What a stored embedding was made with: the weights' and vocabulary's digests. Embeddings made with anything
# else are recomputed; made with this, never (an unchanged help centre is not re-embedded).
ENCODER_FINGERPRINT = "minilm-l6-v2-int8:" + PINNED_SHA256["model.onnx"][:12] + VOCABULARY_SHA256["vocab.txt"][:8]

_encoder: OnnxMiniLM | None = None
_lock = threading.Lock()


def encoder() -> OnnxMiniLM:
    """The process's one encoder (loaded on first use, checksum-verified)."""
    global _encoder
    with _lock:
        if _encoder is None:
            _encoder = OnnxMiniLM()
        return _encoder
