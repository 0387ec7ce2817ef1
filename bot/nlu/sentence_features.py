"""Dense sentence features from the pretrained sentence encoder (encoder/minilm.py).

The featurizer adds one 384-dimensional sentence feature per message (times `scale`); the logistic-regression
intent classifier and the response selectors use it next to the sparse n-gram features. In Rasa's virtualenv the
word pieces come from TensorFlow Text's BERT tokenizer (installed with Rasa) with the model's own vocabulary.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
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

from encoder.minilm import MODEL_PACKAGE, PINNED_SHA256, ModelIntegrityError, model_dir, verify
from encoder.minilm import SentenceEncoder as _Encoder
from encoder.minilm import shared_encoder as _shared_encoder

logger = logging.getLogger(__name__)
__all__ = ["MODEL_PACKAGE", "PINNED_SHA256", "ModelIntegrityError", "SentenceEncoder", "model_dir", "verify"]


def tensorflow_word_pieces(vocabulary: Path) -> Callable[[list[str]], list[list[int]]]:
    """BERT's uncased tokenizer (lower case, accents stripped) by TensorFlow Text, compiled once: eagerly, each
    call costs about 12 ms of TensorFlow overhead; compiled, under 1 ms."""
    import tensorflow as tf
    import tensorflow_text

    tokenizer = tensorflow_text.BertTokenizer(str(vocabulary), lower_case=True, token_out_type=tf.int64)
    compiled = tf.function(
        lambda batch: tokenizer.tokenize(batch).merge_dims(-2, -1),
        input_signature=[tf.TensorSpec([None], tf.string)],
    )
    return lambda texts: compiled(texts).to_list()


def SentenceEncoder(directory: Path | None = None) -> _Encoder:  # noqa: N802 - reads as the class it builds
    """The encoder with TensorFlow Text's word pieces."""
    return _Encoder(tensorflow_word_pieces, directory)


def shared_encoder() -> _Encoder:
    return _shared_encoder(tensorflow_word_pieces)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class SentenceEmbeddingFeaturizer(DenseFeaturizer, GraphComponent):
    """Adds the sentence embedding of each message's text as a dense sentence feature."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {**DenseFeaturizer.get_default_config(), "scale": 1.0}

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        if float(config.get("scale", 1.0)) <= 0:
            raise ValueError("SentenceEmbeddingFeaturizer: `scale` must be positive")

    @staticmethod
    def required_packages() -> list[str]:
        return [MODEL_PACKAGE, "tensorflow_text", "safetensors"]

    def __init__(self, config: dict[str, Any], name: str) -> None:
        super().__init__(name, config)
        self.scale = float(config["scale"])
        self.encoder = shared_encoder()

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> SentenceEmbeddingFeaturizer:
        return cls(config, execution_context.node_name)

    def _featurize(self, messages: list[Message]) -> None:
        todo = [m for m in messages if m.get(TEXT)]
        vectors = self.encoder.encode([m.get(TEXT) for m in todo]) * np.float32(self.scale)
        for message, vector in zip(todo, vectors, strict=True):
            self.add_features_to_message(None, vector[None, :], TEXT, message)  # type: ignore[arg-type]

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self._featurize(training_data.training_examples)
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        self._featurize(messages)
        return messages
