"""Checks of bot/nlu/sentence_features.py, run inside the Rasa virtualenv.

Run by tests/integration/test_rasa_side.py (`.venvs/rasa/bin/python tests/rasa_side/check_sentence_encoder.py`);
each check raises AssertionError with a message, and the script prints "ok" when all pass.

tests/fixtures/minilm_reference.json holds token ids and embeddings that the reference implementation
(sentence-transformers 5 with PyTorch, loading the same package's model files) produced for a few texts
with accents, punctuation, an order number and an em dash.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu import sentence_features
from bot.nlu.sentence_features import ModelIntegrityError, SentenceEmbeddingFeaturizer, SentenceEncoder

REFERENCE = json.loads(Path("tests/fixtures/minilm_reference.json").read_text())


def same_as_the_reference_implementation() -> None:
    encoder = SentenceEncoder()
    ids = encoder.token_ids(REFERENCE["texts"])
    assert ids == REFERENCE["token_ids"], (ids, REFERENCE["token_ids"])
    vectors = encoder.encode(REFERENCE["texts"])
    expected = np.array(REFERENCE["embeddings"], dtype=np.float32)
    assert vectors.shape == expected.shape == (len(REFERENCE["texts"]), 384)
    worst = float(np.abs(vectors - expected).max())
    assert worst < 1e-4, f"embeddings differ from the reference by up to {worst}"
    # one at a time gives the same as in a batch (padding must not leak into the result)
    alone = encoder.encode([REFERENCE["texts"][2]])[0]
    assert float(np.abs(alone - expected[2]).max()) < 1e-4


def tampered_or_missing_weights_are_refused() -> None:
    source = sentence_features.model_dir()
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "model"
        shutil.copytree(source, copy)
        SentenceEncoder(copy)  # an intact copy loads
        weights = copy / "model.safetensors"
        data = bytearray(weights.read_bytes())
        data[-1] ^= 0x01  # one bit of the last weight
        weights.write_bytes(bytes(data))
        try:
            SentenceEncoder(copy)
        except ModelIntegrityError as error:
            assert "SHA-256" in str(error) and "model.safetensors" in str(error), error
        else:
            raise AssertionError("a model file with one bit changed was loaded")
        (copy / "vocab.txt").unlink()
        try:
            sentence_features.verify(copy, {"vocab.txt": sentence_features.PINNED_SHA256["vocab.txt"]})
        except ModelIntegrityError as error:
            assert "missing" in str(error), error
        else:
            raise AssertionError("a missing vocabulary passed the check")


def featurizer_adds_a_scaled_sentence_feature() -> None:
    featurizer = SentenceEmbeddingFeaturizer({**SentenceEmbeddingFeaturizer.get_default_config(), "scale": 20.0}, "x")
    messages = [Message(data={TEXT: text}) for text in REFERENCE["texts"][:2]] + [Message(data={})]
    featurizer.process_training_data(TrainingData(training_examples=messages))
    for message, expected in zip(messages, REFERENCE["embeddings"][:2], strict=False):
        sequence, sentence = message.get_dense_features(TEXT)
        assert sequence is None and sentence is not None
        assert sentence.features.shape == (1, 384)
        assert float(np.abs(sentence.features[0] - 20.0 * np.array(expected)).max()) < 2e-3
    assert messages[2].get_dense_features(TEXT) == (None, None)  # nothing to featurize, nothing added
    try:
        SentenceEmbeddingFeaturizer.validate_config({"scale": 0})
    except ValueError:
        pass
    else:
        raise AssertionError("scale 0 was accepted")


if __name__ == "__main__":
    same_as_the_reference_implementation()
    tampered_or_missing_weights_are_refused()
    featurizer_adds_a_scaled_sentence_feature()
    print("ok")
