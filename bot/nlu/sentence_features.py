"""Dense sentence features from a pretrained sentence encoder (encoder/).

The featurizer adds one sentence feature per message (times `scale`); the logistic-regression intent classifier
and the response selectors use it next to the sparse n-gram features. `encoder` names the encoder (ENCODERS):

- `minilm`: all-MiniLM-L6-v2 in NumPy (encoder/minilm.py), 384 dimensions, English;
- `minilm-int8`: the same model with int8 weights in ONNX Runtime (encoder/onnx_minilm.py);
- `use-m3`: the multilingual Universal Sentence Encoder in NumPy (encoder/use_m3.py), 512 dimensions.

For the MiniLM encoders the word pieces come from Hugging Face's `tokenizers` with the model's own vocabulary.
In training, the vectors of texts an earlier training already encoded come from the embedding cache
(encoder/cache.py), so retraining after a few new examples encodes just those.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from encoder.cache import EmbeddingCache, configured_path
from encoder.cache import Encoder as Encoder
from encoder.minilm import (
    MODEL_PACKAGE,
    PINNED_SHA256,
    ModelIntegrityError,
    SentenceEncoder,
    model_dir,
    shared_encoder,
    verify,
)

logger = logging.getLogger(__name__)
__all__ = ["MODEL_PACKAGE", "PINNED_SHA256", "ModelIntegrityError", "SentenceEncoder", "model_dir", "verify"]


def _minilm_int8() -> Encoder:
    from encoder.onnx_minilm import OnnxMiniLM

    return OnnxMiniLM()


def _use_m3() -> Encoder:
    from encoder.use_m3 import UseM3

    return UseM3()


ENCODERS: dict[str, Callable[[], Encoder]] = {"minilm": shared_encoder, "minilm-int8": _minilm_int8, "use-m3": _use_m3}
_loaded: dict[str, Encoder] = {}
_lock = threading.Lock()


def _check_encoder_name(name: str) -> None:
    if name not in ENCODERS:
        raise ValueError(f"SentenceEmbeddingFeaturizer: unknown `encoder` {name!r}; one of {', '.join(ENCODERS)}")


def encoder_named(name: str) -> Encoder:
    """One encoder of each kind per process: the server's featurizers share it."""
    _check_encoder_name(name)
    with _lock:
        if name not in _loaded:
            _loaded[name] = ENCODERS[name]()
        return _loaded[name]


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class SentenceEmbeddingFeaturizer(DenseFeaturizer, GraphComponent):
    """Adds the sentence embedding of each message's text as a dense sentence feature."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {**DenseFeaturizer.get_default_config(), "scale": 1.0, "encoder": "minilm"}

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        if float(config.get("scale", 1.0)) <= 0:
            raise ValueError("SentenceEmbeddingFeaturizer: `scale` must be positive")
        _check_encoder_name(config.get("encoder", "minilm"))

    @staticmethod
    def required_packages() -> list[str]:
        return [MODEL_PACKAGE, "tokenizers", "safetensors"]

    def __init__(self, config: dict[str, Any], name: str) -> None:
        super().__init__(name, config)
        self.scale = float(config["scale"])
        self.encoder = encoder_named(config.get("encoder", "minilm"))

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> SentenceEmbeddingFeaturizer:
        return cls(config, execution_context.node_name)

    def _featurize(self, messages: list[Message], cache: EmbeddingCache | None = None) -> None:
        todo = [m for m in messages if m.get(TEXT)]
        texts = [m.get(TEXT) for m in todo]
        vectors = cache.encode(self.encoder, texts) if cache else self.encoder.encode(texts)
        vectors = vectors * np.float32(self.scale)
        for message, vector in zip(todo, vectors, strict=True):
            self.add_features_to_message(None, vector[None, :], TEXT, message)  # type: ignore[arg-type]

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        path = configured_path()
        cache = EmbeddingCache(path) if path else None
        self._featurize(training_data.training_examples, cache)
        if cache:
            logger.info("sentence embeddings: %d from the cache, %d encoded", cache.hits, cache.misses)
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        self._featurize(messages)
        return messages
