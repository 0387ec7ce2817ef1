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


def int8_model_agrees_with_the_reference() -> None:
    """The ONNX Runtime encoder (the shipped one) runs the same model with 8-bit weights: the same word pieces, and
    vectors pointing the same way as the reference's."""
    encoder = sentence_features.encoder_named("minilm-int8")
    assert encoder.token_ids(REFERENCE["texts"]) == REFERENCE["token_ids"]
    vectors = encoder.encode(REFERENCE["texts"])
    expected = np.array(REFERENCE["embeddings"], dtype=np.float32)
    assert vectors.shape == expected.shape
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    cosines = (vectors * expected).sum(1)
    assert float(cosines.min()) > 0.97, cosines
    # a batch of different lengths gives each text what it gives alone (padding is masked)
    alone = encoder.encode([REFERENCE["texts"][2]])[0]
    assert float(np.abs(alone - vectors[2]).max()) < 1e-4


def tampered_onnx_model_is_refused() -> None:
    from encoder.onnx_minilm import OnnxMiniLM, onnx_dir

    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp)
        shutil.copy(onnx_dir() / "model.onnx", copy / "model.onnx")
        OnnxMiniLM(copy)  # an intact copy loads
        data = bytearray((copy / "model.onnx").read_bytes())
        data[len(data) // 2] ^= 0x01
        (copy / "model.onnx").write_bytes(bytes(data))
        try:
            OnnxMiniLM(copy)
        except ModelIntegrityError as error:
            assert "model.onnx" in str(error) and "SHA-256" in str(error), error
        else:
            raise AssertionError("an ONNX file with one bit changed was loaded")


def multilingual_encoder_maps_languages_together() -> None:
    from encoder.use_m3 import UseM3, resources_dir

    encoder = sentence_features.encoder_named("use-m3")
    texts = ["where is my order", "wo ist meine Bestellung", "où est ma commande", "I would like a refund"]
    vectors = encoder.encode(texts)
    assert vectors.shape == (4, 512) and np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    similarity = vectors @ vectors.T
    # the German and the French question are nearer the English one than another English question is
    assert similarity[0, 1] > similarity[0, 3] and similarity[0, 2] > similarity[0, 3], similarity
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp)
        for name in ("sp.model", "weights.npz"):
            shutil.copy(resources_dir() / name, copy / name)
        (copy / "sp.model").write_bytes((copy / "sp.model").read_bytes()[:-1])
        try:
            UseM3(copy)
        except ModelIntegrityError as error:
            assert "sp.model" in str(error), error
        else:
            raise AssertionError("a truncated vocabulary was accepted")


def training_reads_unchanged_examples_from_the_cache() -> None:
    """Retraining encodes only the texts no earlier training encoded with this encoder; the rest come from the
    cache, and are the vectors the encoder gives."""
    import os

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["HEARTH_EMBEDDING_CACHE"] = str(Path(tmp) / "cache.sqlite3")
        try:
            config = {**SentenceEmbeddingFeaturizer.get_default_config(), "encoder": "minilm-int8"}
            featurizer = SentenceEmbeddingFeaturizer(config, "x")
            texts = REFERENCE["texts"]
            first = [Message(data={TEXT: text}) for text in texts[:3]]
            featurizer.process_training_data(TrainingData(training_examples=first))
            again = [Message(data={TEXT: text}) for text in texts]
            calls: list[list[str]] = []
            real = featurizer.encoder.encode
            featurizer.encoder.encode = lambda batch: calls.append(list(batch)) or real(batch)  # type: ignore[method-assign]
            try:
                featurizer.process_training_data(TrainingData(training_examples=again))
            finally:
                featurizer.encoder.encode = real  # type: ignore[method-assign]
            assert calls == [texts[3:]], calls  # only the new texts were encoded
            direct = real(texts)
            for message, vector in zip(again, direct, strict=True):
                sentence = message.get_dense_features(TEXT)[1]
                assert float(np.abs(sentence.features[0] - vector).max()) < 1e-6
            # another encoder never reads these vectors
            other = SentenceEmbeddingFeaturizer({**config, "encoder": "minilm"}, "y")
            msgs = [Message(data={TEXT: texts[0]})]
            other.process_training_data(TrainingData(training_examples=msgs))
            numpy_vector = msgs[0].get_dense_features(TEXT)[1].features[0]
            assert float(np.abs(numpy_vector - np.array(REFERENCE["embeddings"][0])).max()) < 1e-4
        finally:
            del os.environ["HEARTH_EMBEDDING_CACHE"]
    try:
        SentenceEmbeddingFeaturizer.validate_config({"scale": 1.0, "encoder": "word2vec"})
    except ValueError as error:
        assert "word2vec" in str(error) and "minilm-int8" in str(error), error
    else:
        raise AssertionError("an unknown encoder was accepted")


if __name__ == "__main__":
    same_as_the_reference_implementation()
    tampered_or_missing_weights_are_refused()
    featurizer_adds_a_scaled_sentence_feature()
    int8_model_agrees_with_the_reference()
    tampered_onnx_model_is_refused()
    multilingual_encoder_maps_languages_together()
    training_reads_unchanged_examples_from_the_cache()
    print("ok")
