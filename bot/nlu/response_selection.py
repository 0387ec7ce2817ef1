"""A linear response selector: picks the answer within a retrieval intent (faq/..., chitchat/...).

Rasa's ResponseSelector is a transformer trained with TensorFlow: per retrieval intent it
adds about 40 MB to the model, seconds to the server's start and tens of milliseconds to
every message. Choosing among a handful of FAQ answers needs none of that: a logistic
regression over the pipeline's own sentence features (the word and character n-grams and the
sentence embedding the intent classifier uses; bot/nlu/softmax.py) trains in about a second
and predicts in microseconds.

The output has the shape of Rasa's ResponseSelector (`response_selector.<intent>.response`
with `utter_action`, `intent_response_key`, `confidence` and a `ranking`), so Rasa's
retrieval actions (`utter_faq`, `utter_chitchat`), rules and NLU evaluation use it unchanged.
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
from rasa.nlu.constants import (
    RESPONSE_SELECTOR_PREDICTION_KEY,
    RESPONSE_SELECTOR_PROPERTY_NAME,
    RESPONSE_SELECTOR_RANKING_KEY,
    RESPONSE_SELECTOR_RESPONSES_KEY,
    RESPONSE_SELECTOR_RETRIEVAL_INTENTS,
    RESPONSE_SELECTOR_UTTER_ACTION_KEY,
)
from rasa.nlu.featurizers.featurizer import Featurizer
from rasa.shared.nlu.constants import INTENT, INTENT_RESPONSE_KEY, PREDICTED_CONFIDENCE_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.softmax import SoftmaxModel, features

logger = logging.getLogger(__name__)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class LinearResponseSelector(GraphComponent):
    """Selects the response of one retrieval intent with a logistic regression."""

    @classmethod
    def required_components(cls) -> list[type]:
        return [Featurizer]

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"retrieval_intent": None, "C": 10.0, "max_iter": 500, "ranking_length": 5}

    def __init__(self, config: dict[str, Any], model_storage: ModelStorage, resource: Resource) -> None:
        self.config = {**self.get_default_config(), **config}
        if not self.config["retrieval_intent"]:
            raise ValueError("LinearResponseSelector needs `retrieval_intent` (e.g. faq)")
        self.retrieval_intent: str = self.config["retrieval_intent"]
        self._storage = model_storage
        self._resource = resource
        self.clf: SoftmaxModel | None = None
        self.labels: list[str] = []  # intent response keys, e.g. "faq/ask_hours"
        self.all_retrieval_intents: list[str] = []
        self.responses: dict[str, list[dict[str, Any]]] = {}

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> LinearResponseSelector:
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        examples = [
            e
            for e in training_data.intent_examples
            if e.get(INTENT) == self.retrieval_intent and e.get(INTENT_RESPONSE_KEY) and e.get(TEXT)
        ]
        self.all_retrieval_intents = sorted(training_data.retrieval_intents)
        self.responses = {
            key: value
            for key, value in training_data.responses.items()
            if key.startswith(f"utter_{self.retrieval_intent}/")
        }
        labels = sorted({e.get(INTENT_RESPONSE_KEY) for e in examples})
        if len(labels) < 2:
            logger.warning("LinearResponseSelector(%s): fewer than two responses to choose from", self.retrieval_intent)
            self.labels = labels
            self.persist()
            return self._resource
        index = {label: i for i, label in enumerate(labels)}
        sparse, dense = features(examples)
        self.clf, _ = SoftmaxModel.fit(
            sparse,
            dense,
            np.array([index[e.get(INTENT_RESPONSE_KEY)] for e in examples]),
            len(labels),
            float(self.config["C"]),
            int(self.config["max_iter"]),
            1e-4,
        )
        self.labels = [str(label) for label in labels]
        self.persist()
        return self._resource

    def process(self, messages: list[Message]) -> list[Message]:
        if not self.labels:
            return messages
        if self.clf is None:
            probabilities = np.ones((len(messages), 1))
        else:
            probabilities = self.clf.predict(messages)
        for message, row in zip(messages, probabilities, strict=True):
            order = np.argsort(-row)
            ranking = [
                {"id": int(i), PREDICTED_CONFIDENCE_KEY: float(row[i]), INTENT_RESPONSE_KEY: self.labels[i]}
                for i in order[: self.config["ranking_length"]]
            ]
            best = self.labels[int(order[0])]
            utter_action = f"utter_{best}"
            prediction = {
                RESPONSE_SELECTOR_PREDICTION_KEY: {
                    RESPONSE_SELECTOR_RESPONSES_KEY: self.responses.get(utter_action, [{TEXT: best}]),
                    PREDICTED_CONFIDENCE_KEY: float(row[int(order[0])]),
                    INTENT_RESPONSE_KEY: best,
                    RESPONSE_SELECTOR_UTTER_ACTION_KEY: utter_action,
                },
                RESPONSE_SELECTOR_RANKING_KEY: ranking,
            }
            properties = message.get(RESPONSE_SELECTOR_PROPERTY_NAME, {})
            properties[RESPONSE_SELECTOR_RETRIEVAL_INTENTS] = self.all_retrieval_intents
            properties[self.retrieval_intent] = prediction
            message.set(RESPONSE_SELECTOR_PROPERTY_NAME, properties, add_to_output=True)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    def persist(self) -> None:
        with self._storage.write_to(self._resource) as directory:
            saved = {
                "labels": self.labels,
                "retrieval_intents": self.all_retrieval_intents,
                "responses": self.responses,
            }
            (directory / "selector.json").write_text(json.dumps(saved))
            if self.clf is not None:
                self.clf.save(directory / "selector.npz")

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> LinearResponseSelector:
        component = cls(config, model_storage, resource)
        try:
            with model_storage.read_from(resource) as directory:
                saved = json.loads((directory / "selector.json").read_text())
                component.labels = saved["labels"]
                component.all_retrieval_intents = saved["retrieval_intents"]
                component.responses = saved["responses"]
                model_file = directory / "selector.npz"
                if model_file.exists():
                    component.clf = SoftmaxModel.load(model_file)
        except ValueError:
            logger.warning("LinearResponseSelector: no trained model in storage; selecting nothing")
        return component
