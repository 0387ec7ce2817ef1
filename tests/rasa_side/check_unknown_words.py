"""Checks of bot/nlu/unknown_words.py, run inside the Rasa virtualenv by tests/integration/test_rasa_side.py; each
check raises AssertionError with a message, and the script prints "ok" when all pass."""

from __future__ import annotations

import tempfile
from pathlib import Path

from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.unknown_words import UnknownWordsFallback, Vocabulary

TAUGHT = ["where is my parcel", "cancel my order please", "hello there", "I want a refund"]


def classified(text: str, entities: list | None = None) -> Message:
    return Message(
        data={
            "text": text,
            "intent": {"name": "order_status", "confidence": 0.8},
            "intent_ranking": [{"name": "order_status", "confidence": 0.8}],
            "entities": entities or [],
        }
    )


def typos_count_as_known_and_mash_does_not() -> None:
    vocabulary = Vocabulary({"parcel", "cancel", "where", "refund", "hello"})
    for known in ("parcle", "parcel", "cancle", "whre", "refnud", "helo", "PARCEL"):
        assert vocabulary.knows_enough(known), known
    for mash in ("sdfkj qwpeo zxmcnv", "asdkjh", "blorp", "jjjjjjj", "<script>where.__pwned=1</script> blorp zxcv"):
        assert vocabulary.knows_enough(mash) is False, mash
    assert vocabulary.knows_enough("where is my parcle, asdf") is True  # most words known: the classifier decides
    assert vocabulary.knows_enough("27 Willow Lane, Bath BA1 2QT") is True  # places and names are words too
    assert vocabulary.knows_enough("12345 !!") is None and vocabulary.knows_enough("👍") is None  # nothing to judge


def trained_it_turns_mash_into_nlu_fallback_and_leaves_the_rest(storage_dir: Path) -> None:
    storage = LocalModelStorage(storage_dir)
    resource = Resource("unknown_words")
    component = UnknownWordsFallback.create({}, storage, resource, None)  # type: ignore[arg-type]
    component.train(TrainingData(training_examples=[Message(data={"text": t, "intent": "x"}) for t in TAUGHT]))
    loaded = UnknownWordsFallback.load({}, storage, resource, None)  # type: ignore[arg-type]
    mash, typo, value, empty = (
        classified("sdfkj qwpeo"),
        classified("were is my parcle"),
        classified("zzkq JH123456", [{"entity": "order_number", "value": "JH123456"}]),
        classified("123456"),
    )
    loaded.process([mash, typo, value, empty])
    assert mash.get("intent") == {"name": "nlu_fallback", "confidence": 1.0}
    assert mash.get("intent_ranking")[0]["name"] == "nlu_fallback"
    assert mash.get("intent_ranking")[1]["name"] == "order_status"  # the classifier's pick stays in the ranking
    for untouched in (typo, value, empty):
        assert untouched.get("intent")["name"] == "order_status", untouched.get("text")

    untrained = UnknownWordsFallback.load({}, LocalModelStorage(storage_dir / "none"), Resource("x"), None)  # type: ignore[arg-type]
    message = classified("sdfkj qwpeo")
    untrained.process([message])
    assert message.get("intent")["name"] == "order_status"  # no vocabulary is no evidence


if __name__ == "__main__":
    typos_count_as_known_and_mash_does_not()
    with tempfile.TemporaryDirectory() as directory:
        trained_it_turns_mash_into_nlu_fallback_and_leaves_the_rest(Path(directory))
    print("ok")
