"""Keyboard mash is not understood: a message most of whose words the bot was never taught falls back.

A linear classifier always picks some intent, and for text it has no evidence about at all ("sdfkj qwpeo") the
character n-grams can make that pick look confident: the bot then answers something nobody asked. This component
learns the words of the training data and, when fewer than a third of a message's words are known (a word one
typo away counts: "parcle" for "parcel"; so does a name, "Willow Lane, Bath"), sets the intent to `nlu_fallback`,
as Rasa's FallbackClassifier does for a low confidence, so the dialogue says it did not understand. Messages with
an entity (an order number, an email, a code) or with no letters at all are left to the classifier. In the middle
of a form the form still takes the message as its answer: a form's question is answered before any rule.
"""

from __future__ import annotations

import json
import re
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_NAME_KEY, PREDICTED_CONFIDENCE_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

FALLBACK_INTENT = "nlu_fallback"
INTENT_RANKING = "intent_ranking"
_WORD = re.compile(r"[^\W\d_]{2,}")


def words(text: str) -> list[str]:
    """The words of `text` (letters only, two or more), lower case."""
    return _WORD.findall((text or "").casefold())


def _deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


class Vocabulary:
    """Known words, and a one-deletion index of them so a word one typo away counts as known."""

    def __init__(self, known: set[str]) -> None:
        self.known = known
        self._near = {d for word in known if len(word) >= 4 for d in _deletes(word)}

    def knows(self, word: str) -> bool:
        if word in self.known:
            return True
        if len(word) < 4:
            return False
        # one letter missing, extra, swapped or changed: the word or one of its deletions meets a deletion
        return word in self._near or any(d in self.known or d in self._near for d in _deletes(word))

    def knows_enough(self, text: str) -> bool | None:
        """Whether at least a third of the words of `text` are known (one typo allowed) or names (a capital, then
        small letters: "Willow Lane, Bath", "Zoë"); None when it has none."""
        found = _WORD.findall(text or "")
        if not found:
            return None
        known = sum(1 for word in found if (word.istitle() and len(word) > 2) or self.knows(word.casefold()))
        return 3 * known >= len(found)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class UnknownWordsFallback(GraphComponent):
    """After the intent classifier: `nlu_fallback` for a message with words, none of them known."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"confidence": 1.0}

    def __init__(self, config: dict[str, Any], model_storage: ModelStorage, resource: Resource) -> None:
        self.config = {**self.get_default_config(), **config}
        self._storage = model_storage
        self._resource = resource
        self.vocabulary = Vocabulary(set())

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> UnknownWordsFallback:
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        known = {word for example in training_data.training_examples for word in words(example.get(TEXT) or "")}
        self.vocabulary = Vocabulary(known)
        with self._storage.write_to(self._resource) as directory:
            (directory / "vocabulary.json").write_text(json.dumps(sorted(known)))
        return self._resource

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            if not self.vocabulary.known or message.get(ENTITIES):
                continue  # untrained (no evidence either way), or a value the customer was asked for
            if self.vocabulary.knows_enough(message.get(TEXT) or "") is not False:
                continue
            fallback = {INTENT_NAME_KEY: FALLBACK_INTENT, PREDICTED_CONFIDENCE_KEY: float(self.config["confidence"])}
            message.data[INTENT] = fallback
            message.data[INTENT_RANKING] = [fallback, *message.get(INTENT_RANKING, [])]
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> UnknownWordsFallback:
        component = cls(config, model_storage, resource)
        try:
            with model_storage.read_from(resource) as directory:
                component.vocabulary = Vocabulary(set(json.loads((directory / "vocabulary.json").read_text())))
        except ValueError:  # not trained: knows nothing, so it never judges (an empty vocabulary is no evidence)
            component.vocabulary = Vocabulary(set())
        return component
