"""The sentence encoder in the action server's virtualenv: encoder/minilm.py with word pieces from Hugging Face's
`tokenizers` (BERT's uncased WordPiece on the model's own vocabulary file, no download)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from encoder.minilm import PINNED_SHA256, SentenceEncoder, shared_encoder

# What a stored embedding was made with: the weights' and vocabulary's digests. Embeddings made with anything
# else are recomputed; made with this, never (an unchanged help centre is not re-embedded).
ENCODER_FINGERPRINT = "minilm-l6-v2:" + PINNED_SHA256["model.safetensors"][:12] + PINNED_SHA256["vocab.txt"][:8]


def word_pieces(vocabulary: Path) -> Callable[[list[str]], list[list[int]]]:
    from tokenizers import BertWordPieceTokenizer

    tokenizer = BertWordPieceTokenizer(str(vocabulary), lowercase=True, strip_accents=True, clean_text=True)
    return lambda texts: [e.ids for e in tokenizer.encode_batch(texts, add_special_tokens=False)]


def encoder() -> SentenceEncoder:
    """The process's one encoder (its weights are 91 MB; loaded on first use, checksum-verified)."""
    return shared_encoder(word_pieces)
