"""The intent classifier: the model of Rasa's LogisticRegressionClassifier, trained and applied faster.

A multinomial logistic regression over the sparse n-gram counts and the sentence embedding (bot/nlu/softmax.py),
with Rasa's classifier's output (`intent`, `intent_ranking`). The weights are stored as NumPy arrays (no pickle),
the intent names as JSON.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers import LABEL_RANKING_LENGTH
from rasa.nlu.featurizers.featurizer import Featurizer
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.softmax import PLATEAU, SoftmaxModel, features

logger = logging.getLogger(__name__)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class LinearIntentClassifier(GraphComponent):
    """Intents by multinomial logistic regression; its output is that of Rasa's classifiers."""

    @classmethod
    def required_components(cls) -> list[type]:
        return [Featurizer]

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"C": 1.0, "max_iter": 1000, "tol": 1e-4, "plateau": PLATEAU, "ranking_length": LABEL_RANKING_LENGTH}

    def __init__(self, config: dict[str, Any], model_storage: ModelStorage, resource: Resource) -> None:
        self.config = {**self.get_default_config(), **config}
        self._storage, self._resource = model_storage, resource
        self.labels: list[str] = []
        self.model: SoftmaxModel | None = None

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> LinearIntentClassifier:  # fmt: skip
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        examples = [e for e in training_data.intent_examples if e.get(INTENT) and e.get(TEXT)]
        if not examples:
            logger.debug("LinearIntentClassifier: no intent examples, nothing to train")
            return self._resource
        self.labels = sorted({str(e.get(INTENT)) for e in examples})
        index = {label: i for i, label in enumerate(self.labels)}
        y = np.array([index[str(e.get(INTENT))] for e in examples])
        sparse, dense = features(examples)
        self.model, steps = SoftmaxModel.fit(
            sparse, dense, y, len(self.labels), float(self.config["C"]), int(self.config["max_iter"]),
            float(self.config["tol"]), float(self.config["plateau"]),
        )  # fmt: skip
        logger.info("LinearIntentClassifier: %d examples, %d intents, %d L-BFGS steps", len(y), len(self.labels), steps)
        self.persist()
        return self._resource

    def process(self, messages: list[Message]) -> list[Message]:
        if self.model is None or not messages:
            return messages
        probabilities = self.model.predict(messages)
        length = int(self.config["ranking_length"])
        for message, row in zip(messages, probabilities, strict=True):
            order = np.argsort(-row, kind="stable")
            ranking = [{"name": self.labels[i], "confidence": float(row[i])} for i in order]
            message.set("intent", ranking[0], add_to_output=True)
            message.set("intent_ranking", ranking[:length] if length > 0 else ranking, add_to_output=True)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self.process(training_data.training_examples)
        return training_data

    def persist(self) -> None:
        assert self.model is not None
        with self._storage.write_to(self._resource) as directory:
            (directory / "labels.json").write_text(json.dumps(self.labels))
            self.model.save(directory / "weights.npz")

    @classmethod
    def load(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> LinearIntentClassifier:  # fmt: skip
        component = cls(config, model_storage, resource)
        try:
            with model_storage.read_from(resource) as directory:
                component.labels = json.loads((directory / "labels.json").read_text())
                component.model = SoftmaxModel.load(directory / "weights.npz")
        except (ValueError, FileNotFoundError):
            logger.debug("LinearIntentClassifier: nothing trained in storage; it classifies nothing")
        return component
